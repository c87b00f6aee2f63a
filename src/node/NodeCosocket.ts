/**
 * Everything a Node program needs in one layer: the `node:net` stream connector, the `node:dgram`
 * datagram connector and the keepalive connection pool.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Net from "node:net"
import * as ConnectionPool from "../ConnectionPool.js"
import * as CosocketConfig from "../CosocketConfig.js"
import type { InvalidArgument } from "../CosocketError.js"
import * as tcpSocket from "../internal/tcp/lifetime.js"
import type * as TcpSocket from "../TcpSocket.js"
import * as Transport from "../Transport.js"
import * as datagramTransport from "./internal/datagramTransport.js"
import * as streamTransport from "./internal/streamTransport.js"
import * as tlsTransport from "./internal/tlsTransport.js"

/**
 * The Node stream connector (TCP and unix-domain sockets, upgraded to TLS with `node:tls`).
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { NodeCosocket } from "effect-cosocket/node"
 *
 * const ConnectorLive = NodeCosocket.tcpConnector
 * ```
 */
export const tcpConnector: Layer.Layer<Transport.TcpConnector> = Layer.succeed(Transport.TcpConnector, {
  connect: (target, options) => streamTransport.connect(target, options),
  upgradeTls: tlsTransport.upgrade
})

/**
 * Options of the Node stream connector.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpConnectorOptions {
  /** Name resolution to use instead of the system's `dns.lookup` (same signature as `node:net`'s option). */
  readonly lookup?: Net.LookupFunction | undefined
}

/**
 * The Node stream connector with options (a custom resolver, for example).
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import * as Dns from "node:dns"
 * import { NodeCosocket } from "effect-cosocket/node"
 *
 * const ConnectorLive = NodeCosocket.tcpConnectorWith({ lookup: Dns.lookup })
 * ```
 */
export const tcpConnectorWith = (options: TcpConnectorOptions): Layer.Layer<Transport.TcpConnector> => {
  const lookup = streamTransport.lookupOption(options)
  return Layer.succeed(Transport.TcpConnector, {
    connect: (target, connectOptions) => streamTransport.connect(target, connectOptions, lookup),
    upgradeTls: tlsTransport.upgrade
  })
}

/**
 * The Node datagram connector (`node:dgram`, UDP over IPv4 and IPv6; no unix-domain datagram
 * sockets).
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { NodeCosocket } from "effect-cosocket/node"
 *
 * const UdpLive = NodeCosocket.udpConnector
 * ```
 */
export const udpConnector: Layer.Layer<Transport.UdpConnector> = Layer.succeed(
  Transport.UdpConnector,
  datagramTransport.connector
)

/**
 * Connectors plus a connection pool with the given per-pool limits.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { NodeCosocket } from "effect-cosocket/node"
 *
 * const CosocketLive = NodeCosocket.layerWith({ pools: { redis: { size: 100, backlog: 1000 } } })
 * ```
 */
export const layerWith = (
  options?: ConnectionPool.Options
): Layer.Layer<Transport.TcpConnector | Transport.UdpConnector | ConnectionPool.ConnectionPool, InvalidArgument> =>
  Layer.mergeAll(tcpConnector, udpConnector, ConnectionPool.layer(options))

/**
 * Connectors plus a connection pool with defaults from `CosocketConfig`. Provide it once, at the
 * application root.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpSocket } from "effect-cosocket"
 * import { NodeCosocket } from "effect-cosocket/node"
 *
 * const main = Effect.scoped(TcpSocket.connect("127.0.0.1", 6379)).pipe(Effect.provide(NodeCosocket.layer))
 * ```
 */
export const layer: Layer.Layer<
  Transport.TcpConnector | Transport.UdpConnector | ConnectionPool.ConnectionPool,
  InvalidArgument
> = layerWith()

/**
 * Wraps an already connected `node:net` socket (for example one a server accepted) as a
 * cosocket bound to the caller's scope: the same pull-based reads, busy rules and timeouts.
 * Such a connection has no pool key and is never pooled (`setKeepalive` closes it).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Net from "node:net"
 * import { NodeCosocket } from "effect-cosocket/node"
 *
 * const serve = (accepted: Net.Socket) =>
 *   Effect.scoped(Effect.gen(function*() {
 *     const socket = yield* NodeCosocket.fromSocket(accepted)
 *     const line = yield* socket.receive()
 *     yield* socket.send([line, "\n"])
 *   }))
 * ```
 */
export const fromSocket = (socket: Net.Socket): Effect.Effect<TcpSocket.TcpSocket, never, Scope.Scope> => {
  // The listeners (an 'error' one among them) are attached now, not when the effect runs, so
  // call this in the 'connection' handler. Bytes arriving meanwhile wait in the paused socket.
  const transport = streamTransport.fromSocket(socket)
  return Effect.gen(function*() {
    const config = yield* CosocketConfig.CosocketConfig
    const connector = { connect: streamTransport.connect, upgradeTls: tlsTransport.upgrade }
    const services = tcpSocket.makeServices(connector, unpooled, config, yield* Clock.Clock, undefined)
    const cosocket = yield* tcpSocket.make(services, yield* Effect.scope)
    cosocket.adopt(transport, unpooledLease)
    return cosocket
  })
}

const unpooledLease: ConnectionPool.Lease = {
  key: "",
  reused: undefined,
  release: () => {},
  checkin: () => false
}

/** Connections made by a `fromSocket` cosocket's later `connect` calls are not pooled either. */
const unpooled: ConnectionPool.ConnectionPool = {
  acquire: () => Effect.succeed(unpooledLease),
  stats: Effect.succeed(new Map())
}
