/**
 * TLS for cosockets (`tcpsock:sslhandshake`): the options of `socket.sslHandshake(options)` and
 * `connect(host, port, { tls })`, and the session a handshake returns for resumption.
 *
 * Unlike OpenResty, verification is on by default (certificate chain and, when a server name is
 * known, the host name), and the TLS identity (server name, verification, CA, client certificate)
 * is part of the pool key, so connections made for different identities are never shared.
 *
 * @since 0.1.0
 */
import type * as Redacted from "effect/Redacted"
import * as internal from "./internal/tlsSession.js"

/**
 * A TLS protocol version.
 *
 * @since 0.1.0
 * @category models
 */
export type TlsVersion = "TLSv1.2" | "TLSv1.3"

/**
 * Options of a TLS handshake. Every field is optional; `{}` (or `tls: true` on `connect`) means:
 * verify the certificate chain against the platform's trusted roots and the host name against the
 * host given to `connect`.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import * as Fs from "node:fs"
 * import type { Tls } from "effect-cosocket"
 *
 * const options: Tls.TlsOptions = {
 *   serverName: "db.internal",
 *   ca: Fs.readFileSync("ca.pem"),
 *   alpnProtocols: ["http/1.1"]
 * }
 * ```
 */
export interface TlsOptions {
  /**
   * The name sent as SNI and checked against the certificate when verifying. Defaults to the host
   * given to `connect` (an IP address is checked against the certificate's IP entries and not sent
   * as SNI); unix-domain sockets have no default, and then only the chain is verified.
   */
  readonly serverName?: string | undefined
  /** Verify the certificate chain and host name (default `true`). `false` turns every check off. */
  readonly verify?: boolean | undefined
  /** Trusted CA certificates (PEM text or DER/PEM bytes) instead of the platform's root store. */
  readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array> | undefined
  /** Client certificate (PEM) for mutual TLS; needs `key`. */
  readonly cert?: string | Uint8Array | undefined
  /**
   * Private key (PEM) of `cert`. Pass it as `Redacted` (`Redacted.make(pem)`) so that it cannot be
   * printed by accident; a plain string or bytes are accepted too, and wrapped at once. The key is
   * never part of the pool key, a span, a metric or an error message.
   */
  readonly key?: string | Uint8Array | Redacted.Redacted<string | Uint8Array> | Redacted.Redacted<string> | undefined
  /** Passphrase of an encrypted `key`, preferably `Redacted` (since 0.2.0). */
  readonly passphrase?: string | Redacted.Redacted<string> | undefined
  /** ALPN protocols to offer, most preferred first (e.g. `["h2", "http/1.1"]`). */
  readonly alpnProtocols?: ReadonlyArray<string> | undefined
  /**
   * A session from an earlier handshake to resume. It is only offered when it came from a
   * handshake with the same TLS identity; otherwise a full handshake is made.
   */
  readonly session?: TlsSession | undefined
  /** `false`: the handshake returns `Option.none()` instead of a session (OpenResty's `sslhandshake(false)`). */
  readonly keepSession?: boolean | undefined
  /** Lowest protocol version accepted (default: the platform's, TLSv1.2 on Node). */
  readonly minVersion?: TlsVersion | undefined
  /** Highest protocol version offered (default: TLSv1.3). */
  readonly maxVersion?: TlsVersion | undefined
}

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A TLS session, returned by a handshake and passed back in {@link TlsOptions.session} to resume it.
 * `bytes` is the serialised session state; under TLS 1.3 the server sends its session tickets after
 * the handshake, and `bytes` always reads the latest one the connection received. Store the fields
 * and rebuild the session with {@link makeSession} to resume across processes.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsSession {
  readonly [TypeId]: TypeId
  /** The serialised session (the latest ticket received so far); empty when none is known. */
  readonly bytes: Uint8Array
  /** The TLS identity the session belongs to (server name, verification, CA, client certificate). */
  readonly identity: string
  /** The negotiated protocol version, e.g. `"TLSv1.3"`. */
  readonly protocol: string | undefined
  /** The protocol chosen by ALPN, if any. */
  readonly alpnProtocol: string | undefined
  /** Whether this handshake resumed an earlier session. */
  readonly resumed: boolean
}

/**
 * Whether a value is a {@link TlsSession}.
 *
 * @since 0.1.0
 * @category refinements
 * @example
 * ```ts
 * import { Tls } from "effect-cosocket"
 *
 * Tls.isTlsSession({}) // false
 * ```
 */
export const isTlsSession: (u: unknown) => u is TlsSession = internal.isTlsSession

/**
 * Rebuilds a session from its stored fields (for example from a cache shared between processes).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Tls } from "effect-cosocket"
 *
 * const restore = (stored: { bytes: Uint8Array; identity: string }) => Tls.makeSession(stored)
 * ```
 */
export const makeSession: (fields: {
  readonly bytes: Uint8Array
  readonly identity: string
  readonly protocol?: string | undefined
  readonly alpnProtocol?: string | undefined
  readonly resumed?: boolean | undefined
}) => TlsSession = internal.makeSession
