/**
 * Program generators, biased to where read engines break: patterns that overlap themselves
 * (`--abc` in `-----abc--abc`), pattern prefixes cut by chunk boundaries and left at the end of the
 * stream, CR/LF runs, one byte per segment, empty reads (`receive(0)`, a pattern at the head).
 * The stream and the patterns share a small alphabet, so matches and near-matches are frequent.
 *
 * Built from records, arrays, `oneof`, `constantFrom`, integers and strings only (no `chain`, no
 * `map`), so fast-check can shrink any program, also one given as an example.
 */
import * as fc from "fast-check"
import type { Chunk, Op, Program } from "./program.js"

const PATTERNS = [
  "--abc",
  "--",
  "-",
  "\r\n",
  "\r\n\r\n",
  "\n",
  "aab",
  "abab",
  "abcabd",
  "ab",
  "aaa",
  "x",
  "-a-",
  "aaaaad"
]

const pattern: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PATTERNS) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom("-", "a", "b", "\r", "\n"), minLength: 1, maxLength: 4 }) }
)

/** Stream pieces: single bytes, CR/LF runs, patterns and their prefixes. */
const piece: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("-", "a", "b", "c", "d", "x", "\r", "\n") },
  { weight: 1, arbitrary: fc.constantFrom("\r\n", "\r\r\n", "\n\n", "\r\n\r\n", "\r\n\r") },
  {
    weight: 2,
    arbitrary: fc.constantFrom("--abc", "-----abc--abc", "--ab", "--a", "aab", "aaab", "abcab", "abcabd", "abab")
  }
)

const chunk: fc.Arbitrary<Chunk> = fc.record({
  bytes: fc.string({ unit: piece, minLength: 1, maxLength: 4 }),
  at: fc.integer({ min: 0, max: 10 }),
  pause: fc.constantFrom(0, 0, 0, 1, 3)
})

// Mostly the newest reader, sometimes an older one.
const back = fc.constantFrom(0, 0, 0, 1, 2)
const small = fc.integer({ min: 1, max: 7 })

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("line" as const) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("all" as const) }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("bytes" as const), n: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("any" as const), max: small }) },
  {
    weight: 3,
    arbitrary: fc.record({ _tag: fc.constant("until" as const), pattern, inclusive: fc.boolean() })
  },
  { weight: 4, arbitrary: fc.record({ _tag: fc.constant("read" as const), back }) },
  { weight: 5, arbitrary: fc.record({ _tag: fc.constant("chunk" as const), back, size: small }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("keepalive" as const) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("busy" as const) }) }
)

export const program: fc.Arbitrary<Program> = fc.record({
  chunks: fc.array(chunk, { minLength: 1, maxLength: 8 }),
  fin: fc.option(fc.integer({ min: 0, max: 12 }), { nil: null, freq: 3 }),
  byteByByte: fc.constantFrom(false, false, false, true),
  reader: fc.record({ pattern, inclusive: fc.boolean() }),
  ops: fc.array(op, { minLength: 1, maxLength: 14 })
})
