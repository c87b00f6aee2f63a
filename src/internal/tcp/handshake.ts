/**
 * `sslHandshake` on an established connection: upgrade its transport to TLS within the connect
 * timeout, or report the session of a connection that already is TLS with the same identity.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { SocketClosed, SocketTimeout, TlsError } from "../../CosocketError.js"
import type * as Api from "../../TcpSocket.js"
import type * as TlsApi from "../../Tls.js"
import type { StreamTransport, TlsState } from "../../Transport.js"
import * as timer from "../timer.js"
import type * as tlsOptions from "../tlsOptions.js"
import * as tlsSession from "../tlsSession.js"
import * as connect from "./connect.js"
import type { Connection } from "./connection.js"

/** What a handshake needs from its socket. */
export interface Upgrader extends connect.Opener {
  /**
   * Makes the upgraded transport the socket's connection, or returns `false` when the socket
   * moved on meanwhile (the transport is then destroyed).
   */
  replaceConnection(conn: Connection, transport: StreamTransport): boolean
}

/** Runs the handshake on `conn` (the caller checked it may, and holds the connect flag). */
export const run = (
  opener: Upgrader,
  conn: Connection,
  parsed: tlsOptions.ParsedTls
): Effect.Effect<Option.Option<TlsApi.TlsSession>, Api.HandshakeFailure> => {
  const result = (state: TlsState): Option.Option<TlsApi.TlsSession> =>
    parsed.keepSession ? Option.some(tlsSession.sessionOf(state)) : Option.none()
  const current = conn.transport.tls
  if (current !== undefined) {
    // Already TLS (a second call, or a pooled TLS connection): no new handshake. A different
    // identity is refused instead of silently reusing the connection (TCP-SSL-019, ours).
    return current.identity === parsed.upgrade.identity
      ? Effect.succeed(result(current))
      : Effect.fail(new TlsError({ reason: "mismatch", detail: "tls identity mismatch" }))
  }
  const upgrade = opener.connector.upgradeTls
  if (upgrade === undefined) return Effect.fail(connect.noTlsSupport())
  let replaced = false
  return timer.withTimeout(
    opener.schedule,
    connect.traceHandshake(opener, upgrade(conn.transport, parsed.upgrade), parsed.upgrade),
    opener.connectTimeout,
    () => new SocketTimeout({ operation: "handshake" })
  ).pipe(
    // A failed, timed-out or interrupted handshake closes the connection; set-up errors (nothing
    // was sent) leave it as it was.
    Effect.onExit((exit) =>
      Effect.sync(() => {
        if (exit._tag === "Success") {
          replaced = opener.replaceConnection(conn, exit.value)
          return
        }
        const failure = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
        if (!(failure instanceof TlsError && failure.reason === "setup")) conn.destroy()
      })
    ),
    Effect.flatMap((transport) =>
      replaced && transport.tls !== undefined
        ? Effect.succeed(result(transport.tls))
        : Effect.fail(new SocketClosed({ operation: "handshake" }))
    )
  )
}
