import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Matcher } from "../src/internal/matcher.js"
import { bytes, heldBack, indexOfBytes } from "./support/reference.js"

/** Patterns with self-overlapping prefixes, where naive streaming matchers go wrong. */
const tricky = ["--abc", "aaaaad", "abcabd", "abcabdabcabe", "aa", "aaa", "ab1ab2", "-ab", "a", "abab"]

const arbitraryText = fc.string({ unit: fc.constantFrom("a", "b", "c", "d", "-"), maxLength: 40 })
const arbitraryPattern = fc.oneof(
  fc.constantFrom(...tricky),
  fc.string({ unit: fc.constantFrom("a", "b", "-"), minLength: 1, maxLength: 6 })
)

/**
 * The reference answer for feeding `text` in state `k`: the state means "the last k bytes fed
 * were pattern[0, k)", so the search runs over that prefix followed by the text. Returns the
 * index in `text` just past the first match, or `-(state + 1)` with the state after the text.
 */
const reference = (pattern: Uint8Array, k: number, text: Uint8Array): number => {
  const history = Uint8Array.from([...pattern.subarray(0, k), ...text])
  const at = indexOfBytes(history, pattern)
  if (at >= 0) return at + pattern.length - k
  return -(heldBack(history, pattern) + 1)
}

/** Feeds `text` cut at `cuts` (ranges of one array), carrying the state; like one feed of the whole. */
const feedInRanges = (matcher: Matcher, text: Uint8Array, cuts: ReadonlyArray<number>, k: number): number => {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
  let state = k
  let from = 0
  for (const to of [...points, text.length]) {
    if (to < from) continue
    const r = matcher.feed(text, from, to, state)
    if (r >= 0) return r
    state = -r - 1
    from = to
  }
  return -(state + 1)
}

describe("Matcher (streaming KMP)", () => {
  it("finds --abc in -----abc--abc (the match begins inside a run of dashes)", () => {
    const m = new Matcher(bytes("--abc"))
    const t = bytes("-----abc--abc")
    expect(m.feed(t, 0, t.length, 0)).toBe(8)
    expect(m.feed(t, 8, t.length, 0)).toBe(13)
  })

  it.each([
    ["aaaaad", "baaaaaaaaeaaaaaaadf", 18],
    ["abcabd", "abcabcabd", 9],
    ["abcabdabcabe", "abcabdabcabcabdabcabe", 21],
    ["abcabdabcabe", "abcabcabdabcabe", 15],
    ["aa", "abcabcaad", 8],
    ["aaa", "abaabcaaaef", 9]
  ])("pattern %s in %s ends at %i", (pattern, t, end) => {
    const m = new Matcher(bytes(pattern))
    const b = bytes(t)
    expect(m.feed(b, 0, b.length, 0)).toBe(end)
    // One byte at a time, carrying the state.
    let state = 0
    let found = -1
    for (let i = 0; i < b.length && found < 0; i++) {
      const r = m.feed(b, i, i + 1, state)
      if (r >= 0) found = r
      else state = -r - 1
    }
    expect(found).toBe(end)
  })

  it("returns the state after the text when there is no match", () => {
    const m = new Matcher(bytes("--abc"))
    const t = bytes("xy---a")
    expect(m.feed(t, 0, t.length, 0)).toBe(-(3 + 1))
    expect(m.feed(t, 0, 0, 2)).toBe(-(2 + 1))
  })

  it("from any start state, feed over the whole text finds the leftmost occurrence like indexOf", () => {
    fc.assert(
      fc.property(
        fc.record({ pattern: arbitraryPattern, text: arbitraryText, k: fc.nat() }),
        ({ k: rawK, pattern: p, text: t }) => {
          const pattern = bytes(p)
          const k = rawK % pattern.length
          const text = bytes(t)
          expect(new Matcher(pattern).feed(text, 0, text.length, k)).toBe(reference(pattern, k, text))
        }
      ),
      { numRuns: 300 }
    )
  })

  describe.each(
    [
      ["with the native substring search", undefined],
      ["without a native substring search (a runtime with no Buffer)", null]
    ] as const
  )("%s", (_, search) => {
    it("any split points of one array, state carried over, give the same answer as the whole text", () => {
      fc.assert(
        fc.property(
          fc.record({
            pattern: arbitraryPattern,
            text: arbitraryText,
            k: fc.nat(),
            cuts: fc.array(fc.nat(), { maxLength: 8 })
          }),
          ({ cuts, k: rawK, pattern: p, text: t }) => {
            const pattern = bytes(p)
            const k = rawK % pattern.length
            const text = bytes(t)
            expect(feedInRanges(new Matcher(pattern, search), text, cuts, k)).toBe(reference(pattern, k, text))
          }
        ),
        { numRuns: 300 }
      )
    })
  })

  it("separate chunk arrays, state carried over, find the match at the same stream offset", () => {
    fc.assert(
      fc.property(
        fc.record({ pattern: arbitraryPattern, text: arbitraryText, cuts: fc.array(fc.nat(), { maxLength: 8 }) }),
        ({ cuts, pattern: p, text: t }) => {
          const pattern = bytes(p)
          const text = bytes(t)
          const matcher = new Matcher(pattern)
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
          let state = 0
          let offset = 0
          let found = -1
          let from = 0
          for (const to of [...points, text.length]) {
            const chunk = text.slice(from, to)
            const r = matcher.feed(chunk, 0, chunk.length, state)
            if (r >= 0) {
              found = offset + r
              break
            }
            state = -r - 1
            offset += chunk.length
            from = to
          }
          const expected = reference(pattern, 0, text)
          expect(found >= 0 ? found : -(state + 1)).toBe(expected)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("bytes outside [from, to) are ignored", () => {
    fc.assert(
      fc.property(
        fc.record({ pattern: arbitraryPattern, before: arbitraryText, text: arbitraryText, after: arbitraryText }),
        ({ after, before, pattern: p, text: t }) => {
          const pattern = bytes(p)
          const whole = bytes(before + t + after)
          const from = before.length
          const r = new Matcher(pattern).feed(whole, from, from + t.length, 0)
          const expected = reference(pattern, 0, bytes(t))
          expect(r >= 0 ? r - from : r).toBe(expected)
        }
      ),
      { numRuns: 200 }
    )
  })
})
