/**
 * The TLS identity of a connection: the canonical string that joins the pool key and is compared
 * when a handshake meets a connection that is already TLS. Two option sets share pooled connections
 * exactly when their server name, verification, CA and client certificate are equal; the key,
 * passphrase, ALPN list and session are not part of it. Certificates enter it as SHA-256
 * fingerprints, so the pool key stays short and prints no certificate.
 *
 * @internal
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { bytesToHex } from "@noble/hashes/utils.js"
import { lengthPrefixed } from "./lengthPrefixed.js"

/**
 * The canonical TLS identity: `sni=<name|->,verify=<1|0>,ca=<fingerprint|default>,cert=<fingerprint|->`.
 * `serverName` is expected already normalised (lower case, no brackets).
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

// The same CA bundle or certificate is usually passed on every connect: its fingerprint is cached
// per array or byte-array object (weakly) and per string (a small map, emptied when full).
const byObject = new WeakMap<object, string>()
const byString = new Map<string, string>()
const MAX_CACHED_STRINGS = 64

/**
 * SHA-256 (lower-case hex) of the items, each length-prefixed (./lengthPrefixed.ts), so a string
 * and the same text as bytes give the same fingerprint.
 */
export const fingerprint = (items: ReadonlyArray<string | Uint8Array>): string => {
  const single = items.length === 1 ? items[0] : undefined
  const cacheKey: object | string = single ?? items
  const cached = typeof cacheKey === "string" ? byString.get(cacheKey) : byObject.get(cacheKey)
  if (cached !== undefined) return cached
  const hex = bytesToHex(sha256(lengthPrefixed(items)))
  if (typeof cacheKey === "string") {
    if (byString.size >= MAX_CACHED_STRINGS) byString.clear()
    byString.set(cacheKey, hex)
  } else {
    byObject.set(cacheKey, hex)
  }
  return hex
}
