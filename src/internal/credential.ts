/**
 * Opaque credential ids for pool keys: a keyed hash (HMAC-SHA-256) under a random key made once per
 * process. The same credential gets the same id within the process, so pooled connections are
 * shared by exactly the callers that use it; outside the process the id says nothing, and without
 * the key a password guess cannot be tested against it (an unkeyed hash could be, offline).
 *
 * @internal
 */
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { bytesToHex } from "@noble/hashes/utils.js"
import * as Redacted from "effect/Redacted"
import { lengthPrefixed } from "./lengthPrefixed.js"

let processKey: Uint8Array | undefined = undefined

/** 32 random bytes from the platform's CSPRNG (Web Crypto, global in Node and browsers). */
const key = (): Uint8Array => processKey ??= globalThis.crypto.getRandomValues(new Uint8Array(32))

/** How many hex digits of the HMAC an id keeps (64 bits: collisions are out of reach). */
const DIGITS = 16

export type Part = string | Uint8Array | Redacted.Redacted<string> | Redacted.Redacted<Uint8Array>

/** A part's value, unwrapped when it is `Redacted`. */
const reveal = (part: Part): string | Uint8Array =>
  Redacted.isRedacted(part) ? Redacted.value(part as Redacted.Redacted<string | Uint8Array>) : part

/** HMAC-SHA-256 under `macKey` of the parts, each length-prefixed. */
export const keyedDigest = (macKey: Uint8Array, parts: ReadonlyArray<Part>): Uint8Array =>
  hmac(sha256, macKey, lengthPrefixed(parts.map(reveal)))

/** `cred-` and the first 16 hex digits of {@link keyedDigest} under the process key. */
export const credentialId = (...parts: ReadonlyArray<Part>): string =>
  `cred-${bytesToHex(keyedDigest(key(), parts)).slice(0, DIGITS)}`
