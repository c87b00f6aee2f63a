/**
 * The `node:tls` upgrade of a connected `node:net` stream (`sslHandshake`): `tls.connect` over the
 * existing socket, with verification done by Node and its failures mapped to `TlsError` reasons
 * (`"verify"` with OpenSSL's `"<code>: <text>"`, `"hostMismatch"`, `"handshake"`, `"setup"`). The
 * upgraded socket becomes a `StreamTransport` like any other (`fromSocket`), with the TLS state
 * attached; TLS 1.3 session tickets that arrive after the handshake update the session it reports.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { TlsError } from "../../CosocketError.js"
import type { StreamTransport, TlsState, TlsUpgradeOptions } from "../../Transport.js"
import { fromSocket, socketOf } from "./streamTransport.js"

/** OpenSSL's X509_V_ERR_* numbers by the code names Node reports (the macro name without prefix). */
const x509Codes: ReadonlyArray<string> = [
  "OK",
  "UNSPECIFIED",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_CRL",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECRYPT_CRL_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CRL_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CRL_NOT_YET_VALID",
  "CRL_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "ERROR_IN_CRL_LAST_UPDATE_FIELD",
  "ERROR_IN_CRL_NEXT_UPDATE_FIELD",
  "OUT_OF_MEM",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "NO_ISSUER_PUBLIC_KEY",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "SUBJECT_ISSUER_MISMATCH",
  "AKID_SKID_MISMATCH",
  "AKID_ISSUER_SERIAL_MISMATCH",
  "KEYUSAGE_NO_CERTSIGN",
  "UNABLE_TO_GET_CRL_ISSUER",
  "UNHANDLED_CRITICAL_EXTENSION",
  "KEYUSAGE_NO_CRL_SIGN",
  "UNHANDLED_CRITICAL_CRL_EXTENSION",
  "INVALID_NON_CA",
  "PROXY_PATH_LENGTH_EXCEEDED",
  "KEYUSAGE_NO_DIGITAL_SIGNATURE",
  "PROXY_CERTIFICATES_NOT_ALLOWED",
  "INVALID_EXTENSION",
  "INVALID_POLICY_EXTENSION",
  "NO_EXPLICIT_POLICY",
  "DIFFERENT_CRL_SCOPE",
  "UNSUPPORTED_EXTENSION_FEATURE",
  "UNNESTED_RESOURCE",
  "PERMITTED_VIOLATION",
  "EXCLUDED_VIOLATION",
  "SUBTREE_MINMAX",
  "APPLICATION_VERIFICATION",
  "UNSUPPORTED_CONSTRAINT_TYPE",
  "UNSUPPORTED_CONSTRAINT_SYNTAX",
  "UNSUPPORTED_NAME_SYNTAX",
  "CRL_PATH_VALIDATION_ERROR",
  "PATH_LOOP",
  "SUITE_B_INVALID_VERSION",
  "SUITE_B_INVALID_ALGORITHM",
  "SUITE_B_INVALID_CURVE",
  "SUITE_B_INVALID_SIGNATURE_ALGORITHM",
  "SUITE_B_LOS_NOT_ALLOWED",
  "SUITE_B_CANNOT_SIGN_P_384_WITH_P_256",
  "HOSTNAME_MISMATCH",
  "EMAIL_MISMATCH",
  "IP_ADDRESS_MISMATCH",
  "DANE_NO_MATCH",
  "EE_KEY_TOO_SMALL",
  "CA_KEY_TOO_SMALL",
  "CA_MD_TOO_WEAK",
  "INVALID_CALL",
  "STORE_LOOKUP",
  "NO_VALID_SCTS",
  "PROXY_SUBJECT_NAME_VIOLATION",
  "OCSP_VERIFY_NEEDED",
  "OCSP_VERIFY_FAILED",
  "OCSP_CERT_UNKNOWN",
  "UNSUPPORTED_SIGNATURE_ALGORITHM",
  "SIGNATURE_ALGORITHM_MISMATCH",
  "SIGNATURE_ALGORITHM_INCONSISTENCY",
  "INVALID_CA",
  "PATHLEN_INVALID_FOR_NON_CA",
  "PATHLEN_WITHOUT_KU_KEY_CERT_SIGN",
  "KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA",
  "ISSUER_NAME_EMPTY",
  "SUBJECT_NAME_EMPTY",
  "MISSING_AUTHORITY_KEY_IDENTIFIER",
  "MISSING_SUBJECT_KEY_IDENTIFIER",
  "EMPTY_SUBJECT_ALT_NAME",
  "EMPTY_SUBJECT_SAN_NOT_CRITICAL",
  "CA_BCONS_NOT_CRITICAL",
  "AUTHORITY_KEY_IDENTIFIER_CRITICAL",
  "SUBJECT_KEY_IDENTIFIER_CRITICAL",
  "CA_CERT_MISSING_KEY_USAGE",
  "EXTENSIONS_REQUIRE_VERSION_3",
  "EC_KEY_EXPLICIT_PARAMS"
]

const x509Numbers: ReadonlyMap<string, number> = new Map(x509Codes.map((code, n) => [code, n]))

/** Marks the error our host-name check returned, to tell it from OpenSSL's verification errors. */
const HOST_MISMATCH: unique symbol = Symbol.for("effect-cosocket/TlsHostMismatch")

const codeOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : undefined
}

const messageOf = (error: unknown): string => {
  const message = (error as { message?: unknown } | undefined)?.message
  return typeof message === "string" ? message : String(error)
}

/**
 * OpenSSL's text of a certificate verification error. Node 24 appends advice to it ("; if the root
 * CA is installed locally, try running Node.js with --use-system-ca"); OpenSSL's verify texts never
 * contain a semicolon, so whatever follows one is Node's and is cut, leaving OpenResty's text.
 */
const verifyText = (message: string): string => {
  const advice = message.indexOf(";")
  return advice < 0 ? message : message.slice(0, advice)
}

/** Maps an error raised during the handshake; the text comes from this error only. */
export const handshakeError = (error: unknown): TlsError => {
  const code = codeOf(error)
  if ((error as { [HOST_MISMATCH]?: boolean } | undefined)?.[HOST_MISMATCH] === true) {
    return new TlsError({ reason: "hostMismatch", detail: "certificate host mismatch", code, cause: error })
  }
  const n = code === undefined || code === "OK" ? undefined : x509Numbers.get(code)
  if (n !== undefined) {
    return new TlsError({ reason: "verify", detail: `${n}: ${verifyText(messageOf(error))}`, code, cause: error })
  }
  return new TlsError({ reason: "handshake", detail: "handshake failed", code, cause: error })
}

const setupError = (what: string, error: unknown): TlsError =>
  new TlsError({
    reason: "setup",
    detail: `${what}: ${openSslText(messageOf(error))}`,
    code: codeOf(error),
    cause: error
  })

/** `error:0480006C:PEM routines::no start line` → `no start line`. */
const openSslText = (message: string): string => {
  const parts = message.split(":")
  return parts.length >= 5 && parts[0] === "error" ? parts.slice(4).join(":").trim() : message.toLowerCase()
}

const toBuffer = (material: string | Uint8Array): string | Buffer =>
  typeof material === "string" ? material : Buffer.from(material.buffer, material.byteOffset, material.byteLength)

/**
 * Upgrades a connected transport made by `streamTransport` to TLS. Set-up failures (bad key or
 * certificate material) leave the transport untouched; handshake failures and interruption
 * destroy it.
 */
export const upgrade = (
  transport: StreamTransport,
  options: TlsUpgradeOptions
): Effect.Effect<StreamTransport, TlsError> =>
  Effect.suspend(() => {
    const socket = socketOf(transport)
    if (socket === undefined || socket.destroyed) {
      return Effect.fail(new TlsError({ reason: "handshake", detail: "handshake failed" }))
    }
    let secureContext: Tls.SecureContext
    try {
      secureContext = Tls.createSecureContext({
        ...(options.ca !== undefined ? { ca: options.ca.map(toBuffer) } : {}),
        ...(options.cert !== undefined ? { cert: toBuffer(options.cert) } : {}),
        ...(options.key !== undefined ? { key: toBuffer(Redacted.value(options.key)) } : {}),
        ...(options.passphrase !== undefined ? { passphrase: Redacted.value(options.passphrase) } : {}),
        ...(options.minVersion !== undefined ? { minVersion: options.minVersion } : {}),
        ...(options.maxVersion !== undefined ? { maxVersion: options.maxVersion } : {})
      })
    } catch (error) {
      return Effect.fail(setupError("bad certificate or key", error))
    }
    return Effect.callback<StreamTransport, TlsError>((resume) => {
      const serverName = options.serverName
      const checkServerIdentity = (_host: string, cert: Tls.PeerCertificate): Error | undefined => {
        if (!options.verify || serverName === undefined) return undefined
        // node:tls calls it inside its own callbacks: it must not throw.
        let error: Error | undefined
        try {
          error = Tls.checkServerIdentity(serverName, cert)
        } catch (thrown) {
          error = thrown instanceof Error ? thrown : new Error(String(thrown))
        }
        if (error !== undefined) (error as { [HOST_MISMATCH]?: boolean })[HOST_MISMATCH] = true
        return error
      }
      let tlsSocket: Tls.TLSSocket
      try {
        const connectOptions: Tls.ConnectionOptions & { readonly allowHalfOpen: boolean } = {
          socket,
          // node:tls passes it to the TLSSocket (missing from @types/node): keep our write half open
          // after the peer's close_notify and FIN.
          allowHalfOpen: true,
          secureContext,
          // SNI carries host names only (RFC 6066); an IP address is still checked against the certificate.
          ...(serverName !== undefined && Net.isIP(serverName) === 0 ? { servername: serverName } : {}),
          rejectUnauthorized: options.verify,
          checkServerIdentity,
          ...(options.alpnProtocols !== undefined ? { ALPNProtocols: [...options.alpnProtocols] } : {}),
          ...(options.session !== undefined ? { session: toBuffer(options.session) as Buffer } : {})
        }
        tlsSocket = Tls.connect(connectOptions)
      } catch (error) {
        socket.destroy()
        resume(Effect.fail(handshakeError(error)))
        return
      }
      // TLS 1.3 tickets arrive after the handshake: keep the latest (listen before any byte is read).
      let latest: Uint8Array | undefined
      tlsSocket.on("session", (session: Buffer) => {
        latest = new Uint8Array(session)
      })
      let settled = false
      const cleanup = () => {
        tlsSocket.off("error", onError)
        tlsSocket.off("close", onClose)
        tlsSocket.off("secureConnect", onSecure)
      }
      const fail = (error: TlsError) => {
        if (settled) return
        settled = true
        cleanup()
        tlsSocket.on("error", () => {})
        tlsSocket.destroy()
        resume(Effect.fail(error))
      }
      const onError = (error: Error) => fail(handshakeError(error))
      const onClose = () => fail(new TlsError({ reason: "handshake", detail: "handshake failed" }))
      const onSecure = () => {
        if (settled) return
        let peer: ReturnType<typeof tlsSocket.getPeerX509Certificate>
        try {
          peer = tlsSocket.getPeerX509Certificate()
        } catch (error) {
          return fail(handshakeError(error))
        }
        settled = true
        cleanup()
        const state: TlsState = {
          identity: options.identity,
          session: () => {
            if (latest === undefined && !tlsSocket.destroyed) {
              const current = tlsSocket.getSession()
              if (current !== undefined) return new Uint8Array(current)
            }
            return latest
          },
          protocol: tlsSocket.getProtocol() ?? undefined,
          alpnProtocol: typeof tlsSocket.alpnProtocol === "string" ? tlsSocket.alpnProtocol : undefined,
          resumed: tlsSocket.isSessionReused(),
          peerCertificate: peer !== undefined ? new Uint8Array(peer.raw) : undefined
        }
        resume(Effect.succeed(fromSocket(tlsSocket, state)))
      }
      tlsSocket.on("error", onError)
      tlsSocket.on("close", onClose)
      tlsSocket.on("secureConnect", onSecure)
      return Effect.sync(() => {
        if (settled) return
        settled = true
        cleanup()
        tlsSocket.on("error", () => {})
        tlsSocket.destroy()
      })
    })
  })
