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
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Tls from "node:tls"
import * as peerBlackhole from "./internal/blackhole.js"
import * as peerServer from "./internal/peerServer.js"
import { escape as escapeBytes, ScriptError } from "./internal/scriptError.js"
import * as steps from "./internal/steps.js"

// This module is the public API: its types and documentation. The logic is in ./internal/:
// steps.ts builds steps, scriptRunner.ts plays a script on one connection (acceptedConnection.ts
// holds what that connection received), peerServer.ts listens and accepts (listener.ts starts and
// stops it, as for the fault proxy), scriptError.ts reports a failed script and blackhole.ts runs
// the child process behind `blackhole`.

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
export const expect: (bytes: string | Uint8Array) => Step = steps.expect

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
export const expectLength: (length: number) => Step = steps.expectLength

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
export const send: (bytes: string | Uint8Array) => Step = steps.send

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
export const delay: (millis: number) => Step = steps.delay

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
export const sendChunks: (chunks: ReadonlyArray<string | Uint8Array>, delayMillis: number) => ReadonlyArray<Step> =
  steps.sendChunks

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
export const halfClose: Step = steps.halfClose

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
export const close: Step = steps.close

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
export const reset: Step = steps.reset

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
export const stopReading: Step = steps.stopReading

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
export const awaitEnd: Step = steps.awaitEnd

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

// A class is re-exported rather than bound to a typed constant, so `ScriptError` is declared, with
// its documentation, in ./internal/scriptError.ts.
export { ScriptError }

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
export const escape: (bytes: Uint8Array) => string = escapeBytes

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
export const make: (options?: Options) => Effect.Effect<ScriptedPeer, never, Scope.Scope> = peerServer.make

// -----------------------------------------------------------------------------
// blackhole
// -----------------------------------------------------------------------------

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
export const blackhole: Effect.Effect<{ readonly host: string; readonly port: number }, never, Scope.Scope> =
  peerBlackhole.blackhole
