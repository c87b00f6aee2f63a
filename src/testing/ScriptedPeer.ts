/**
 * A scripted loopback peer for protocol-client tests: a real `node:net` (or `node:tls`) server
 * on a free port that plays a fixed script of steps (expect these bytes, send those, wait,
 * half-close, reset, stop reading, ...) on every connection it accepts, and records what each
 * connection received. Everything it opens is closed with its `Scope`.
 *
 * Node-only.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tls from "node:tls"

// -----------------------------------------------------------------------------
// steps
// -----------------------------------------------------------------------------

/**
 * One step of a script (build steps with the constructors below):
 *
 * - `Expect`: read exactly these next bytes; a difference fails the script.
 * - `ExpectLength`: read the next `length` bytes, whatever they are.
 * - `Send`: write bytes and wait until Node handed them to the kernel.
 * - `Delay`: wait on a real timer (also inside tests that use `TestClock`).
 * - `HalfClose`: send FIN (`socket.end()`) and keep reading.
 * - `Close`: send FIN after the pending writes, then destroy the socket.
 * - `Reset`: abort with a TCP RST (a plain destroy on unix sockets, which have no RST).
 * - `StopReading`: pause the socket and never read again.
 * - `AwaitEnd`: read until the client's FIN.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const step: ScriptedPeer.Step = ScriptedPeer.send("+OK\r\n")
 * console.log(step._tag) // "Send"
 * ```
 */
export type Step =
  | { readonly _tag: "Expect"; readonly bytes: Uint8Array }
  | { readonly _tag: "ExpectLength"; readonly length: number }
  | { readonly _tag: "Send"; readonly bytes: Uint8Array }
  | { readonly _tag: "Delay"; readonly millis: number }
  | { readonly _tag: "HalfClose" }
  | { readonly _tag: "Close" }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "StopReading" }
  | { readonly _tag: "AwaitEnd" }

/**
 * A script: steps, run in order on a connection. Nested arrays (as returned by
 * {@link sendChunks}) are flattened.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const script: ScriptedPeer.Script = [
 *   ScriptedPeer.expect("QUIT\r\n"),
 *   ScriptedPeer.sendChunks(["+O", "K\r\n"], 10),
 *   ScriptedPeer.close
 * ]
 * ```
 */
export type Script = ReadonlyArray<Step | ReadonlyArray<Step>>

const encoder = new TextEncoder()

const toBytes = (bytes: string | Uint8Array): Uint8Array => typeof bytes === "string" ? encoder.encode(bytes) : bytes

const checkCount = (name: string, value: number): number => {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`ScriptedPeer.${name}: expected a non-negative integer, got ${value}`)
  }
  return value
}

/**
 * Read exactly these next bytes (strings are UTF-8). A mismatch fails the script with a
 * {@link ScriptError} naming the expected and received bytes, and destroys the connection.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const script = [ScriptedPeer.expect("PING\r\n"), ScriptedPeer.send("+PONG\r\n")]
 * ```
 */
export const expect = (bytes: string | Uint8Array): Step => ({ _tag: "Expect", bytes: toBytes(bytes) })

/**
 * Read the next `length` bytes, whatever they are.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const script = [ScriptedPeer.expectLength(4), ScriptedPeer.send("ok")]
 * ```
 */
export const expectLength = (length: number): Step => ({
  _tag: "ExpectLength",
  length: checkCount("expectLength", length)
})

/**
 * Write bytes: strings are UTF-8, binary (latin1) data goes in a `Uint8Array`.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const script = [ScriptedPeer.send("hello\r\n"), ScriptedPeer.send(new Uint8Array([0xff, 0x00]))]
 * ```
 */
export const send = (bytes: string | Uint8Array): Step => ({ _tag: "Send", bytes: toBytes(bytes) })

/**
 * Wait `millis` milliseconds (a real timer, cleared when the scope closes).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const script = [ScriptedPeer.delay(100), ScriptedPeer.send("late")]
 * ```
 */
export const delay = (millis: number): Step => ({ _tag: "Delay", millis: checkCount("delay", millis) })

/**
 * Send each chunk with `delayMillis` between them (one write per chunk).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const script = [ScriptedPeer.sendChunks(["hel", "lo\r", "\n"], 20)]
 * ```
 */
export const sendChunks = (chunks: ReadonlyArray<string | Uint8Array>, delayMillis: number): ReadonlyArray<Step> => {
  const steps: Array<Step> = []
  chunks.forEach((chunk, i) => {
    if (i > 0) {
      steps.push(delay(delayMillis))
    }
    steps.push(send(chunk))
  })
  return steps
}

/**
 * Send FIN (`socket.end()`) and keep reading: the client sees EOF but may still write.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const script = [ScriptedPeer.send("bye"), ScriptedPeer.halfClose, ScriptedPeer.expect("ack")]
 * ```
 */
export const halfClose: Step = { _tag: "HalfClose" }

/**
 * Send FIN once the pending writes are flushed, then destroy the socket.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const script = [ScriptedPeer.send("-ERR shutting down\r\n"), ScriptedPeer.close]
 * ```
 */
export const close: Step = { _tag: "Close" }

/**
 * Abort the connection with a TCP RST: the client sees `ECONNRESET`.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const script = [ScriptedPeer.expect("GET"), ScriptedPeer.reset]
 * ```
 */
export const reset: Step = { _tag: "Reset" }

/**
 * Pause the socket and never read again: a write-stalled peer.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const script = [ScriptedPeer.stopReading]
 * ```
 */
export const stopReading: Step = { _tag: "StopReading" }

/**
 * Read until the client's FIN; the bytes count as received.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const script = [ScriptedPeer.awaitEnd, ScriptedPeer.send("done"), ScriptedPeer.close]
 * ```
 */
export const awaitEnd: Step = { _tag: "AwaitEnd" }

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Why a connection's script failed: an `expect` step got other bytes (`Mismatch`), the client
 * closed before a read step was satisfied (`ClientClosed`), the socket failed (`SocketError`),
 * or the TLS handshake failed (`TlsError`).
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const reason: ScriptedPeer.ScriptErrorReason = "Mismatch"
 * ```
 */
export type ScriptErrorReason = "Mismatch" | "ClientClosed" | "SocketError" | "TlsError"

/**
 * A connection's script failed (see {@link ScriptErrorReason}). `step` is the index in the
 * flattened script; `expected` and `got` are escaped text (see {@link escape}).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const error = new ScriptedPeer.ScriptError({ connection: 0, step: 0, reason: "Mismatch", expected: "a", got: "b" })
 * console.log(error.message)
 * ```
 */
export class ScriptError extends Data.TaggedError("ScriptError")<{
  readonly connection: number
  readonly step: number
  readonly reason: ScriptErrorReason
  readonly expected?: string | undefined
  readonly got?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const where = `connection ${this.connection}, step ${this.step}`
    switch (this.reason) {
      case "Mismatch":
        return `${where}: expected "${this.expected}", got "${this.got}"`
      case "ClientClosed":
        return `${where}: the client closed early` +
          (this.expected === undefined ? "" : ` (expected "${this.expected}", got "${this.got ?? ""}")`)
      case "SocketError":
        return `${where}: socket error: ${errorText(this.cause)}`
      case "TlsError":
        return `${where}: TLS handshake failed: ${errorText(this.cause)}`
    }
  }
}

const errorText = (cause: unknown): string =>
  cause instanceof Error ? `${(cause as NodeJS.ErrnoException).code ?? cause.name}: ${cause.message}` : String(cause)

/**
 * Bytes as readable text: printable ASCII as is, `\r`, `\n`, `\t`, `\\`, `\"` escaped and other
 * bytes as `\xNN`.
 *
 * @since 0.1.0
 * @category utils
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * console.log(ScriptedPeer.escape(new TextEncoder().encode("ok\r\n"))) // ok\r\n
 * ```
 */
export const escape = (bytes: Uint8Array): string => {
  let out = ""
  for (const byte of bytes) {
    switch (byte) {
      case 0x0d:
        out += "\\r"
        break
      case 0x0a:
        out += "\\n"
        break
      case 0x09:
        out += "\\t"
        break
      case 0x5c:
        out += "\\\\"
        break
      case 0x22:
        out += "\\\""
        break
      default:
        out += byte >= 0x20 && byte < 0x7f
          ? String.fromCharCode(byte)
          : `\\x${byte.toString(16).padStart(2, "0")}`
    }
  }
  return out
}

// -----------------------------------------------------------------------------
// the peer
// -----------------------------------------------------------------------------

/**
 * A running scripted peer. Connection indexes count accepted TCP (or unix) connections from 0,
 * in accept order. The per-connection accessors wait until that connection was accepted.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const check = (peer: ScriptedPeer.ScriptedPeer) =>
 *   Effect.gen(function*() {
 *     yield* peer.done(0)
 *     const bytes = yield* peer.received(0)
 *     console.log(new TextDecoder().decode(bytes), yield* peer.open)
 *   })
 * ```
 */
export interface ScriptedPeer {
  /** `"127.0.0.1"` or `"::1"`; for unix sockets `"unix:" + path` (OpenResty's address form). */
  readonly host: string
  /** The listening port (0 for unix sockets). */
  readonly port: number
  /** The unix socket path, if listening on one. */
  readonly path: string | undefined
  /** Connections accepted so far. */
  readonly accepted: Effect.Effect<number>
  /** Connections currently open on the server side. */
  readonly open: Effect.Effect<number>
  /** All bytes received so far on a connection (after TLS decryption). */
  readonly received: (index: number) => Effect.Effect<Uint8Array>
  /** Waits until the connection's script finished; fails if it failed. */
  readonly done: (index: number) => Effect.Effect<void, ScriptError>
  /** The client's address as seen by the server (`""` for unix sockets). */
  readonly remoteAddress: (index: number) => Effect.Effect<string>
  /** The client's port as seen by the server (0 for unix sockets). */
  readonly remotePort: (index: number) => Effect.Effect<number>
}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import * as Fs from "node:fs"
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const options: ScriptedPeer.Options = {
 *   tls: { key: Fs.readFileSync("server.key"), cert: Fs.readFileSync("server.crt") },
 *   script: (index) => index === 0 ? [ScriptedPeer.reset] : [ScriptedPeer.send("+OK\r\n")]
 * }
 * ```
 */
export interface Options {
  /**
   * The steps every accepted connection runs, or a function choosing them by connection index.
   * When the script ends without closing, the connection stays open until the scope closes.
   * Default: no steps (accept, read and hold the connection open).
   */
  readonly script?: Script | ((connectionIndex: number) => Script) | undefined
  /** The address to listen on: `"127.0.0.1"` (default) or `"::1"`. */
  readonly host?: string | undefined
  /** Listen on a fresh unix socket under `os.tmpdir()` instead (removed when the scope closes). */
  readonly unix?: boolean | undefined
  /**
   * Serve TLS with these `node:tls` server options (certificate, key, `requestCert`, ...). The
   * script starts once the handshake completed; a failed handshake fails `done` with `TlsError`.
   */
  readonly tls?: Tls.TlsOptions | undefined
}

class Connection {
  buffer = new Uint8Array(1024)
  length = 0
  cursor = 0
  ended = false
  closed = false
  failure: Error | undefined = undefined
  socket: Net.Socket | undefined = undefined
  readonly listeners = new Set<() => void>()
  readonly done = Deferred.makeUnsafe<void, ScriptError>()
  readonly whenClosed: Promise<void>
  readonly remoteAddress: string
  readonly remotePort: number

  constructor(readonly index: number, readonly raw: Net.Socket) {
    this.remoteAddress = raw.remoteAddress ?? ""
    this.remotePort = raw.remotePort ?? 0
    this.whenClosed = new Promise((resolve) => raw.once("close", () => resolve()))
  }

  append(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.buffer.length) {
      let capacity = this.buffer.length * 2
      while (capacity < this.length + chunk.length) {
        capacity *= 2
      }
      const next = new Uint8Array(capacity)
      next.set(this.buffer.subarray(0, this.length))
      this.buffer = next
    }
    this.buffer.set(chunk, this.length)
    this.length += chunk.length
    this.notify()
  }

  notify(): void {
    for (const listener of Array.from(this.listeners)) {
      listener()
    }
  }

  attach(socket: Net.Socket): void {
    this.socket = socket
    socket.on("data", (chunk: Uint8Array) => this.append(chunk))
    socket.on("end", () => {
      this.ended = true
      this.notify()
    })
    socket.on("error", (error) => {
      this.failure ??= error
      this.notify()
    })
    socket.on("close", () => {
      this.closed = true
      this.notify()
    })
  }

  destroy(): void {
    this.socket?.destroy()
    this.raw.destroy()
  }
}

type Poll = Effect.Effect<void, ScriptError> | undefined

/** Waits until `poll` gives an outcome, re-polling whenever the connection changes. */
const waitFor = (connection: Connection, poll: () => Poll): Effect.Effect<void, ScriptError> =>
  Effect.suspend(() => {
    const now = poll()
    if (now !== undefined) {
      return now
    }
    return Effect.flatten(Effect.callback<Effect.Effect<void, ScriptError>>((resume) => {
      const listener = () => {
        const outcome = poll()
        if (outcome !== undefined) {
          connection.listeners.delete(listener)
          resume(Effect.succeed(outcome))
        }
      }
      connection.listeners.add(listener)
      return Effect.sync(() => {
        connection.listeners.delete(listener)
      })
    }))
  })

const closedError = (connection: Connection, step: number, expected?: Uint8Array): ScriptError => {
  const got = connection.buffer.subarray(connection.cursor, connection.length)
  return new ScriptError({
    connection: connection.index,
    step,
    reason: connection.failure === undefined ? "ClientClosed" : "SocketError",
    cause: connection.failure,
    expected: expected === undefined ? undefined : escape(expected),
    got: expected === undefined ? undefined : escape(got)
  })
}

const isGone = (connection: Connection): boolean =>
  connection.ended || connection.closed || connection.failure !== undefined

const socketAsync = (
  connection: Connection,
  step: number,
  register: (socket: Net.Socket, callback: (error?: Error | null) => void) => void
): Effect.Effect<void, ScriptError> =>
  Effect.callback<void, ScriptError>((resume) => {
    register(connection.socket!, (error) => {
      if (error) {
        resume(
          Effect.fail(new ScriptError({ connection: connection.index, step, reason: "SocketError", cause: error }))
        )
      } else {
        resume(Effect.void)
      }
    })
  })

const runStep = (connection: Connection, index: number, step: Step): Effect.Effect<void, ScriptError> => {
  switch (step._tag) {
    case "Expect": {
      const expected = step.bytes
      return waitFor(connection, () => {
        const available = Math.min(connection.length - connection.cursor, expected.length)
        for (let i = 0; i < available; i++) {
          if (connection.buffer[connection.cursor + i] !== expected[i]) {
            return Effect.fail(
              new ScriptError({
                connection: connection.index,
                step: index,
                reason: "Mismatch",
                expected: escape(expected),
                got: escape(connection.buffer.subarray(connection.cursor, connection.cursor + available))
              })
            )
          }
        }
        if (available === expected.length) {
          connection.cursor += available
          return Effect.void
        }
        return isGone(connection) ? Effect.fail(closedError(connection, index, expected)) : undefined
      })
    }
    case "ExpectLength": {
      return waitFor(connection, () => {
        if (connection.length - connection.cursor >= step.length) {
          connection.cursor += step.length
          return Effect.void
        }
        return isGone(connection) ? Effect.fail(closedError(connection, index)) : undefined
      })
    }
    case "AwaitEnd": {
      return waitFor(connection, () => {
        if (connection.ended) {
          connection.cursor = connection.length
          return Effect.void
        }
        return isGone(connection) ? Effect.fail(closedError(connection, index)) : undefined
      })
    }
    case "Send": {
      return socketAsync(connection, index, (socket, callback) => {
        socket.write(step.bytes, callback)
      })
    }
    case "Delay": {
      return Effect.callback<void>((resume) => {
        const timer = setTimeout(() => resume(Effect.void), step.millis)
        return Effect.sync(() => clearTimeout(timer))
      })
    }
    case "HalfClose": {
      return Effect.sync(() => {
        connection.socket!.end()
      })
    }
    case "Close": {
      return Effect.suspend(() => {
        const socket = connection.socket!
        if (!socket.destroyed) {
          if (socket.writableFinished || !socket.writable) {
            socket.destroy()
          } else {
            socket.once("finish", () => socket.destroy())
            socket.end()
          }
        }
        return Effect.promise(() => connection.whenClosed)
      })
    }
    case "Reset": {
      return Effect.suspend(() => {
        const socket = connection.socket!
        try {
          connection.raw.resetAndDestroy()
        } catch {
          // unix sockets have no RST: a plain destroy
          connection.raw.destroy()
        }
        if (socket !== connection.raw) {
          socket.destroy()
        }
        return Effect.promise(() => connection.whenClosed)
      })
    }
    case "StopReading": {
      return Effect.sync(() => {
        connection.socket!.pause()
      })
    }
  }
}

const flatten = (script: Script): ReadonlyArray<Step> =>
  script.flatMap((step): ReadonlyArray<Step> => Array.isArray(step) ? step : [step as Step])

let unixCounter = 0

const freshUnixPath = (): string =>
  Path.join(
    Os.tmpdir(),
    `effect-cosocket-${process.pid}-${++unixCounter}-${Math.random().toString(36).slice(2, 8)}.sock`
  )

/**
 * Starts a scripted peer on a free loopback port (or a fresh unix socket), optionally serving TLS.
 * Closing the scope closes the server, destroys every connection and clears every timer.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Net from "node:net"
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const program = Effect.gen(function*() {
 *   const peer = yield* ScriptedPeer.make({
 *     script: [ScriptedPeer.expect("PING\r\n"), ScriptedPeer.send("+PONG\r\n"), ScriptedPeer.close]
 *   })
 *   const client = Net.connect({ host: peer.host, port: peer.port })
 *   client.on("error", () => {})
 *   client.write("PING\r\n")
 *   yield* peer.done(0)
 *   client.destroy()
 * }).pipe(Effect.scoped)
 * ```
 */
export const make = (options: Options = {}): Effect.Effect<ScriptedPeer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scriptFor = (index: number): ReadonlyArray<Step> => {
      const script = options.script ?? []
      return flatten(typeof script === "function" ? script(index) : script)
    }
    const connections: Array<Connection> = []
    const slots = new Map<number, Deferred.Deferred<Connection>>()
    const slot = (index: number): Deferred.Deferred<Connection> => {
      let deferred = slots.get(index)
      if (deferred === undefined) {
        deferred = Deferred.makeUnsafe<Connection>()
        slots.set(index, deferred)
      }
      return deferred
    }
    let open = 0
    let closing = false
    const path = options.unix ? freshUnixPath() : undefined
    const tlsOptions = options.tls
    const server: Net.Server = tlsOptions === undefined
      ? Net.createServer({ allowHalfOpen: true })
      // TLS sockets become half-open once secure (see "secureConnection"): a half-open socket in
      // mid-handshake would never notice that the client gave up (e.g. rejected the certificate)
      : Tls.createServer({ ...tlsOptions, allowHalfOpen: false })

    // finalizers run in reverse order: first the script fibers are interrupted (clearing their
    // timers), then the sockets are destroyed and the server closed
    yield* Effect.addFinalizer(() =>
      Effect.callback<void>((resume) => {
        closing = true
        for (const connection of connections) {
          connection.destroy()
        }
        const pending = connections.map((connection) => connection.whenClosed)
        server.close(() => {
          void Promise.all(pending).then(() => {
            if (path !== undefined) {
              Fs.rmSync(path, { force: true })
            }
            resume(Effect.void)
          })
        })
      })
    )
    const fibers = yield* FiberSet.make<void, never>()
    const run = yield* FiberSet.runtime(fibers)<never>()

    const startScript = (connection: Connection, socket: Net.Socket) => {
      connection.attach(socket)
      run(
        Effect.suspend(() => {
          const steps = scriptFor(connection.index)
          return Effect.forEach(steps, (step, i) => runStep(connection, i, step), { discard: true })
        }).pipe(
          Effect.tapError(() => Effect.sync(() => connection.destroy())),
          Effect.exit,
          Effect.flatMap((exit) => Deferred.done(connection.done, exit))
        )
      )
    }

    const byRaw = new WeakMap<Net.Socket, Connection>()
    const findTls = (socket: Tls.TLSSocket): Connection | undefined => {
      // node:tls keeps the wrapped TCP socket in `_parent`; fall back to the remote endpoint
      const parent = (socket as unknown as { _parent?: unknown })._parent
      const found = parent instanceof Net.Socket ? byRaw.get(parent) : undefined
      return found ?? connections.find((connection) =>
        connection.socket === undefined && connection.remotePort === socket.remotePort &&
        connection.remoteAddress === socket.remoteAddress
      )
    }

    server.on("connection", (raw: Net.Socket) => {
      raw.on("error", () => {})
      if (closing) {
        raw.destroy()
        return
      }
      const connection = new Connection(connections.length, raw)
      connections.push(connection)
      byRaw.set(raw, connection)
      open++
      raw.once("close", () => {
        open--
        connection.closed = true
        connection.notify()
      })
      Deferred.doneUnsafe(slot(connection.index), Effect.succeed(connection))
      if (tlsOptions === undefined) {
        startScript(connection, raw)
      }
    })
    if (tlsOptions !== undefined) {
      server.on("secureConnection", (socket: Tls.TLSSocket) => {
        socket.on("error", () => {})
        // half-open only once secure: a client that closes mid-handshake must end the socket
        socket.allowHalfOpen = true
        const connection = findTls(socket)
        if (connection === undefined || closing) {
          socket.destroy()
          return
        }
        startScript(connection, socket)
      })
      server.on("tlsClientError", (error: Error, socket: Tls.TLSSocket) => {
        const connection = findTls(socket)
        if (connection !== undefined) {
          connection.failure ??= error
          Deferred.doneUnsafe(
            connection.done,
            Effect.fail(new ScriptError({ connection: connection.index, step: 0, reason: "TlsError", cause: error }))
          )
        }
      })
    }

    yield* Effect.callback<void>((resume) => {
      const onError = (error: Error) => resume(Effect.die(error))
      server.once("error", onError)
      const listening = () => {
        server.off("error", onError)
        server.on("error", () => {})
        resume(Effect.void)
      }
      if (path !== undefined) {
        server.listen({ path }, listening)
      } else {
        server.listen({ host: options.host ?? "127.0.0.1", port: 0 }, listening)
      }
    })

    const address = server.address()
    const host = path !== undefined
      ? `unix:${path}`
      : typeof address === "object" && address !== null
      ? address.address
      : options.host ?? "127.0.0.1"
    const port = typeof address === "object" && address !== null ? address.port : 0
    const connection = (index: number) => Deferred.await(slot(index))

    return {
      host,
      port,
      path,
      accepted: Effect.sync(() => connections.length),
      open: Effect.sync(() => open),
      received: (index) => Effect.map(connection(index), (c) => c.buffer.slice(0, c.length)),
      done: (index) => Effect.flatMap(connection(index), (c) => Deferred.await(c.done)),
      remoteAddress: (index) => Effect.map(connection(index), (c) => c.remoteAddress),
      remotePort: (index) => Effect.map(connection(index), (c) => c.remotePort)
    } satisfies ScriptedPeer
  })

// -----------------------------------------------------------------------------
// blackhole
// -----------------------------------------------------------------------------

// A child process that listens with a backlog of 1 and then blocks its event loop (it never
// accepts), checking every 200 ms whether its parent is gone so that it cannot outlive it.
const blackholeChild = `
const net = require("node:net")
const server = net.createServer()
server.listen({ host: "127.0.0.1", port: 0, backlog: 1 }, () => {
  process.stdout.write(server.address().port + "\\n", () => {
    const parent = process.ppid
    const cell = new Int32Array(new SharedArrayBuffer(4))
    for (;;) {
      Atomics.wait(cell, 0, 0, 200)
      if (process.ppid !== parent) process.exit(0)
    }
  })
})
`

const probe = (port: number, millis: number): Effect.Effect<Net.Socket | undefined> =>
  Effect.callback<Net.Socket | undefined>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.on("error", () => {})
    let settled = false
    const settle = (outcome: Effect.Effect<Net.Socket | undefined>) => {
      if (!settled) {
        settled = true
        clearTimeout(timer)
        resume(outcome)
      }
    }
    // decide after the next poll phase: a blocked event loop runs due timers before it polls I/O,
    // so a connect the kernel already completed must get its chance to be seen first
    const timer = setTimeout(() =>
      setImmediate(() => {
        if (!settled) {
          settle(Effect.succeed(undefined))
          socket.destroy()
        }
      }), millis)
    socket.once("connect", () => settle(Effect.succeed(socket)))
    socket.once("close", () => settle(Effect.die(new Error("ScriptedPeer.blackhole: a probe connection was refused"))))
    return Effect.sync(() => {
      settled = true
      clearTimeout(timer)
      socket.destroy()
    })
  })

/**
 * An address on 127.0.0.1 where connection attempts hang (their SYNs are dropped), for testing
 * connect timeouts on real loopback sockets. A child process listens with a backlog of 1 and never
 * accepts; its accept queue is filled with held connections until a further connect does not
 * complete within 200 ms. Closing the scope kills the child and closes the held connections
 * (pending connects then fail with `ECONNREFUSED`).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as Net from "node:net"
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const program = Effect.gen(function*() {
 *   const { host, port } = yield* ScriptedPeer.blackhole
 *   const socket = Net.connect({ host, port }) // never emits "connect"
 *   socket.on("error", () => {})
 *   yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
 * }).pipe(Effect.scoped)
 * ```
 */
export const blackhole: Effect.Effect<{ readonly host: string; readonly port: number }, never, Scope.Scope> = Effect
  .gen(function*() {
    const env = { ...process.env }
    delete env.NODE_OPTIONS
    const child = ChildProcess.spawn(process.execPath, ["-e", blackholeChild], {
      stdio: ["ignore", "pipe", "pipe"],
      env
    })
    const exited = new Promise<void>((resolve) => child.once("close", () => resolve()))
    child.on("error", () => {})
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => {
        child.kill("SIGKILL")
        return exited
      })
    )
    const fillers: Array<Net.Socket> = []
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const socket of fillers) {
          socket.destroy()
        }
      })
    )

    // a real timer: the caller may run under TestClock
    const port = yield* Effect.callback<number>((resume) => {
      let out = ""
      let err = ""
      const timer = setTimeout(() => {
        resume(Effect.die(new Error(`ScriptedPeer.blackhole: the child did not start: ${err}`)))
      }, 10_000)
      child.stderr!.on("data", (chunk: Buffer) => {
        err += chunk.toString()
      })
      child.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString()
        const newline = out.indexOf("\n")
        if (newline >= 0) {
          clearTimeout(timer)
          resume(Effect.succeed(Number(out.slice(0, newline))))
        }
      })
      child.once("close", (code) => {
        clearTimeout(timer)
        resume(Effect.die(new Error(`ScriptedPeer.blackhole: the child exited (${code}): ${err}`)))
      })
      return Effect.sync(() => clearTimeout(timer))
    })

    for (let attempt = 0; attempt < 32; attempt++) {
      const socket = yield* probe(port, 200)
      if (socket === undefined) {
        return { host: "127.0.0.1", port }
      }
      fillers.push(socket)
    }
    return yield* Effect.die(new Error("ScriptedPeer.blackhole: connects still complete after 32 held connections"))
  })
