import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Chunking } from "../src/testing/index.js"

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (chunk: Uint8Array) => new TextDecoder().decode(chunk)

describe("Chunking", () => {
  it("split cuts at sorted, unique, in-range points; concat joins", () => {
    const input = bytes("hello")
    expect(Chunking.split(input, [3, 1]).map(text)).toEqual(["h", "el", "lo"])
    expect(Chunking.split(input, [0, 5, 9, -1, 2, 2, 1.5]).map(text)).toEqual(["he", "llo"])
    expect(Chunking.split(input, []).map(text)).toEqual(["hello"])
    expect(Chunking.split(new Uint8Array(0), [1])).toEqual([])
    expect(text(Chunking.concat([bytes("ab"), new Uint8Array(0), bytes("c")]))).toBe("abc")
    expect(Chunking.concat([])).toEqual(new Uint8Array(0))
  })

  it("arbitraryChunking: non-empty chunks whose concatenation is the input", () => {
    fc.assert(
      fc.property(
        Chunking.arbitraryBytes({ maxLength: 40 }).chain((input) =>
          Chunking.arbitraryChunking(input).map((chunks) => [input, chunks] as const)
        ),
        ([input, chunks]) => {
          expect(Chunking.concat(chunks)).toEqual(input)
          expect(chunks.every((chunk) => chunk.length > 0)).toBe(true)
          expect(chunks.length).toBeLessThanOrEqual(input.length)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("arbitraryChunked: respects the alphabet, the lengths and maxChunks", () => {
    fc.assert(
      fc.property(
        fc.record({ value: Chunking.arbitraryChunked({ alphabet: "x\n", minLength: 2, maxLength: 10, maxChunks: 3 }) }),
        ({ value: { bytes: input, chunks } }) => {
          expect(input.length).toBeGreaterThanOrEqual(2)
          expect(input.length).toBeLessThanOrEqual(10)
          expect(Array.from(input).every((byte) => byte === 0x78 || byte === 0x0a)).toBe(true)
          expect(chunks.length).toBeGreaterThanOrEqual(1)
          expect(chunks.length).toBeLessThanOrEqual(3)
          expect(Chunking.concat(chunks)).toEqual(input)
        }
      )
    )
  })

  it("arbitraryChunking reaches the one-chunk and the one-byte-per-chunk splits", () => {
    const input = bytes("abcdef")
    const counts = new Set(
      fc.sample(Chunking.arbitraryChunking(input), { numRuns: 500, seed: 42 })
        .map((chunks) => chunks.length)
    )
    expect(counts.has(1)).toBe(true)
    expect(counts.has(6)).toBe(true)
    expect(fc.sample(Chunking.arbitraryChunking(new Uint8Array(0)), 3)).toEqual([[], [], []])
  })

  it("arbitraryChunking shrinks towards fewer chunks", () => {
    const input = bytes("0123456789")
    // a property that fails whenever there is more than one chunk: the counterexample shrinks to two
    const details = fc.check(
      fc.property(Chunking.arbitraryChunking(input), (chunks) => chunks.length <= 1),
      { seed: 7 }
    )
    expect(details.failed).toBe(true)
    expect(details.counterexample![0].length).toBe(2)
  })

  it("arbitraryBytes rejects an empty alphabet and non-latin1 characters", () => {
    expect(() => Chunking.arbitraryBytes({ alphabet: "" })).toThrow(RangeError)
    expect(() => Chunking.arbitraryBytes({ alphabet: "€" })).toThrow(RangeError)
    const sample = fc.sample(Chunking.arbitraryBytes({ alphabet: new Uint8Array([0, 255]) }), 20)
    expect(sample.every((value) => Array.from(value).every((byte) => byte === 0 || byte === 255))).toBe(true)
  })
})
