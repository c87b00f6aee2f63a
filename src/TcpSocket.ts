/**
 * `ngx.socket.tcp` for Effect: a TCP or unix-domain stream socket bound to the caller's `Scope`,
 * with pull-based reads so protocol clients are straight-line code.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ConnectionPool from "./ConnectionPool.js"
import { CosocketConfig } from "./CosocketConfig.js"
import type * as CosocketError from "./CosocketError.js"
import * as internal from "./internal/tcp/lifetime.js"
import type { TcpSocketImpl } from "./internal/tcp/socket.js"
import * as tracing from "./internal/tracing.js"
import type * as Tls from "./Tls.js"
import * as Transport from "./Transport.js"

/**
 * What `send` accepts: strings (UTF-8), bytes, numbers (formatted as Lua does: `%d` for int32
 * values, else 14 significant digits), booleans (`"true"` / `"false"`) and nested arrays of those
 * (booleans not inside arrays), concatenated in order.
 *
 * @since 0.1.0
 * @category models
 */
export type Sendable = string | Uint8Array | number | boolean | ReadonlyArray<Sendable>

/**
 * Options of `connect`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** Pool name used instead of the default key (`host:port` or `unix:path`); numbers are stringified. */
  readonly pool?: string | number | undefined
  /** Capacity of the pool key when this connect creates it. */
  readonly poolSize?: number | undefined
  /** Connects that may wait for a free slot when `poolSize` connections are open. */
  readonly backlog?: number | undefined
  /**
   * TLS: a fresh connection is upgraded as part of `connect` (the connect timeout covers both); a
   * pooled one is already TLS. `true` means `{}` (verify against the platform's roots and the host
   * name). The TLS identity is appended to the pool key (` tls=<identity>`).
   */
  readonly tls?: Tls.TlsOptions | true | undefined
}

/**
 * Options of `withConnection`: those of `connect`, plus the socket's timeouts and the idle timeout
 * the connection gets when it goes back into the pool.
 *
 * @since 0.2.0
 * @category models
 */
export interface ConnectionOptions extends ConnectOptions {
  /** Connect, send and read timeouts at once (as `setTimeout`); default from `CosocketConfig`. */
  readonly timeout?: Duration.Input | undefined
  /** How long the connection may stay idle in the pool (as `setKeepalive(idle)`); `0` unlimited. */
  readonly idleTimeout?: Duration.Input | undefined
}

/**
 * Socket options of `setOption` (OpenResty's names). Node can set `"tcp-nodelay"` and
 * `"keepalive"`; the others fail with `UnsupportedOption`.
 *
 * @since 0.1.0
 * @category models
 */
export type SocketOption =
  | "keepalive"
  | "tcp-nodelay"
  | "reuseaddr"
  | "sndbuf"
  | "rcvbuf"
  | "keepintvl"
  | "keepcnt"
  | "ip-transparent"

/**
 * @since 0.1.0
 * @category models
 */
export type ConnectFailure = CosocketError.ConnectFailure
/**
 * @since 0.1.0
 * @category models
 */
export type SendError = CosocketError.SendError
/**
 * @since 0.1.0
 * @category models
 */
export type ReceiveError = CosocketError.ReceiveError
/**
 * @since 0.1.0
 * @category models
 */
export type CloseError = CosocketError.CloseError
/**
 * @since 0.1.0
 * @category models
 */
export type KeepaliveError = CosocketError.KeepaliveError
/**
 * @since 0.1.0
 * @category models
 */
export type HandshakeFailure = CosocketError.HandshakeFailure

/**
 * The reader returned by `receiveUntil`: it finds the pattern with a streaming matcher whose state
 * survives chunk boundaries and interleaving with other reads.
 *
 * @since 0.1.0
 * @category models
 */
export interface UntilReader {
  /**
   * Everything before the next occurrence of the pattern (including it when `inclusive`); the
   * pattern is consumed. At EOF fails with `SocketClosed` whose `partial` holds every remaining
   * byte, a possible pattern prefix included. Right after a `readChunk` that reached the pattern
   * it returns empty bytes: the end marker of that occurrence, as OpenResty's `it()` does.
   */
  readonly read: Effect.Effect<Uint8Array, ReceiveError>
  /**
   * At most `size` bytes of the data before the pattern. The call that reaches the pattern returns
   * what precedes it (possibly empty); the next call returns `None` (the end marker) and the
   * reader then looks for the next occurrence.
   */
  readonly readChunk: (
    size: number
  ) => Effect.Effect<Option.Option<Uint8Array>, ReceiveError | CosocketError.InvalidArgument>
  /**
   * The chunks of `readChunk(size)` up to the end marker, as a Stream. Each pull takes every
   * chunk already buffered at once (one Stream chunk per batch), waiting only when none is.
   */
  readonly stream: (size: number) => Stream.Stream<Uint8Array, ReceiveError | CosocketError.InvalidArgument>
}

/**
 * A cosocket. One reader fiber and one writer fiber may use it at the same time; a second reader
 * (writer, connector) fails at once with `SocketBusyReading` (`SocketBusyWriting`,
 * `SocketBusyConnecting`) and changes nothing.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpSocket {
  /**
   * Connects to `host:port` (IPv4, `[IPv6]`, a host name) or to `unix:/path`, taking an idle
   * pooled connection of the same key first. Connecting again closes the previous connection.
   */
  connect(host: string, port: number, options?: ConnectOptions): Effect.Effect<void, ConnectFailure>
  connect(path: `unix:${string}`, options?: ConnectOptions): Effect.Effect<void, ConnectFailure>
  /** The local IP address the next `connect` binds to. */
  bind(address: string): Effect.Effect<void, CosocketError.InvalidArgument>
  /**
   * Upgrades the connection to TLS (`sslhandshake`), bounded by the connect timeout and
   * interruptible. Returns the session (`Option.none()` with `keepSession: false`). A failed,
   * timed-out or interrupted handshake closes the connection; a `"setup"` failure does not. On a
   * connection that is already TLS (a second call, a pooled connection) it returns at once when
   * the TLS identity is the same, and fails with `TlsError` reason `"mismatch"` otherwise.
   */
  sslHandshake(options?: Tls.TlsOptions): Effect.Effect<Option.Option<Tls.TlsSession>, HandshakeFailure>
  /** Sends everything; succeeds with the byte count once the bytes are handed to the OS. */
  send(data: Sendable): Effect.Effect<number, SendError>
  /** `"*l"` (default): a line, LF consumed, every CR dropped. `"*a"`: everything until EOF. `n`: exactly n bytes. */
  receive(pattern?: "*l" | "*a"): Effect.Effect<Uint8Array, ReceiveError | CosocketError.InvalidArgument>
  receive(size: number): Effect.Effect<Uint8Array, ReceiveError | CosocketError.InvalidArgument>
  /**
   * A batch of `receive(pattern)`: every complete line (`"*l"`, the default) or `size`-byte record
   * already received, at least one, at most `max`; it waits only when none is complete. The batch
   * holds exactly what as many `receive(pattern)` calls would return, in order, with the same
   * limits, timeout and busy rules; an end of stream, a limit or an incomplete unit after the
   * batch is left for the next read. One Effect per batch instead of one per line.
   */
  receiveMany(
    pattern?: "*l" | number,
    max?: number
  ): Effect.Effect<ReadonlyArray<Uint8Array>, ReceiveError | CosocketError.InvalidArgument>
  /** Whatever is buffered or arrives next, at most `max` bytes. */
  receiveAny(max: number): Effect.Effect<Uint8Array, ReceiveError | CosocketError.InvalidArgument>
  /** A reader that reads up to the given pattern (see {@link UntilReader}). */
  receiveUntil(
    pattern: string | Uint8Array,
    options?: { readonly inclusive?: boolean | undefined }
  ): Effect.Effect<UntilReader, CosocketError.InvalidArgument>
  /** Closes the connection; `SocketClosed` when there is none or both halves are already closed. */
  readonly close: Effect.Effect<void, CloseError>
  /**
   * Half-close (`tcpsock:shutdown("send")`): sends FIN after the bytes already handed over, while
   * reads go on. Later sends fail with `SocketClosed`; the connection is never pooled afterwards.
   */
  shutdown(
    direction: "send"
  ): Effect.Effect<
    void,
    | CosocketError.SocketClosed
    | CosocketError.SocketBusyWriting
    | CosocketError.SocketBusyConnecting
    | CosocketError.InvalidArgument
  >
  /** Connect, send and read timeouts at once; `0` means the configured default, infinity none. */
  setTimeout(timeout: Duration.Input): Effect.Effect<void, CosocketError.InvalidArgument>
  setTimeouts(
    connect: Duration.Input,
    send: Duration.Input,
    read: Duration.Input
  ): Effect.Effect<void, CosocketError.InvalidArgument>
  /** Sets a socket option on the current connection. */
  setOption(
    option: SocketOption,
    value: boolean | number
  ): Effect.Effect<void, CosocketError.SocketClosed | CosocketError.InvalidArgument | CosocketError.UnsupportedOption>
  /** Reads back an option set on this connection (`1` or `0`). */
  getOption(
    option: SocketOption
  ): Effect.Effect<number, CosocketError.SocketClosed | CosocketError.InvalidArgument | CosocketError.UnsupportedOption>
  /**
   * Puts the connection into the pool (idle at most `idle`; default from `CosocketConfig`, `0`
   * unlimited). The socket is then closed to its holder. A connection with unread bytes, a pending
   * EOF or data, or a dirty state is closed instead and the reason returned.
   */
  setKeepalive(
    idle?: Duration.Input,
    options?: { readonly force?: boolean | undefined }
  ): Effect.Effect<void, KeepaliveError>
  /** How many times the current connection came out of the pool (0: fresh). */
  readonly getReusedTimes: Effect.Effect<number, CosocketError.SocketClosed>
  /** Local address and port of the current connection. */
  readonly localAddressInfo: Effect.Effect<Transport.AddressInfo, CosocketError.SocketClosed>
  /** Remote address and port of the current connection. */
  readonly remoteAddressInfo: Effect.Effect<Transport.AddressInfo, CosocketError.SocketClosed>
}

/**
 * Creates an unconnected socket (`ngx.socket.tcp()`). When the caller's scope closes, a
 * connection that was neither closed nor put into the pool is closed, and fibers blocked on it
 * wake with `SocketClosed`.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpSocket } from "effect-cosocket"
 * import { NodeCosocket } from "effect-cosocket/node"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const socket = yield* TcpSocket.make
 *   yield* socket.setTimeout("2 seconds")
 *   yield* socket.connect("127.0.0.1", 6379)
 *   yield* socket.send("PING\r\n")
 *   return new TextDecoder().decode(yield* socket.receive()) // "+PONG"
 * })).pipe(Effect.provide(NodeCosocket.layer))
 * ```
 */
export const make: Effect.Effect<
  TcpSocket,
  never,
  Scope.Scope | Transport.TcpConnector | ConnectionPool.ConnectionPool
> = Effect.withFiber((fiber) => {
  const services = servicesOf(fiber)
  const scope = Context.get(fiber.context as Context.Context<Scope.Scope>, Scope.Scope)
  return internal.make(services, scope)
})

/**
 * The services of the fiber's context, read once per context: the requests of one runtime share a
 * context, so a socket per request looks them up once. Keyed weakly by the context. A context made
 * per request (`Effect.scoped`, `provideService`) misses; when its services are the ones last
 * seen (only the `Scope` differs), that record is reused and the context is not remembered: a
 * weak entry per request would cost the garbage collector more than the lookups it saves.
 */
const servicesOf = (fiber: Fiber.Fiber<unknown, unknown>): internal.Services => {
  const context = fiber.context as Context.Context<Transport.TcpConnector | ConnectionPool.ConnectionPool>
  const known = servicesByContext.get(context)
  if (known !== undefined) return known
  const config = Context.get(context, CosocketConfig)
  const connector = Context.get(context, Transport.TcpConnector)
  const pool = Context.get(context, ConnectionPool.ConnectionPool)
  const clock = Context.get(context, Clock.Clock)
  const tracing_ = tracing.fromContext(context, config.traceIo)
  const last = lastServices?.deref()
  if (
    last !== undefined && last.config === config && last.connector === connector && last.pool === pool &&
    last.clock === clock && last.tracing === tracing_
  ) return last
  const services = internal.makeServices(connector, pool, config, clock, tracing_)
  servicesByContext.set(context, services)
  lastServices = new WeakRef(services)
  return services
}

/** Weakly: a runtime disposed of must not stay reachable through it. */
let lastServices: WeakRef<internal.Services> | undefined = undefined

const servicesByContext = new WeakMap<Context.Context<never>, internal.Services>()

/**
 * `make` without a `Scope`: the socket lives while `use` runs. When `use` ends (success, failure
 * or interruption), a connection that was neither closed nor put into the pool is closed. A scope
 * costs more than a request to a nearby server; this is the cheap form of a per-request socket.
 *
 * @since 0.2.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpSocket } from "effect-cosocket"
 *
 * const ping = TcpSocket.withSocket((socket) =>
 *   Effect.gen(function*() {
 *     yield* socket.setTimeout("1 second")
 *     yield* socket.connect("127.0.0.1", 6379)
 *     yield* socket.send("PING\r\n")
 *     const reply = yield* socket.receive()
 *     yield* socket.setKeepalive()
 *     return TcpSocket.text(reply) // "+PONG"
 *   })
 * )
 * ```
 */
export const withSocket = <A, E, R>(
  use: (socket: TcpSocket) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | CosocketError.InvalidArgument, R | Transport.TcpConnector | ConnectionPool.ConnectionPool> =>
  Effect.withFiber((fiber) => {
    return internal.withSocket(servicesOf(fiber), use)
  })

/**
 * One pooled exchange, the usual shape of a protocol client's request: connects (an idle pooled
 * connection of the key first), runs `use`, then puts the connection back into the pool when
 * `use` succeeds, or closes it when `use` fails or is interrupted. A refused check-in (unread
 * data, dirty, a fiber still using the socket) closes the connection and does not fail `use`'s
 * result. Needs no `Scope`. Arguments are validated before connecting (`InvalidArgument`), when
 * the effect first runs: an options getter that throws fails the effect, it never throws from
 * this call; later runs of the same effect reuse that validation.
 *
 * @since 0.2.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpSocket } from "effect-cosocket"
 *
 * const ping = TcpSocket.withConnection("127.0.0.1", 6379, (socket) =>
 *   Effect.gen(function*() {
 *     yield* socket.send("PING\r\n")
 *     return TcpSocket.text(yield* socket.receive()) // "+PONG"
 *   }), { timeout: "1 second", poolSize: 50 })
 * ```
 */
export const withConnection: {
  <A, E, R>(
    host: string,
    port: number,
    use: (socket: TcpSocket) => Effect.Effect<A, E, R>,
    options?: ConnectionOptions
  ): Effect.Effect<A, E | ConnectFailure, R | Transport.TcpConnector | ConnectionPool.ConnectionPool>
  <A, E, R>(
    path: `unix:${string}`,
    use: (socket: TcpSocket) => Effect.Effect<A, E, R>,
    options?: ConnectionOptions
  ): Effect.Effect<A, E | ConnectFailure, R | Transport.TcpConnector | ConnectionPool.ConnectionPool>
} = <A, E, R>(
  host: string,
  portOrUse: number | ((socket: TcpSocket) => Effect.Effect<A, E, R>),
  useOrOptions?: ((socket: TcpSocket) => Effect.Effect<A, E, R>) | ConnectionOptions,
  maybeOptions?: ConnectionOptions
): Effect.Effect<A, E | ConnectFailure, R | Transport.TcpConnector | ConnectionPool.ConnectionPool> => {
  // Validated when the effect first runs (a throwing getter is a failure, not a throw from this
  // call), and only then: an exchange made once and run many times parses nothing again.
  let prepared: ReturnType<typeof internal.prepareConnection<A, E, R>> | undefined
  return Effect.withFiber((fiber) => {
    prepared ??= internal.prepareConnection(
      host,
      typeof portOrUse === "function" ? undefined : portOrUse,
      typeof portOrUse === "function" ? useOrOptions : maybeOptions,
      (typeof portOrUse === "function" ? portOrUse : useOrOptions) as (socket: TcpSocket) => Effect.Effect<A, E, R>
    )
    if (!(prepared instanceof internal.PreparedConnection)) return Effect.fail(prepared)
    return internal.withConnection(servicesOf(fiber), prepared)
  })
}

/**
 * Creates a socket and connects it (`ngx.socket.connect`): only the configured connect timeout
 * applies.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpSocket } from "effect-cosocket"
 *
 * const program = Effect.gen(function*() {
 *   const socket = yield* TcpSocket.connect("127.0.0.1", 11211)
 *   yield* socket.send("version\r\n")
 *   return yield* socket.receive()
 * })
 * ```
 */
export const connect: {
  (
    host: string,
    port: number,
    options?: ConnectOptions
  ): Effect.Effect<TcpSocket, ConnectFailure, Scope.Scope | Transport.TcpConnector | ConnectionPool.ConnectionPool>
  (
    path: `unix:${string}`,
    options?: ConnectOptions
  ): Effect.Effect<TcpSocket, ConnectFailure, Scope.Scope | Transport.TcpConnector | ConnectionPool.ConnectionPool>
} = (
  host: string,
  portOrOptions?: number | ConnectOptions,
  options?: ConnectOptions
): Effect.Effect<TcpSocket, ConnectFailure, Scope.Scope | Transport.TcpConnector | ConnectionPool.ConnectionPool> =>
  Effect.flatMap(
    make,
    (socket) => Effect.as((socket as TcpSocketImpl).connect(host, portOrOptions, options), socket)
  )

/**
 * The usual keepalive pattern: runs `use` with the socket, puts the connection back into the pool
 * when it succeeds, closes it when it fails or is interrupted. A refused `setKeepalive` (unread
 * data, dirty) closes the connection and does not fail `use`'s result.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpSocket } from "effect-cosocket"
 *
 * const ping = Effect.gen(function*() {
 *   const socket = yield* TcpSocket.connect("127.0.0.1", 6379)
 *   return yield* TcpSocket.withKeepalive(socket, Effect.gen(function*() {
 *     yield* socket.send("PING\r\n")
 *     return yield* socket.receive()
 *   }))
 * })
 * ```
 */
export const withKeepalive = <A, E, R>(
  socket: TcpSocket,
  use: Effect.Effect<A, E, R>,
  idle?: Duration.Input
): Effect.Effect<A, E, R> =>
  Effect.onExit(use, (exit) =>
    exit._tag === "Success"
      ? Effect.ignore(socket.setKeepalive(idle))
      : Effect.ignore(socket.close))

/**
 * Decodes bytes as UTF-8 (a convenience for text protocols and tests).
 *
 * @since 0.1.0
 * @category utils
 * @example
 * ```ts
 * import { TcpSocket } from "effect-cosocket"
 *
 * TcpSocket.text(new Uint8Array([104, 105])) // "hi"
 * ```
 */
export const text = (bytes: Uint8Array): string => decoder.decode(bytes)

const decoder = new TextDecoder()

/**
 * `receive` decoded as UTF-8.
 *
 * @since 0.1.0
 * @category utils
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpSocket } from "effect-cosocket"
 *
 * const statusLine = (socket: TcpSocket.TcpSocket) => TcpSocket.receiveString(socket, "*l")
 * ```
 */
export const receiveString = (
  socket: TcpSocket,
  pattern?: "*l" | "*a" | number
): Effect.Effect<string, ReceiveError | CosocketError.InvalidArgument> =>
  Effect.map(socket.receive(pattern as number), text)

/**
 * The socket's lines (`"*l"`, the default) or `size`-byte records as a Stream, read in batches
 * with `receiveMany`: each Stream chunk is one batch, every unit already received. The stream ends
 * at a clean end of stream (the peer closed after a complete unit); an end in the middle of a
 * unit fails with `SocketClosed` whose `partial` holds the incomplete bytes, like `receive`.
 *
 * @since 0.2.0
 * @category utils
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { TcpSocket } from "effect-cosocket"
 *
 * const countLines = (socket: TcpSocket.TcpSocket) =>
 *   TcpSocket.receiveStream(socket).pipe(Stream.runCount)
 * ```
 */
export const receiveStream = (
  socket: TcpSocket,
  pattern?: "*l" | number
): Stream.Stream<Uint8Array, ReceiveError | CosocketError.InvalidArgument> =>
  Stream.fromPull(Effect.sync(() => {
    const batch = socket.receiveMany(pattern) as Effect.Effect<
      Arr.NonEmptyReadonlyArray<Uint8Array>,
      ReceiveError | CosocketError.InvalidArgument
    >
    return Effect.catchTag(
      batch,
      "SocketClosed",
      (closed): Effect.Effect<never, CosocketError.SocketClosed | Cause.Done> =>
        closed.partial !== undefined && closed.partial.length === 0 ? Cause.done() : Effect.fail(closed)
    )
  }))
