/**
 * Everything a Node program needs in one layer: the `node:net` stream connector, the `node:dgram`
 * datagram connector and the keepalive connection pool.
 *
 * @since 0.1.0
 */
import * as Layer from "effect/Layer"
import type * as Net from "node:net"
import * as ConnectionPool from "../ConnectionPool.js"
import type { InvalidArgument } from "../CosocketError.js"
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
export const tcpConnectorWith = (options: TcpConnectorOptions): Layer.Layer<Transport.TcpConnector> =>
  Layer.succeed(Transport.TcpConnector, {
    connect: (target, connectOptions) => streamTransport.connect(target, connectOptions, options.lookup),
    upgradeTls: tlsTransport.upgrade
  })

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
