/**
 * The pool's duration histograms on their own (pure): what a snapshot reads from them is exactly
 * what Effect's own histogram with the same boundaries reports for the same observations.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as fc from "fast-check"
import { DurationHistogram } from "../src/internal/poolMetrics.js"

/** Effect's own histogram of the pool's use time, fed the same observations. */
const reference = (observations: ReadonlyArray<number>): Metric.HistogramState => {
  const histogram = Metric.histogram(`reference-${Math.random()}`, {
    boundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]
  })
  return Effect.runSync(Effect.gen(function*() {
    for (const seconds of observations) yield* Metric.update(histogram, seconds)
    return yield* Metric.value(histogram)
  }))
}

const observed = (observations: ReadonlyArray<number>): Metric.HistogramState => {
  const h = new DurationHistogram()
  for (const seconds of observations) h.observe(seconds)
  return h.state()
}

describe("DurationHistogram", () => {
  it("boundaries are inclusive, values above the last count only in count and sum", () => {
    const state = observed([0.001, 0.0011, 0.005, 10, 10.5, 0])
    expect(state.buckets).toEqual([
      [0.001, 2],
      [0.005, 4],
      [0.01, 4],
      [0.05, 4],
      [0.1, 4],
      [0.5, 4],
      [1, 4],
      [5, 4],
      [10, 5]
    ])
    expect(state).toMatchObject({ count: 6, min: 0, max: 10.5 })
    expect(state.sum).toBeCloseTo(20.5071, 10)
  })

  it("nothing observed: the empty state of Effect's histogram", () => {
    expect(observed([])).toEqual(reference([]))
  })

  it("any observations: the same state as Effect's histogram with the pool's boundaries", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.constantFrom(0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10),
            fc.double({ min: 0, max: 20, noNaN: true })
          ),
          { maxLength: 60 }
        ),
        (observations) => {
          expect(observed(observations)).toEqual(reference(observations))
        }
      )
    )
  })
})
