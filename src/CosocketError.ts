/**
 * Every failure a cosocket operation can report, one tagged class per cause.
 *
 * `message` is OpenResty's exact error string (`"closed"`, `"timeout"`, `"socket busy reading"`,
 * ...), so code ported from Lua and conformance tests can compare it. Every error also answers
 * the two questions callers ask: can the connection still be reused ({@link disposition}), and
 * was my request sent ({@link delivery}).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"

/**
 * What an error means for the connection it happened on:
 *
 * - `"reusable"`: nothing changed; the connection may still be used and pooled.
 * - `"dirty"`: the connection is still open and usable by its holder, but its protocol state is
 *   unknown (a read timed out or was interrupted mid-reply), so it is never pooled.
 * - `"dead"`: the connection (or the half the operation used) is closed.
 *
 * @since 0.1.0
 * @category models
 */
export type Disposition = "reusable" | "dirty" | "dead"

/**
 * How much of a `send` reached the operating system before a send-side error:
 * `"notSent"` (nothing: safe to retry elsewhere), `"partial"` (some or an unknown amount) or
 * `"sent"` (everything).
 *
 * @since 0.1.0
 * @category models
 */
export type Delivery = "notSent" | "partial" | "sent"

/**
 * The operation an error came from.
 *
 * @since 0.1.0
 * @category models
 */
export type Operation =
  | "connect"
  | "bind"
  | "send"
  | "receive"
  | "receiveAny"
  | "receiveUntil"
  | "close"
  | "shutdown"
  | "setKeepalive"
  | "getReusedTimes"
  | "setOption"
  | "getOption"
  | "localAddressInfo"
  | "remoteAddressInfo"
  | "setTimeout"
  | "handshake"
  | "pool"
  | "setPeername"

/**
 * The operation, or its half, is closed: the socket was never connected, was closed or put
 * into the pool, the peer sent EOF before a read was satisfied, or an earlier error closed that
 * half. On reads that hit EOF, `partial` holds the bytes received (and consumed) before it; it is
 * absent when the state check failed before reading.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * const error = new CosocketError.SocketClosed({ operation: "receive" })
 * console.log(error.message) // "closed"
 * ```
 */
export class SocketClosed extends Data.TaggedError("SocketClosed")<{
  readonly operation: Operation
  readonly partial?: Uint8Array | undefined
}> {
  override get message(): string {
    return "closed"
  }
}

/**
 * A read waited longer than the read timeout without progress. Recoverable: the connection
 * stays open and the next read continues with the following bytes. `partial` holds the bytes
 * received so far, which are consumed. The connection is marked dirty (never pooled).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * const error = new CosocketError.SocketReadTimeout({ operation: "receive", partial: new Uint8Array() })
 * console.log(error.message, CosocketError.disposition(error)) // "timeout" "dirty"
 * ```
 */
export class SocketReadTimeout extends Data.TaggedError("SocketReadTimeout")<{
  readonly operation: "receive" | "receiveAny" | "receiveUntil"
  readonly partial: Uint8Array
}> {
  override get message(): string {
    return "timeout"
  }
}

/**
 * A connect, send, TLS handshake or wait for a pooled connection took longer than its timeout.
 * Fatal: a connect or handshake timeout closes the connection, a send timeout closes the write
 * half; a pool wait opened nothing.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * const error = new CosocketError.SocketTimeout({ operation: "connect" })
 * console.log(error.message) // "timeout"
 * ```
 */
export class SocketTimeout extends Data.TaggedError("SocketTimeout")<{
  readonly operation: "connect" | "send" | "handshake" | "pool"
  readonly delivery?: Delivery | undefined
}> {
  override get message(): string {
    return "timeout"
  }
}

/**
 * Another fiber is reading this socket. Nothing was consumed and nothing changed.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * console.log(new CosocketError.SocketBusyReading({ operation: "receive" }).message) // "socket busy reading"
 * ```
 */
export class SocketBusyReading extends Data.TaggedError("SocketBusyReading")<{
  readonly operation: Operation
}> {
  override get message(): string {
    return "socket busy reading"
  }
}

/**
 * Another fiber is writing to this socket. Nothing was sent and nothing changed.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * console.log(new CosocketError.SocketBusyWriting({ operation: "send" }).message) // "socket busy writing"
 * ```
 */
export class SocketBusyWriting extends Data.TaggedError("SocketBusyWriting")<{
  readonly operation: Operation
}> {
  override get message(): string {
    return "socket busy writing"
  }
}

/**
 * Another fiber is connecting this socket (including name resolution and the TLS handshake).
 * Nothing changed.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * console.log(new CosocketError.SocketBusyConnecting({ operation: "send" }).message) // "socket busy connecting"
 * ```
 */
export class SocketBusyConnecting extends Data.TaggedError("SocketBusyConnecting")<{
  readonly operation: Operation
}> {
  override get message(): string {
    return "socket busy connecting"
  }
}

/**
 * The UDP socket is in use by another fiber (UDP has one busy flag, as in OpenResty: it is not
 * full duplex).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * console.log(new CosocketError.SocketBusy({ operation: "send" }).message) // "socket busy"
 * ```
 */
export class SocketBusy extends Data.TaggedError("SocketBusy")<{
  readonly operation: Operation
}> {
  override get message(): string {
    return "socket busy"
  }
}

/**
 * The connection could not be established: `reason` is the lower-cased system error text
 * (`"connection refused"`, `"no such file or directory"`, `"cannot assign requested address"`)
 * or the resolver's message (`"nosuch.test could not be resolved (3: Host not found)"`);
 * `code` is the platform's error code (`"ECONNREFUSED"`, `"ENOTFOUND"`, ...).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * const error = new CosocketError.ConnectError({ code: "ECONNREFUSED", reason: "connection refused", address: "127.0.0.1:1" })
 * console.log(error.message) // "connection refused"
 * ```
 */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly code: string
  readonly reason: string
  readonly address: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.reason
  }
}

/**
 * A system error while sending or receiving (`"connection reset by peer"`, `"broken pipe"`).
 * Fatal for the half it happened on. On the send side `delivery` says how much was handed to the
 * operating system; on the read side `partial` holds the bytes read before the error.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * const error = new CosocketError.SocketIoError({ operation: "send", code: "EPIPE", reason: "broken pipe", delivery: "partial" })
 * console.log(error.message) // "broken pipe"
 * ```
 */
export class SocketIoError extends Data.TaggedError("SocketIoError")<{
  readonly operation: Operation
  readonly code: string
  readonly reason: string
  readonly delivery?: Delivery | undefined
  readonly partial?: Uint8Array | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.reason
  }
}

/**
 * Why a TLS operation failed:
 *
 * - `"handshake"`: the handshake itself failed (protocol error, peer is not TLS, closed midway).
 * - `"verify"`: certificate verification failed; `message` is OpenSSL's `"<code>: <text>"`,
 *   e.g. `"18: self-signed certificate"`.
 * - `"hostMismatch"`: the certificate is valid but not for the requested server name.
 * - `"setup"`: bad local material (unreadable key, certificate without key, ...); nothing was sent.
 * - `"mismatch"`: the connection is already TLS with a different identity (server name,
 *   verification, CA or client certificate) than the one asked for.
 *
 * @since 0.1.0
 * @category models
 */
export type TlsFailureReason = "handshake" | "verify" | "hostMismatch" | "setup" | "mismatch"

/**
 * A TLS handshake or set-up failure, reported at handshake time with its real cause. A failed
 * handshake closes the connection; a `"setup"` or `"mismatch"` failure changes nothing.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * const error = new CosocketError.TlsError({ reason: "verify", detail: "18: self-signed certificate" })
 * console.log(error.message) // "18: self-signed certificate"
 * ```
 */
export class TlsError extends Data.TaggedError("TlsError")<{
  readonly reason: TlsFailureReason
  readonly detail: string
  readonly code?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * `setKeepalive` found bytes the caller has not read in the socket's own buffer. The connection is
 * closed (one rule for every state failure, unlike OpenResty which leaves it open).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * console.log(new CosocketError.UnreadDataInBuffer({ bytes: 3 }).message) // "unread data in buffer"
 * ```
 */
export class UnreadDataInBuffer extends Data.TaggedError("UnreadDataInBuffer")<{
  readonly bytes: number
}> {
  override get message(): string {
    return "unread data in buffer"
  }
}

/**
 * `setKeepalive` found data or an EOF pending below the socket's buffer (in the platform's
 * stream or the kernel). The connection is closed.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * console.log(new CosocketError.DubiousConnection({ pendingBytes: 1, eof: false }).message) // "connection in dubious state"
 * ```
 */
export class DubiousConnection extends Data.TaggedError("DubiousConnection")<{
  readonly pendingBytes: number
  readonly eof: boolean
}> {
  override get message(): string {
    return "connection in dubious state"
  }
}

/**
 * Why a connection is dirty: a read timed out (`"readTimeout"`), a read was interrupted
 * (`"interrupted"`), a receive limit was exceeded (`"limit"`) or a send failed part-way
 * (`"send"`).
 *
 * @since 0.1.0
 * @category models
 */
export type DirtyReason = "readTimeout" | "interrupted" | "limit" | "send"

/**
 * `setKeepalive` on a connection whose protocol state is unknown (after a read timeout or an
 * interrupted read): a late reply could reach the next user, so the connection is closed instead
 * of pooled. Pass `{ force: true }` to `setKeepalive` when the protocol layer knows it is in sync.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * console.log(new CosocketError.DirtyConnection({ reason: "readTimeout" }).message) // "dirty connection"
 * ```
 */
export class DirtyConnection extends Data.TaggedError("DirtyConnection")<{
  readonly reason: DirtyReason
}> {
  override get message(): string {
    return "dirty connection"
  }
}

/**
 * A connect found its pool full (`poolSize` connections open) and the backlog queue full too.
 * Nothing was opened.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * const error = new CosocketError.PoolBacklogFull({ key: "127.0.0.1:6379", size: 1, backlog: 0 })
 * console.log(error.message) // "too many waiting connect operations"
 * ```
 */
export class PoolBacklogFull extends Data.TaggedError("PoolBacklogFull")<{
  readonly key: string
  readonly size: number
  readonly backlog: number
}> {
  override get message(): string {
    return "too many waiting connect operations"
  }
}

/**
 * The connection pool's layer was shut down: waiting connects fail with this, and nothing new is
 * pooled or opened through it.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * console.log(new CosocketError.PoolClosed({ key: "redis" }).message) // "pool closed"
 * ```
 */
export class PoolClosed extends Data.TaggedError("PoolClosed")<{
  readonly key: string
}> {
  override get message(): string {
    return "pool closed"
  }
}

/**
 * A read would have buffered more than a configured limit (`maxLineLength` for `"*l"`,
 * `maxReceiveSize` for `"*a"` and unsized `receiveUntil`): a protection against peers that
 * exhaust memory. Nothing is consumed; the connection is marked dirty.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * const error = new CosocketError.ReceiveLimitExceeded({ limit: "maxLineLength", max: 1024 })
 * console.log(error.message) // "receive limit exceeded: maxLineLength 1024"
 * ```
 */
export class ReceiveLimitExceeded extends Data.TaggedError("ReceiveLimitExceeded")<{
  readonly limit: "maxLineLength" | "maxReceiveSize"
  readonly max: number
}> {
  override get message(): string {
    return `receive limit exceeded: ${this.limit} ${this.max}`
  }
}

/**
 * A UDP datagram was longer than the size the caller asked to receive. OpenResty truncates
 * silently; we never do: the datagram is consumed and its real `length` reported.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * console.log(new CosocketError.DatagramTooLarge({ size: 8, length: 12 }).message) // "buffer too small"
 * ```
 */
export class DatagramTooLarge extends Data.TaggedError("DatagramTooLarge")<{
  readonly size: number
  readonly length: number
}> {
  override get message(): string {
    return "buffer too small"
  }
}

/**
 * A socket option this platform cannot set or read (Node has no API for `sndbuf`, `rcvbuf`,
 * `reuseaddr`, `keepintvl`, `keepcnt` or `ip-transparent` on client sockets). OpenResty-style
 * silent no-ops are never made: the caller learns the option did not apply.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * console.log(new CosocketError.UnsupportedOption({ option: "sndbuf", platform: "node" }).message)
 * // "option sndbuf is not supported on node"
 * ```
 */
export class UnsupportedOption extends Data.TaggedError("UnsupportedOption")<{
  readonly option: string
  readonly platform: string
}> {
  override get message(): string {
    return `option ${this.option} is not supported on ${this.platform}`
  }
}

/**
 * A value the types could not rule out is invalid (negative size, empty pattern, port outside
 * 0..65535, bad timeout, unsupported option, ...). Checked before any state changes: the socket
 * is exactly as it was. `argument` names the offending parameter or option.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * const error = new CosocketError.InvalidArgument({ argument: "port", detail: "bad port number: 65536" })
 * console.log(error.message) // "bad port number: 65536"
 * ```
 */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{
  readonly argument: string
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * Any cosocket error.
 *
 * @since 0.1.0
 * @category models
 */
export type CosocketError =
  | SocketClosed
  | SocketReadTimeout
  | SocketTimeout
  | SocketBusyReading
  | SocketBusyWriting
  | SocketBusyConnecting
  | SocketBusy
  | ConnectError
  | SocketIoError
  | TlsError
  | UnreadDataInBuffer
  | DubiousConnection
  | DirtyConnection
  | PoolBacklogFull
  | PoolClosed
  | ReceiveLimitExceeded
  | DatagramTooLarge
  | UnsupportedOption
  | InvalidArgument

/**
 * What `connect` can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectFailure =
  | ConnectError
  | SocketClosed
  | SocketTimeout
  | SocketBusyConnecting
  | SocketBusyReading
  | SocketBusyWriting
  | PoolBacklogFull
  | PoolClosed
  | TlsError
  | InvalidArgument

/**
 * What `send` can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type SendError =
  | SocketClosed
  | SocketTimeout
  | SocketIoError
  | SocketBusyWriting
  | SocketBusyConnecting
  | InvalidArgument

/**
 * What the reads (`receive`, `receiveAny`, `receiveUntil` readers) can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type ReceiveError =
  | SocketClosed
  | SocketReadTimeout
  | SocketIoError
  | SocketBusyReading
  | SocketBusyConnecting
  | ReceiveLimitExceeded

/**
 * What `close` can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type CloseError = SocketClosed | SocketBusyReading | SocketBusyWriting | SocketBusyConnecting

/**
 * What `setKeepalive` can fail with. Every failure caused by the connection's state closes it;
 * `InvalidArgument` and the busy errors change nothing.
 *
 * @since 0.1.0
 * @category models
 */
export type KeepaliveError =
  | SocketClosed
  | SocketBusyReading
  | SocketBusyWriting
  | SocketBusyConnecting
  | UnreadDataInBuffer
  | DubiousConnection
  | DirtyConnection
  | InvalidArgument

/**
 * What the TLS handshake can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type HandshakeFailure =
  | TlsError
  | SocketTimeout
  | SocketClosed
  | SocketBusyConnecting
  | SocketBusyReading
  | SocketBusyWriting
  | InvalidArgument

const tags: ReadonlySet<string> = new Set([
  "SocketClosed",
  "SocketReadTimeout",
  "SocketTimeout",
  "SocketBusyReading",
  "SocketBusyWriting",
  "SocketBusyConnecting",
  "SocketBusy",
  "ConnectError",
  "SocketIoError",
  "TlsError",
  "UnreadDataInBuffer",
  "DubiousConnection",
  "DirtyConnection",
  "PoolBacklogFull",
  "PoolClosed",
  "ReceiveLimitExceeded",
  "DatagramTooLarge",
  "UnsupportedOption",
  "InvalidArgument"
])

/**
 * Whether a value is one of this library's errors.
 *
 * @since 0.1.0
 * @category refinements
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * console.log(CosocketError.isCosocketError(new CosocketError.PoolClosed({ key: "k" }))) // true
 * ```
 */
export const isCosocketError = (u: unknown): u is CosocketError =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && tags.has(u._tag)

/**
 * Whether the connection an error happened on can still be reused. See {@link Disposition}.
 *
 * @since 0.1.0
 * @category getters
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * CosocketError.disposition(new CosocketError.SocketBusyReading({ operation: "receive" })) // "reusable"
 * CosocketError.disposition(new CosocketError.SocketReadTimeout({ operation: "receive", partial: new Uint8Array() })) // "dirty"
 * CosocketError.disposition(new CosocketError.SocketClosed({ operation: "receive" })) // "dead"
 * ```
 */
export const disposition = (error: CosocketError): Disposition => {
  switch (error._tag) {
    case "SocketReadTimeout":
    case "ReceiveLimitExceeded":
      return "dirty"
    case "SocketBusyReading":
    case "SocketBusyWriting":
    case "SocketBusyConnecting":
    case "SocketBusy":
    case "InvalidArgument":
    case "PoolBacklogFull":
    case "PoolClosed":
    case "DatagramTooLarge":
    case "UnsupportedOption":
      return "reusable"
    case "TlsError":
      return error.reason === "setup" || error.reason === "mismatch" ? "reusable" : "dead"
    default:
      return "dead"
  }
}

/**
 * Whether the request of a failed `send` reached the operating system: `"notSent"` for every
 * error raised before a byte was handed over (closed, busy, invalid data), the recorded delivery
 * for send-side I/O errors and timeouts, and `"sent"` for errors unrelated to sending.
 *
 * @since 0.1.0
 * @category getters
 * @example
 * ```ts
 * import { CosocketError } from "effect-cosocket"
 *
 * CosocketError.delivery(new CosocketError.SocketClosed({ operation: "send" })) // "notSent"
 * ```
 */
export const delivery = (error: CosocketError): Delivery => {
  switch (error._tag) {
    case "SocketIoError":
    case "SocketTimeout":
      return error.delivery ?? (error.operation === "send" ? "partial" : "notSent")
    case "SocketClosed":
    case "SocketBusyReading":
    case "SocketBusyWriting":
    case "SocketBusyConnecting":
    case "SocketBusy":
    case "InvalidArgument":
    case "ConnectError":
    case "PoolBacklogFull":
    case "PoolClosed":
    case "TlsError":
      return "notSent"
    default:
      return "sent"
  }
}
