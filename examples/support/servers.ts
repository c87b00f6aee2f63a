/**
 * Real protocol servers for the example clients' tests (and the examples' main.ts): `redis-server`
 * and `memcached` child processes on free loopback ports, stopped when the scope closes. A missing
 * binary is a failure with install instructions, never a silent skip.
 *
 * Also an in-memory transport that delivers a reply in a given chunking (one chunk per wake-up),
 * for property tests of the straight-line readers without real sockets.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { ConnectionPool, CosocketConfig, TcpSocket, Transport } from "../../src/index.js"

export const INSTALL_HINT = "install it with `apt-get install redis-server memcached` (Debian/Ubuntu)"

/** The server binary is not on PATH. */
export class MissingBinary extends Data.TaggedError("MissingBinary")<{ readonly binary: string }> {
  override get message(): string {
    return `${this.binary} was not found on PATH: ${INSTALL_HINT}`
  }
}

/** The server did not start (or did not accept connections in time). */
export class ServerStartError extends Data.TaggedError("ServerStartError")<{
  readonly binary: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.binary} did not start: ${this.detail}`
  }
}

export interface RunningServer {
  readonly host: "127.0.0.1"
  readonly port: number
  readonly pid: number
  /** The last few KiB of the process's stdout and stderr. */
  readonly output: () => string
}

/** The absolute path of an executable on PATH, if any. */
export const findBinary = (name: string): string | undefined => {
  for (const dir of (process.env.PATH ?? "").split(Path.delimiter)) {
    if (dir === "") continue
    const candidate = Path.join(dir, name)
    try {
      Fs.accessSync(candidate, Fs.constants.X_OK)
      if (Fs.statSync(candidate).isFile()) return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/** A port that was free a moment ago (the server may still lose a race for it: we retry). */
const freePort: Effect.Effect<number> = Effect.callback<number>((resume) => {
  const server = Net.createServer()
  server.on("error", (error) => resume(Effect.die(error)))
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** One connect attempt: whether something accepts on the port now. */
const accepts = (port: number): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.on("error", () => resume(Effect.succeed(false)))
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    return Effect.sync(() => socket.destroy())
  })

const sleep = (millis: number) =>
  Effect.callback<void>((resume) => {
    // a real timer: callers may run under TestClock
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

/** Starts `binary args(port)` once; `undefined` when it exited before listening (port taken?). */
const startOnce = Effect.fnUntraced(function*(
  binary: string,
  path: string,
  args: (port: number) => ReadonlyArray<string>
): Effect.fn.Return<RunningServer | undefined, ServerStartError, Scope.Scope> {
  const port = yield* freePort
  let output = ""
  const child = ChildProcess.spawn(path, args(port), { stdio: ["ignore", "pipe", "pipe"] })
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-4096)
  }
  child.stdout!.on("data", collect)
  child.stderr!.on("data", collect)
  child.on("error", () => {})
  let exited = false
  const exit = new Promise<void>((resolve) =>
    child.once("close", () => {
      exited = true
      resolve()
    })
  )
  yield* Effect.addFinalizer(() =>
    Effect.promise(async () => {
      if (exited) return
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000)
      await exit
      clearTimeout(timer)
    })
  )
  // Wait (bounded: 10 s) until the server accepts connections.
  for (let attempt = 0; attempt < 200; attempt++) {
    if (exited) {
      if (/in use/i.test(output)) return undefined
      return yield* new ServerStartError({ binary, detail: `exited early: ${output.trim()}` })
    }
    if (yield* accepts(port)) {
      return { host: "127.0.0.1" as const, port, pid: child.pid ?? -1, output: () => output }
    }
    yield* sleep(50)
  }
  return yield* new ServerStartError({ binary, detail: `no connection accepted on port ${port} within 10 s` })
})

/** Starts a server process on a free loopback port; stopped (SIGTERM, then SIGKILL) with the scope. */
export const startServer = Effect.fnUntraced(function*(
  binary: string,
  args: (port: number) => ReadonlyArray<string>
): Effect.fn.Return<RunningServer, MissingBinary | ServerStartError, Scope.Scope> {
  const path = findBinary(binary)
  if (path === undefined) return yield* new MissingBinary({ binary })
  for (let attempt = 0; attempt < 3; attempt++) {
    const server = yield* startOnce(binary, path, args)
    if (server !== undefined) return server
  }
  return yield* new ServerStartError({ binary, detail: "the port was taken three times in a row" })
})

/** `redis-server --port N --save "" --appendonly no`, bound to 127.0.0.1. */
export const redisServer = (
  extraArgs: ReadonlyArray<string> = []
): Effect.Effect<RunningServer, MissingBinary | ServerStartError, Scope.Scope> =>
  startServer("redis-server", (port) => [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    Os.tmpdir(),
    ...extraArgs
  ])

/** `memcached -p N -U 0 -l 127.0.0.1` (plus `-u root` when running as root, which memcached requires). */
export const memcachedServer = (
  extraArgs: ReadonlyArray<string> = []
): Effect.Effect<RunningServer, MissingBinary | ServerStartError, Scope.Scope> =>
  startServer("memcached", (port) => [
    "-p",
    String(port),
    "-U",
    "0",
    "-l",
    "127.0.0.1",
    ...(process.getuid?.() === 0 ? ["-u", "root"] : []),
    ...extraArgs
  ])

// -------------------------------------------------------------------------------------------------
// in-memory chunked peer

/**
 * A connector whose every connection receives `chunks` one at a time (the next chunk becomes
 * readable only after the previous one was taken, on a later macrotask), then EOF when `end`.
 * Writes are accepted and recorded in `written`.
 */
export const chunkedConnector = (
  chunks: ReadonlyArray<Uint8Array>,
  options: { readonly end?: boolean } = {}
): Transport.StreamConnector & { readonly written: Array<Uint8Array> } => {
  const written: Array<Uint8Array> = []
  const connect = () =>
    Effect.sync((): Transport.StreamTransport => {
      let index = 0
      let ready = chunks.length > 0
      let destroyed = false
      let waker: (() => void) | undefined
      let timer: ReturnType<typeof setImmediate> | undefined
      const wake = () => waker?.()
      return {
        read: () => {
          if (!ready || destroyed || index >= chunks.length) return undefined
          const chunk = chunks[index++]
          ready = false
          if (index < chunks.length || options.end === true) {
            timer = setImmediate(() => {
              timer = undefined
              ready = index < chunks.length
              wake()
            })
          }
          return chunk
        },
        isEnded: () => options.end === true && index >= chunks.length && timer === undefined,
        failure: () => undefined,
        pendingBytes: () => 0,
        setWaker: (w) => {
          waker = w
        },
        write: (bytes) => {
          written.push(bytes.slice())
          return true
        },
        shutdown: () => {},
        destroy: () => {
          destroyed = true
          if (timer !== undefined) clearImmediate(timer)
          timer = undefined
        },
        isDestroyed: () => destroyed,
        setNoDelay: () => {},
        setKeepAlive: () => {},
        localAddress: () => ({ address: "127.0.0.1", port: 1 }),
        remoteAddress: () => ({ address: "127.0.0.1", port: 2 })
      }
    })
  return { connect, written }
}

/** The layer for a socket over {@link chunkedConnector}: its connector, a fresh pool and `config`. */
export const chunkedLayer = (
  connector: Transport.StreamConnector,
  config: CosocketConfig.Options = {}
) =>
  Layer.mergeAll(
    Layer.succeed(Transport.TcpConnector, connector),
    ConnectionPool.layer()
  ).pipe(Layer.provideMerge(CosocketConfig.layer(config)), Layer.orDie)

/** Runs `f` on a socket connected to an in-memory peer that delivers `chunks` one by one, then EOF. */
export const overChunks = <A, E>(
  chunks: ReadonlyArray<Uint8Array>,
  f: (socket: TcpSocket.TcpSocket) => Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  Effect.gen(function*() {
    const socket = yield* TcpSocket.make
    yield* Effect.orDie(socket.connect("127.0.0.1", 1))
    return yield* f(socket)
  }).pipe(
    Effect.scoped,
    Effect.provide(chunkedLayer(chunkedConnector(chunks, { end: true }), { readTimeout: "20 seconds" }))
  )

/** `bytes` with one byte replaced (op 0), inserted (op 1) or removed (op 2) at `at` (modulo the length). */
export const mutate = (bytes: Uint8Array, at: number, byte: number, op: number): Uint8Array => {
  const b = Array.from(bytes)
  const i = b.length === 0 ? 0 : at % b.length
  if (op === 0) b[i] = byte
  else if (op === 1) b.splice(i, 0, byte)
  else b.splice(i, 1)
  return Uint8Array.from(b)
}
