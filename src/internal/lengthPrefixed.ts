/**
 * The framing used before hashing a list of values (TLS fingerprints, credential ids): each value
 * as its UTF-8 or raw bytes, preceded by its length as a 4-byte big-endian integer. The lengths
 * keep the encoding unambiguous: `["ab", "c"]` and `["a", "bc"]` hash differently.
 *
 * @internal
 */

const encoder = new TextEncoder()

/** The bytes of a value: strings as UTF-8, byte arrays as given. */
export const bytesOf = (value: string | Uint8Array): Uint8Array =>
  typeof value === "string" ? encoder.encode(value) : value

/** The values one after the other, each preceded by its byte length (4 bytes, big-endian). */
export const lengthPrefixed = (values: ReadonlyArray<string | Uint8Array>): Uint8Array => {
  const parts = values.map(bytesOf)
  const out = new Uint8Array(parts.reduce((n, part) => n + 4 + part.length, 0))
  const view = new DataView(out.buffer)
  let offset = 0
  for (const part of parts) {
    view.setUint32(offset, part.length)
    out.set(part, offset + 4)
    offset += 4 + part.length
  }
  return out
}
