/**
 * TLS option validation and identity: turns the public `TlsOptions` into the connector's
 * `TlsUpgradeOptions`, with the canonical identity string that goes into pool keys and is compared
 * when a handshake meets a connection that is already TLS. Pure (a small SHA-256 is included so no
 * platform crypto is needed).
 *
 * @internal
 */
import * as Redacted from "effect/Redacted"
import { type InvalidArgument, TlsError } from "../CosocketError.js"
import type * as Api from "../Tls.js"
import type { TlsState, TlsUpgradeOptions } from "../Transport.js"
import { sha256Hex } from "./sha256.js"
import * as validate from "./validate.js"

export { sha256Hex } from "./sha256.js"

export const TypeId: Api.TypeId = Symbol.for("effect-cosocket/TlsSession") as Api.TypeId

const EMPTY = new Uint8Array(0)
const encoder = new TextEncoder()

// -------------------------------------------------------------------------------------------------
// sessions

class SessionImpl implements Api.TlsSession {
  readonly [TypeId]: Api.TypeId = TypeId
  constructor(
    private readonly latest: () => Uint8Array | undefined,
    readonly identity: string,
    readonly protocol: string | undefined,
    readonly alpnProtocol: string | undefined,
    readonly resumed: boolean
  ) {}
  get bytes(): Uint8Array {
    return this.latest() ?? EMPTY
  }
  toJSON(): unknown {
    return {
      _id: "TlsSession",
      identity: this.identity,
      protocol: this.protocol,
      alpnProtocol: this.alpnProtocol,
      resumed: this.resumed,
      bytes: this.bytes.length
    }
  }
}

export const isTlsSession = (u: unknown): u is Api.TlsSession =>
  typeof u === "object" && u !== null && (u as { [TypeId]?: unknown })[TypeId] === TypeId

export const makeSession = (fields: {
  readonly bytes: Uint8Array
  readonly identity: string
  readonly protocol?: string | undefined
  readonly alpnProtocol?: string | undefined
  readonly resumed?: boolean | undefined
}): Api.TlsSession => {
  const bytes = fields.bytes.slice()
  return new SessionImpl(
    () => bytes,
    fields.identity,
    fields.protocol,
    fields.alpnProtocol,
    fields.resumed === true
  )
}

/** The session of an upgraded stream: a live view whose `bytes` follow the latest ticket. */
export const sessionOf = (state: TlsState): Api.TlsSession =>
  new SessionImpl(state.session, state.identity, state.protocol, state.alpnProtocol, state.resumed)

// -------------------------------------------------------------------------------------------------
// validation

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

/**
 * The canonical TLS identity: `sni=<name|->,verify=<1|0>,ca=<sha256|default>,cert=<sha256|->`.
 * CA and client certificate are fingerprinted (SHA-256 of the material as given).
 */
export const identityOf = (
  serverName: string | undefined,
  verify: boolean,
  ca: ReadonlyArray<string | Uint8Array> | undefined,
  cert: string | Uint8Array | undefined
): string =>
  `sni=${serverName ?? "-"},verify=${verify ? 1 : 0},ca=${ca === undefined ? "default" : fingerprint(ca)},cert=${
    cert === undefined ? "-" : fingerprint([cert])
  }`

// -------------------------------------------------------------------------------------------------
// fingerprints

const byObject = new WeakMap<object, string>()
const byString = new Map<string, string>()
const MAX_CACHED_STRINGS = 64

const itemBytes = (item: string | Uint8Array): Uint8Array => typeof item === "string" ? encoder.encode(item) : item

/** SHA-256 (hex) over the items, each prefixed with its length; cached per object or string. */
export const fingerprint = (items: ReadonlyArray<string | Uint8Array>): string => {
  const single = items.length === 1 ? items[0] : undefined
  const cacheKey: object | string | undefined = single ?? (items as object)
  const cached = typeof cacheKey === "string" ? byString.get(cacheKey) : byObject.get(cacheKey)
  if (cached !== undefined) return cached
  const parts = items.map(itemBytes)
  const total = parts.reduce((n, p) => n + 4 + p.length, 0)
  const all = new Uint8Array(total)
  let offset = 0
  for (const p of parts) {
    all[offset] = (p.length >>> 24) & 0xff
    all[offset + 1] = (p.length >>> 16) & 0xff
    all[offset + 2] = (p.length >>> 8) & 0xff
    all[offset + 3] = p.length & 0xff
    all.set(p, offset + 4)
    offset += 4 + p.length
  }
  const hex = sha256Hex(all)
  if (typeof cacheKey === "string") {
    if (byString.size >= MAX_CACHED_STRINGS) byString.clear()
    byString.set(cacheKey, hex)
  } else {
    byObject.set(cacheKey, hex)
  }
  return hex
}
