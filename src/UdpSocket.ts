/**
 * `ngx.socket.udp` for Effect: a connected datagram socket bound to the caller's `Scope`.
 *
 * Differences from OpenResty: a datagram longer than the size asked for is never truncated
 * (`DatagramTooLarge` carries its real length), datagrams wait in a bounded queue whose drops are
 * counted (`dropped`), interrupting a `receive` keeps the socket open, and datagram unix-domain
 * peers (`unix:/path`) are not supported on Node.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { CosocketConfig } from "./CosocketConfig.js"
import type * as CosocketError from "./CosocketError.js"
import * as internal from "./internal/udpSocket.js"
import type * as TcpSocket from "./TcpSocket.js"
import * as Transport from "./Transport.js"

/**
 * What `send` accepts, as for TCP: strings (UTF-8), bytes, numbers (formatted as Lua does),
 * booleans and nested arrays of those, concatenated into one datagram.
 *
 * @since 0.1.0
 * @category models
 */
export type Sendable = TcpSocket.Sendable

/**
 * What `setPeername` can fail with: a bad host or port (`InvalidArgument`, also for `unix:` peers
 * on Node), a name that does not resolve or a local address that cannot be bound
 * (`ConnectError`), resolution taking longer than the connect timeout (`SocketTimeout`), or
 * another `setPeername` / `receive` in flight (`SocketBusy`).
 *
 * @since 0.1.0
 * @category models
 */
export type PeernameError =
  | CosocketError.ConnectError
  | CosocketError.SocketTimeout
  | CosocketError.SocketBusy
  | CosocketError.SocketClosed
  | CosocketError.InvalidArgument

/**
 * What `send` can fail with. Nothing was sent on any of these, and the socket stays usable:
 * `ConnectError` when the kernel reports an earlier ICMP error on this send, `SocketIoError` for
 * other system errors (e.g. `"message too long"` above 65507 bytes over IPv4).
 *
 * @since 0.1.0
 * @category models
 */
export type SendError =
  | CosocketError.SocketClosed
  | CosocketError.SocketBusy
  | CosocketError.ConnectError
  | CosocketError.SocketIoError
  | CosocketError.InvalidArgument

/**
 * What `receive` can fail with. All but `SocketClosed` leave the socket usable:
 * `SocketReadTimeout` (nothing arrived in time), `DatagramTooLarge` (the datagram was consumed),
 * `ConnectError` (`"connection refused"`: an ICMP port unreachable for an earlier send).
 *
 * @since 0.1.0
 * @category models
 */
export type ReceiveError =
  | CosocketError.SocketClosed
  | CosocketError.SocketBusy
  | CosocketError.SocketReadTimeout
  | CosocketError.DatagramTooLarge
  | CosocketError.ConnectError
  | CosocketError.SocketIoError
  | CosocketError.InvalidArgument

/**
 * What `close` can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type CloseError = CosocketError.SocketClosed | CosocketError.SocketBusy

/**
 * A UDP cosocket.
 *
 * Busy rule (as OpenResty, for parity): a UDP socket is not full duplex. While a `setPeername`
 * or a `receive` is in flight, `send`, `receive`, `close` and `setPeername` fail at once with
 * `SocketBusy` (`"socket busy"`) and change nothing. A `send` does not make the socket busy.
 * Argument errors (`InvalidArgument`) are checked first, then busy, then closed.
 *
 * @since 0.1.0
 * @category models
 */
export interface UdpSocket {
  /**
   * Connects the socket to `host:port` (IPv4, `[IPv6]`, or a host name, resolved with the family
   * of the `bind` address if any; the port is 1..65535, port 0 is `InvalidArgument`). Calling it
   * again closes the previous socket first (queued datagrams are discarded). `unix:/path` fails
   * with `InvalidArgument` on Node.
   */
  setPeername(host: string, port: number): Effect.Effect<void, PeernameError>
  setPeername(path: `unix:${string}`): Effect.Effect<void, PeernameError>
  /** The local IP address the next `setPeername` binds to (an IP literal, else `"bad address"`). */
  bind(address: string): Effect.Effect<void, CosocketError.InvalidArgument>
  /** Sends one datagram (OpenResty returns `1`; this succeeds with `void`). */
  send(data: Sendable): Effect.Effect<void, SendError>
  /**
   * Takes the next datagram from the queue, waiting at most the read timeout. `size` defaults to
   * and is capped at 65536; a longer datagram is consumed and fails with `DatagramTooLarge`.
   */
  receive(size?: number): Effect.Effect<Uint8Array, ReceiveError>
  /** Closes the socket; `SocketClosed` when it is not connected. */
  readonly close: Effect.Effect<void, CloseError>
  /** The read timeout of `receive`; `0` means the configured default, infinity none. */
  setTimeout(timeout: Duration.Input): Effect.Effect<void, CosocketError.InvalidArgument>
  /**
   * How many datagrams this socket dropped because its queue (`CosocketConfig.udpQueueSize`) was
   * full, over its whole life.
   */
  readonly dropped: Effect.Effect<number>
  /** Local address and port of the connected socket. */
  readonly localAddressInfo: Effect.Effect<Transport.AddressInfo, CosocketError.SocketClosed>
  /** The peer's address and port. */
  readonly remoteAddressInfo: Effect.Effect<Transport.AddressInfo, CosocketError.SocketClosed>
}

/**
 * Creates an unconnected UDP socket (`ngx.socket.udp()`). When the caller's scope closes, the
 * socket is closed and a fiber blocked in `receive` wakes with `SocketClosed`.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { UdpSocket } from "effect-cosocket"
 * import { NodeCosocket } from "effect-cosocket/node"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const socket = yield* UdpSocket.make
 *   yield* socket.setTimeout("1 second")
 *   yield* socket.setPeername("127.0.0.1", 11211)
 *   yield* socket.send("\x00\x01\x00\x00\x00\x01\x00\x00version\r\n")
 *   return yield* socket.receive()
 * })).pipe(Effect.provide(NodeCosocket.layer))
 * ```
 */
export const make: Effect.Effect<UdpSocket, never, Scope.Scope | Transport.UdpConnector> = Effect.gen(function*() {
  const connector = yield* Transport.UdpConnector
  const config = yield* CosocketConfig
  return yield* internal.make(connector, config, yield* Clock.Clock)
})
