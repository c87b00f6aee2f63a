/**
 * The platform boundary: the small callback interfaces the engine drives, and the connector
 * services that open them. `effect-cosocket/node` provides them for Node; tests provide
 * in-memory ones. Nothing here allocates an Effect per byte: the engine wraps these callbacks.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type { ConnectError, TlsError } from "./CosocketError.js"

/**
 * A platform failure on an open transport (`code` such as `"ECONNRESET"`, `reason` the
 * lower-cased system text such as `"connection reset by peer"`).
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportFailure {
  readonly code: string
  readonly reason: string
  readonly cause?: unknown
}

/**
 * What a `write` reports back. `progress` is called when part of a large write reached the
 * operating system (it re-arms the send timeout); `done` once, with the failure if any.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteListener {
  readonly progress: () => void
  readonly done: (failure: TransportFailure | undefined) => void
}

/**
 * A connected byte stream, kept paused: the engine pulls with `read` when a waiting fiber is
 * woken, so bytes never sit inside a fiber and TCP backpressure comes from not reading.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamTransport {
  /** Takes what the platform has received so far, or `undefined` when nothing is ready now. */
  readonly read: () => Uint8Array | undefined
  /** The peer's EOF was reached and every byte before it was taken with `read`. */
  readonly isEnded: () => boolean
  /** The failure that broke the stream, once it happened. */
  readonly failure: () => TransportFailure | undefined
  /** Bytes received by the platform and not yet taken with `read` (0 when unknown). */
  readonly pendingBytes: () => number
  /** The one callback run when data, EOF, an error or a close may be ready; `undefined` clears it. */
  readonly setWaker: (waker: (() => void) | undefined) => void
  /**
   * Hands bytes to the operating system. Returns `true` when that already happened synchronously
   * (the listener is then never called).
   */
  readonly write: (bytes: Uint8Array, listener: WriteListener) => boolean
  /** Sends FIN (closes our write half); reading goes on. */
  readonly shutdown: () => void
  /** Closes both directions at once and frees the platform resources. Idempotent. */
  readonly destroy: () => void
  /** Whether `destroy` was called or the platform closed the stream. */
  readonly isDestroyed: () => boolean
  /** TCP_NODELAY. */
  readonly setNoDelay: (enabled: boolean) => void
  /** SO_KEEPALIVE with an optional initial delay in milliseconds. */
  readonly setKeepAlive: (enabled: boolean, initialDelayMillis: number) => void
  /** Local address and port (unix sockets: the path, port 0). */
  readonly localAddress: () => AddressInfo | undefined
  /** Remote address and port (unix sockets: the path, port 0). */
  readonly remoteAddress: () => AddressInfo | undefined
  /** TLS state, once the stream was upgraded. */
  readonly tls?: TlsState | undefined
}

/**
 * What the engine knows of an upgraded (TLS) stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsState {
  /** A canonical description of the TLS identity (server name, verification, CA, client cert). */
  readonly identity: string
  /** The latest session, serialised for resumption; updated when TLS 1.3 tickets arrive. */
  readonly session: () => Uint8Array | undefined
  /** The negotiated protocol (`"TLSv1.3"`) and ALPN protocol, when any. */
  readonly protocol: string | undefined
  readonly alpnProtocol: string | undefined
  /** Whether the server accepted a resumed session. */
  readonly resumed: boolean
  /** The peer certificate as DER, when one was presented. */
  readonly peerCertificate: Uint8Array | undefined
}

/**
 * Where a stream connects: an internet host and port, or a unix-domain socket path.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamTarget =
  | { readonly _tag: "Inet"; readonly host: string; readonly port: number }
  | { readonly _tag: "Unix"; readonly path: string }

/**
 * An endpoint's address and port, as the platform reports them (`localAddressInfo`,
 * `remoteAddressInfo`).
 *
 * @since 0.2.0
 * @category models
 * @example
 * ```ts
 * import type { Transport } from "effect-cosocket"
 *
 * const show = (info: Transport.AddressInfo): string => `${info.address}:${info.port}`
 * ```
 */
export interface AddressInfo {
  readonly address: string
  readonly port: number
}

/**
 * Options a connector applies at connect time.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamConnectOptions {
  /** Local address to bind before connecting (`bind()`). */
  readonly localAddress?: string | undefined
  /** TCP_NODELAY on the new connection. */
  readonly noDelay: boolean
  /**
   * Called once when name resolution of an inet host ends (not for IP literals): the address
   * connected to, or the resolver's error. Set only when a tracer is installed (`cosocket.resolve`).
   * @since 0.2.0
   */
  readonly onLookup?: ((error: Error | null, address: string | undefined) => void) | undefined
}

/**
 * Options of a TLS upgrade, already validated and with file material loaded.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsUpgradeOptions {
  readonly serverName: string | undefined
  readonly verify: boolean
  readonly ca: ReadonlyArray<string | Uint8Array> | undefined
  readonly cert: string | Uint8Array | undefined
  /** The client certificate's private key, always `Redacted` (since 0.2.0): never printed. */
  readonly key: Redacted.Redacted<string | Uint8Array> | undefined
  /** The passphrase of an encrypted `key` (since 0.2.0). */
  readonly passphrase: Redacted.Redacted<string> | undefined
  readonly alpnProtocols: ReadonlyArray<string> | undefined
  readonly session: Uint8Array | undefined
  readonly minVersion: "TLSv1.2" | "TLSv1.3" | undefined
  readonly maxVersion: "TLSv1.2" | "TLSv1.3" | undefined
  /** The identity string the upgraded stream will report. */
  readonly identity: string
}

/**
 * Opens stream connections (TCP and unix-domain). The returned effect must be interruptible and
 * destroy the half-open connection when interrupted.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamConnector {
  readonly connect: (
    target: StreamTarget,
    options: StreamConnectOptions
  ) => Effect.Effect<StreamTransport, ConnectError>
  /**
   * Upgrades a connected stream to TLS. A handshake failure or an interruption destroys the stream;
   * a `"setup"` failure (bad local key or certificate material, nothing sent) leaves it untouched.
   */
  readonly upgradeTls?: (
    transport: StreamTransport,
    options: TlsUpgradeOptions
  ) => Effect.Effect<StreamTransport, TlsError>
}

/**
 * The stream connector service.
 *
 * @since 0.1.0
 * @category tags
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Transport } from "effect-cosocket"
 *
 * const program = Effect.gen(function*() {
 *   const connector = yield* Transport.TcpConnector
 *   return connector
 * })
 * ```
 */
export class TcpConnector extends Context.Service<TcpConnector, StreamConnector>()(
  "effect-cosocket/Transport/TcpConnector"
) {}

/**
 * Where a connected datagram endpoint delivers what it receives. Datagrams arrive whole (never
 * truncated), only from the connected peer; `onError` reports receive-side errors such as an
 * ICMP port unreachable (`"ECONNREFUSED"`), after which the endpoint stays usable.
 *
 * @since 0.1.0
 * @category models
 */
export interface DatagramHandlers {
  readonly onDatagram: (datagram: Uint8Array) => void
  readonly onError: (failure: TransportFailure) => void
}

/**
 * A connected datagram endpoint. Datagrams and errors are pushed to the {@link DatagramHandlers}
 * given to `open`; the engine queues them (a datagram socket cannot be paused).
 *
 * @since 0.1.0
 * @category models
 */
export interface DatagramTransport {
  /** Sends one datagram; `done` is called once, with the failure if any (then nothing was sent). */
  readonly send: (bytes: Uint8Array, done: (failure: TransportFailure | undefined) => void) => void
  /** Closes the endpoint; no handler is called afterwards. Idempotent. */
  readonly close: () => void
  /** Local address and port. */
  readonly localAddress: () => AddressInfo | undefined
  /** The connected peer's address and port. */
  readonly remoteAddress: () => AddressInfo | undefined
}

/**
 * Where a datagram socket sends.
 *
 * @since 0.1.0
 * @category models
 */
export type DatagramTarget = StreamTarget

/**
 * Options a datagram connector applies when it opens an endpoint.
 *
 * @since 0.1.0
 * @category models
 */
export interface DatagramOpenOptions {
  /** Local IP address to bind before connecting (`bind()`); its family also picks the peer's. */
  readonly localAddress?: string | undefined
  /** Installed before the endpoint can receive anything. */
  readonly handlers: DatagramHandlers
}

/**
 * Opens connected datagram sockets (resolving host names). The returned effect must be
 * interruptible and close the half-open endpoint when interrupted.
 *
 * @since 0.1.0
 * @category models
 */
export interface DatagramConnector {
  readonly open: (
    target: DatagramTarget,
    options: DatagramOpenOptions
  ) => Effect.Effect<DatagramTransport, ConnectError>
  /** Whether `Unix` targets (datagram unix-domain sockets) are supported; absent means no. */
  readonly supportsUnix?: boolean | undefined
}

/**
 * The datagram connector service.
 *
 * @since 0.1.0
 * @category tags
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Transport } from "effect-cosocket"
 *
 * const program = Effect.gen(function*() {
 *   const connector = yield* Transport.UdpConnector
 *   return connector
 * })
 * ```
 */
export class UdpConnector extends Context.Service<UdpConnector, DatagramConnector>()(
  "effect-cosocket/Transport/UdpConnector"
) {}
