/**
 * TLS option validation and identity: turns the public `TlsOptions` into the connector's
 * `TlsUpgradeOptions`, with the canonical identity string that goes into pool keys and is compared
 * when a handshake meets a connection that is already TLS. Pure (a small SHA-256 is included so no
 * platform crypto is needed).
 *
 * @internal
 */
import { type InvalidArgument, TlsError } from "../CosocketError.js"
import type * as Api from "../Tls.js"
import type { TlsState, TlsUpgradeOptions } from "../Transport.js"
import * as validate from "./validate.js"

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

const describeValue = (u: unknown): string => typeof u === "string" ? JSON.stringify(u) : validate.typeName(u)

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
    if (typeof o.serverName !== "string" || o.serverName.length === 0 || /[\s,]/.test(o.serverName)) {
      return validate.invalid("serverName", `bad "serverName" option: ${describeValue(o.serverName)}`)
    }
    serverName = o.serverName
  }
  if (serverName !== undefined) {
    serverName = serverName.startsWith("[") && serverName.endsWith("]") ? serverName.slice(1, -1) : serverName
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
  const key = o.key ?? undefined
  if (cert !== undefined && !isMaterial(cert)) {
    return validate.invalid("cert", `bad "cert" option: string or Uint8Array expected, got ${validate.typeName(cert)}`)
  }
  if (key !== undefined && !isMaterial(key)) {
    return validate.invalid("key", `bad "key" option: string or Uint8Array expected, got ${validate.typeName(key)}`)
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
      key: key as string | Uint8Array | undefined,
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

const K = new Uint32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2
])

/** SHA-256 of `data` as lower-case hex (FIPS 180-4). */
export const sha256Hex = (data: Uint8Array): string => {
  const bitLength = data.length * 8
  const padded = new Uint8Array(((data.length + 9 + 63) >> 6) << 6)
  padded.set(data)
  padded[data.length] = 0x80
  const view = new DataView(padded.buffer)
  view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000))
  view.setUint32(padded.length - 4, bitLength >>> 0)
  const h = new Uint32Array([
    0x6a09e667,
    0xbb67ae85,
    0x3c6ef372,
    0xa54ff53a,
    0x510e527f,
    0x9b05688c,
    0x1f83d9ab,
    0x5be0cd19
  ])
  const w = new Uint32Array(64)
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(block + i * 4)
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15]
      const b = w[i - 2]
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3)
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7]
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
      const ch = (e & f) ^ (~e & g)
      const t1 = (k + S1 + ch + K[i] + w[i]) >>> 0
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
      const maj = (a & b) ^ (a & c) ^ (b & c)
      const t2 = (S0 + maj) >>> 0
      k = g
      g = f
      f = e
      e = (d + t1) >>> 0
      d = c
      c = b
      b = a
      a = (t1 + t2) >>> 0
    }
    h[0] = (h[0] + a) >>> 0
    h[1] = (h[1] + b) >>> 0
    h[2] = (h[2] + c) >>> 0
    h[3] = (h[3] + d) >>> 0
    h[4] = (h[4] + e) >>> 0
    h[5] = (h[5] + f) >>> 0
    h[6] = (h[6] + g) >>> 0
    h[7] = (h[7] + k) >>> 0
  }
  let out = ""
  for (let i = 0; i < 8; i++) out += h[i].toString(16).padStart(8, "0")
  return out
}
