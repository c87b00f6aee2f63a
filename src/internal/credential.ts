/**
 * Opaque credential ids for pool keys: a keyed hash (HMAC-SHA-256) under a random key made once per
 * process. The same credential gets the same id within the process, so pooled connections are
 * shared by exactly the callers that use it; outside the process the id says nothing, and without
 * the key a password guess cannot be tested against it (an unkeyed hash could be, offline).
 *
 * @internal
 */
import * as Redacted from "effect/Redacted"
import { hex, hmacSha256 } from "./sha256.js"

let processKey: Uint8Array | undefined = undefined

/** 32 random bytes from the platform's CSPRNG (Web Crypto, global in Node and browsers). */
const key = (): Uint8Array => processKey ??= globalThis.crypto.getRandomValues(new Uint8Array(32))

const encoder = new TextEncoder()

/** How many hex digits of the HMAC an id keeps (64 bits: collisions are out of reach). */
const DIGITS = 16

export type Part = string | Uint8Array | Redacted.Redacted<string> | Redacted.Redacted<Uint8Array>

/** `cred-` and 16 hex digits of HMAC-SHA-256(process key, the parts, each length-prefixed). */
export const credentialId = (...parts: ReadonlyArray<Part>): string => {
  const bytes = parts.map((part) => {
    const value = Redacted.isRedacted(part) ? Redacted.value(part as Redacted.Redacted<string | Uint8Array>) : part
    return typeof value === "string" ? encoder.encode(value) : value
  })
  const message = new Uint8Array(bytes.reduce((n, b) => n + 4 + b.length, 0))
  const view = new DataView(message.buffer)
  let offset = 0
  for (const b of bytes) {
    view.setUint32(offset, b.length)
    message.set(b, offset + 4)
    offset += 4 + b.length
  }
  return `cred-${hex(hmacSha256(key(), message)).slice(0, DIGITS)}`
}
