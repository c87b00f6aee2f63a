/**
 * TLS option parsing: turns the public `TlsOptions` (of `connect`'s `tls` and `sslHandshake`) into
 * the connector's `TlsUpgradeOptions`, with the TLS identity (./tlsIdentity.ts) and the session to
 * offer, if any. Wrong types are an `InvalidArgument`; a certificate without its key is a
 * `TlsError` of reason `"setup"`.
 *
 * @internal
 */
import * as Redacted from "effect/Redacted"
import { type InvalidArgument, TlsError } from "../CosocketError.js"
import type * as Api from "../Tls.js"
import type { TlsUpgradeOptions } from "../Transport.js"
import { identityOf } from "./tlsIdentity.js"
import { isTlsSession } from "./tlsSession.js"
import * as validate from "./validate.js"

const encoder = new TextEncoder()

export interface ParsedTls {
  readonly upgrade: TlsUpgradeOptions
  /** `false`: the handshake returns no session. */
  readonly keepSession: boolean
}

const isMaterial = (u: unknown): u is string | Uint8Array => typeof u === "string" || u instanceof Uint8Array

const versions: ReadonlyArray<Api.TlsVersion> = ["TLSv1.2", "TLSv1.3"]

const version = (argument: string, u: unknown): Api.TlsVersion | undefined | InvalidArgument => {
  if (u === undefined || u === null) return undefined
  if (typeof u === "string" && (versions as ReadonlyArray<string>).includes(u)) return u as Api.TlsVersion
  return validate.invalid(argument, `bad "${argument}" option: ${describeValue(u)}`)
}

const describeValue = (u: unknown): string =>
  typeof u === "string" ? JSON.stringify(validate.quote(u)) : validate.typeName(u)

/**
 * A secret option as `Redacted`: absent -> `undefined`, a plain value of the right type or a
 * `Redacted` holding one -> `Redacted`, anything else -> `null`.
 */
const secret = <A>(u: unknown, isValue: (u: unknown) => u is A): Redacted.Redacted<A> | undefined | null => {
  if (u === undefined || u === null) return undefined
  if (Redacted.isRedacted(u)) return isValue(Redacted.value(u)) ? u as Redacted.Redacted<A> : null
  return isValue(u) ? Redacted.make(u, { label: "tls" }) : null
}

const typeOf = (u: unknown): string => Redacted.isRedacted(u) ? "Redacted" : validate.typeName(u)

/** The detail OpenResty's `setclientcert` uses when only one of certificate and key is given. */
export const CERT_WITHOUT_KEY = "client certificate must be supplied with corresponding private key"

/**
 * Validates handshake options. `defaultServerName` is the host given to `connect` (for inet
 * targets), used when `serverName` is absent. Returns an `InvalidArgument` for wrong types and a
 * `TlsError` (reason `"setup"`) for a certificate without key or the reverse.
 */
export const parse = (
  options: unknown,
  defaultServerName: string | undefined
): ParsedTls | InvalidArgument | TlsError => {
  if (options === undefined || options === null || options === true) options = {}
  if (typeof options !== "object" || Array.isArray(options)) {
    return validate.invalid("tls", `tls options must be an object, got ${validate.typeName(options)}`)
  }
  const o = options as Record<string, unknown>

  let serverName: string | undefined = defaultServerName
  if (o.serverName !== undefined && o.serverName !== null) {
    if (typeof o.serverName !== "string" || o.serverName.length === 0 || /[\s,\0]/.test(o.serverName)) {
      return validate.invalid("serverName", `bad "serverName" option: ${describeValue(o.serverName)}`)
    }
    serverName = o.serverName
  }
  if (serverName !== undefined) {
    serverName = validate.unbracket(serverName)
    serverName = serverName.toLowerCase()
  }

  let verify = true
  if (o.verify !== undefined && o.verify !== null) {
    if (typeof o.verify !== "boolean") {
      return validate.invalid("verify", `bad "verify" option type: ${validate.typeName(o.verify)}`)
    }
    verify = o.verify
  }

  let ca: ReadonlyArray<string | Uint8Array> | undefined
  if (o.ca !== undefined && o.ca !== null) {
    if (isMaterial(o.ca)) ca = [o.ca]
    else if (Array.isArray(o.ca) && o.ca.every(isMaterial)) ca = o.ca
    else return validate.invalid("ca", `bad "ca" option: string, Uint8Array or an array of them expected`)
  }

  const cert = o.cert ?? undefined
  if (cert !== undefined && !isMaterial(cert)) {
    return validate.invalid("cert", `bad "cert" option: string or Uint8Array expected, got ${validate.typeName(cert)}`)
  }
  // Secrets: wrapped in `Redacted` at once; a message names the type only, never the value.
  const key = secret(o.key, isMaterial)
  if (key === null) {
    return validate.invalid("key", `bad "key" option: string, Uint8Array or Redacted expected, got ${typeOf(o.key)}`)
  }
  const passphrase = secret(o.passphrase, (u): u is string => typeof u === "string")
  if (passphrase === null) {
    return validate.invalid(
      "passphrase",
      `bad "passphrase" option: string or Redacted expected, got ${typeOf(o.passphrase)}`
    )
  }

  let alpnProtocols: ReadonlyArray<string> | undefined
  if (o.alpnProtocols !== undefined && o.alpnProtocols !== null) {
    const list = o.alpnProtocols
    if (
      !Array.isArray(list) ||
      !list.every((p) => typeof p === "string" && p.length > 0 && encoder.encode(p).length <= 255)
    ) {
      return validate.invalid("alpnProtocols", `bad "alpnProtocols" option: non-empty protocol names expected`)
    }
    alpnProtocols = list as ReadonlyArray<string>
  }

  let session: Api.TlsSession | undefined
  if (o.session !== undefined && o.session !== null) {
    if (!isTlsSession(o.session)) {
      return validate.invalid(
        "session",
        `bad "session" option: TlsSession expected, got ${validate.typeName(o.session)}`
      )
    }
    session = o.session
  }

  let keepSession = true
  if (o.keepSession !== undefined && o.keepSession !== null) {
    if (typeof o.keepSession !== "boolean") {
      return validate.invalid("keepSession", `bad "keepSession" option type: ${validate.typeName(o.keepSession)}`)
    }
    keepSession = o.keepSession
  }

  const minVersion = version("minVersion", o.minVersion)
  if (validate.isInvalid(minVersion)) return minVersion
  const maxVersion = version("maxVersion", o.maxVersion)
  if (validate.isInvalid(maxVersion)) return maxVersion
  if (minVersion === "TLSv1.3" && maxVersion === "TLSv1.2") {
    return validate.invalid("minVersion", `"minVersion" TLSv1.3 is above "maxVersion" TLSv1.2`)
  }

  // Set-up errors (OpenResty's setclientcert): checked after the types, before anything is sent.
  if ((cert === undefined) !== (key === undefined)) {
    return new TlsError({ reason: "setup", detail: CERT_WITHOUT_KEY })
  }

  const identity = identityOf(serverName, verify, ca, cert as string | Uint8Array | undefined)
  const sessionBytes = session !== undefined && session.identity === identity && session.bytes.length > 0
    ? session.bytes
    : undefined
  return {
    keepSession,
    upgrade: {
      serverName,
      verify,
      ca,
      cert: cert as string | Uint8Array | undefined,
      key,
      passphrase,
      alpnProtocols,
      session: sessionBytes,
      minVersion,
      maxVersion,
      identity
    }
  }
}
