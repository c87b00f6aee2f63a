/**
 * @since 0.1.0
 */

/**
 * The keyed keepalive connection pool (a service with a scoped layer).
 *
 * @since 0.1.0
 */
export * as ConnectionPool from "./ConnectionPool.js"

/**
 * Library defaults (OpenResty's `lua_socket_*` directives) as a `Context.Reference`.
 *
 * @since 0.1.0
 */
export * as CosocketConfig from "./CosocketConfig.js"

/**
 * Every tagged error, unions per method, `disposition` and `delivery`.
 *
 * @since 0.1.0
 */
export * as CosocketError from "./CosocketError.js"

/**
 * `ngx.socket.tcp`: scoped TCP / unix-domain stream sockets with pull-based reads.
 *
 * @since 0.1.0
 */
export * as TcpSocket from "./TcpSocket.js"

/**
 * TLS for cosockets: `TlsOptions` (verification on by default) and `TlsSession` for resumption.
 *
 * @since 0.1.0
 */
export * as Tls from "./Tls.js"

/**
 * `ngx.socket.udp`: scoped connected UDP sockets with a bounded datagram queue.
 *
 * @since 0.1.0
 */
export * as UdpSocket from "./UdpSocket.js"

/**
 * The platform boundary: transports and connector services.
 *
 * @since 0.1.0
 */
export * as Transport from "./Transport.js"
