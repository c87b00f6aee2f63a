/**
 * fast-check helpers for property tests of byte-stream parsers: any input, cut into any
 * chunking, must give the same result as the input delivered in one piece.
 *
 * @since 0.1.0
 */
import * as FastCheck from "fast-check"
import { concat as concatParts } from "../internal/sendable.js"

/**
 * Options of {@link arbitraryBytes}.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Chunking } from "effect-cosocket/testing"
 *
 * const options: Chunking.BytesOptions = { alphabet: "-ab\r\n", maxLength: 32 }
 * ```
 */
export interface BytesOptions {
  /**
   * The bytes to draw from, as a latin1 string (each character is one byte, code < 256) or as
   * bytes. A small alphabet makes delimiters and patterns occur often. Default `"ab\r\n"`.
   */
  readonly alphabet?: string | Uint8Array | undefined
  /** Default 0. */
  readonly minLength?: number | undefined
  /** Default 64. */
  readonly maxLength?: number | undefined
}

/**
 * Options of {@link arbitraryChunking}.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Chunking } from "effect-cosocket/testing"
 *
 * const options: Chunking.ChunkingOptions = { maxChunks: 4 }
 * ```
 */
export interface ChunkingOptions {
  /** The most chunks a generated chunking may have. Default: one chunk per byte. */
  readonly maxChunks?: number | undefined
}

const toBytes = (input: string | Uint8Array): Uint8Array => {
  if (typeof input !== "string") {
    return input
  }
  const bytes = new Uint8Array(input.length)
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i)
    if (code > 255) {
      throw new RangeError(`alphabet character ${JSON.stringify(input[i])} is not a latin1 byte`)
    }
    bytes[i] = code
  }
  return bytes
}

/**
 * Concatenates chunks into one byte array (a new copy, also for a single chunk).
 *
 * @since 0.1.0
 * @category utils
 * @example
 * ```ts
 * import { Chunking } from "effect-cosocket/testing"
 *
 * const bytes = Chunking.concat([new Uint8Array([1, 2]), new Uint8Array([3])])
 * console.log(bytes) // Uint8Array [1, 2, 3]
 * ```
 */
export const concat = (chunks: Iterable<Uint8Array>): Uint8Array => {
  const list = Array.from(chunks)
  // Always a fresh array, also for a single chunk (the shared helper returns that chunk itself).
  return list.length === 1 ? list[0].slice() : concatParts(list)
}

/**
 * Cuts bytes at the given offsets. Cut points outside `(0, bytes.length)` and duplicates are
 * ignored and the rest are sorted, so every chunk is non-empty (an empty input gives no chunks)
 * and `concat(split(bytes, cuts))` equals `bytes`. Chunks are copies.
 *
 * @since 0.1.0
 * @category utils
 * @example
 * ```ts
 * import { Chunking } from "effect-cosocket/testing"
 *
 * const chunks = Chunking.split(new TextEncoder().encode("hello"), [3, 1])
 * console.log(chunks.map((c) => new TextDecoder().decode(c))) // ["h", "el", "lo"]
 * ```
 */
export const split = (bytes: Uint8Array, cutPoints: Iterable<number>): Array<Uint8Array> => {
  if (bytes.length === 0) {
    return []
  }
  const cuts = Array.from(new Set(cutPoints))
    .filter((cut) => Number.isInteger(cut) && cut > 0 && cut < bytes.length)
    .sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let start = 0
  for (const cut of cuts) {
    chunks.push(bytes.slice(start, cut))
    start = cut
  }
  chunks.push(bytes.slice(start))
  return chunks
}

/**
 * Every split of `bytes` into non-empty chunks whose concatenation equals `bytes`; an empty input
 * gives `[]`. Chunkings are mostly a few random cuts, sometimes one byte per chunk, and shrink
 * towards fewer chunks (down to the whole input as one chunk).
 *
 * @since 0.1.0
 * @category arbitraries
 * @example
 * ```ts
 * import * as FastCheck from "fast-check"
 * import { Chunking } from "effect-cosocket/testing"
 *
 * const input = new TextEncoder().encode("GET / HTTP/1.1\r\n")
 * FastCheck.assert(
 *   FastCheck.property(Chunking.arbitraryChunking(input), (chunks) =>
 *     Chunking.concat(chunks).length === input.length)
 * )
 * ```
 */
export const arbitraryChunking = (
  bytes: Uint8Array,
  options?: ChunkingOptions
): FastCheck.Arbitrary<ReadonlyArray<Uint8Array>> => {
  const length = bytes.length
  if (length === 0) {
    return FastCheck.constant([])
  }
  const maxChunks = Math.max(1, Math.min(length, Math.floor(options?.maxChunks ?? length)))
  if (length === 1 || maxChunks === 1) {
    return FastCheck.constant([bytes.slice()])
  }
  const cuts = FastCheck.uniqueArray(FastCheck.integer({ min: 1, max: length - 1 }), { maxLength: maxChunks - 1 })
    .map((points): ReadonlyArray<Uint8Array> => split(bytes, points))
  if (maxChunks < length) {
    return cuts
  }
  const singleBytes = FastCheck.constant(null).map((): ReadonlyArray<Uint8Array> =>
    split(bytes, Array.from({ length: length - 1 }, (_, i) => i + 1))
  )
  return FastCheck.oneof({ withCrossShrink: true }, { arbitrary: cuts, weight: 9 }, {
    arbitrary: singleBytes,
    weight: 1
  })
}

/**
 * Byte strings over a small alphabet (default `"ab\r\n"`), so that delimiters and patterns
 * occur often. Shrinks towards shorter strings of the alphabet's first byte.
 *
 * @since 0.1.0
 * @category arbitraries
 * @example
 * ```ts
 * import * as FastCheck from "fast-check"
 * import { Chunking } from "effect-cosocket/testing"
 *
 * const samples = FastCheck.sample(Chunking.arbitraryBytes({ alphabet: "-ab", maxLength: 8 }), 3)
 * console.log(samples.every((bytes) => bytes.length <= 8)) // true
 * ```
 */
export const arbitraryBytes = (options?: BytesOptions): FastCheck.Arbitrary<Uint8Array> => {
  const alphabet = Array.from(toBytes(options?.alphabet ?? "ab\r\n"))
  if (alphabet.length === 0) {
    throw new RangeError("arbitraryBytes: the alphabet is empty")
  }
  return FastCheck.array(FastCheck.constantFrom(...alphabet), {
    minLength: options?.minLength ?? 0,
    maxLength: options?.maxLength ?? 64
  }).map((values) => Uint8Array.from(values))
}

/**
 * A byte string from {@link arbitraryBytes} together with one of its chunkings from
 * {@link arbitraryChunking}: the usual input of "any input, any chunking" properties.
 *
 * @since 0.1.0
 * @category arbitraries
 * @example
 * ```ts
 * import * as FastCheck from "fast-check"
 * import { Chunking } from "effect-cosocket/testing"
 *
 * FastCheck.assert(
 *   FastCheck.property(Chunking.arbitraryChunked({ alphabet: "a\n" }), ({ bytes, chunks }) =>
 *     Chunking.concat(chunks).length === bytes.length)
 * )
 * ```
 */
export const arbitraryChunked = (
  options?: BytesOptions & ChunkingOptions
): FastCheck.Arbitrary<{ readonly bytes: Uint8Array; readonly chunks: ReadonlyArray<Uint8Array> }> =>
  arbitraryBytes(options).chain((bytes) => arbitraryChunking(bytes, options).map((chunks) => ({ bytes, chunks })))
