/**
 * Small statistics helpers: medians, percentiles and spreads of repeated samples.
 */

export const median = (values: ReadonlyArray<number>): number => percentile(values, 50)

/** Linear-interpolated percentile of the values (0..100); NaN when empty. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = Array.from(values).sort((a, b) => a - b)
  const rank = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo)
}

/** Percentile of the first `n` entries of a typed array (sorted in place). */
export const percentileOf = (values: Float64Array, n: number, p: number): number => {
  if (n === 0) return Number.NaN
  const sorted = values.subarray(0, n).sort()
  const rank = (p / 100) * (n - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo)
}

export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  /** (max - min) / median, as a fraction. */
  readonly spread: number
  readonly n: number
}

export const summarize = (values: ReadonlyArray<number>): Summary => {
  const finite = values.filter((v) => Number.isFinite(v))
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, spread: Number.NaN, n: 0 }
  const m = median(finite)
  const min = Math.min(...finite)
  const max = Math.max(...finite)
  return { median: m, min, max, spread: m === 0 ? 0 : (max - min) / m, n: finite.length }
}

/** Latency recorder for closed-loop workers: one slot per completed operation. */
export class Latencies {
  private values: Float64Array
  count = 0
  constructor(capacity = 1 << 16) {
    this.values = new Float64Array(capacity)
  }
  add(ms: number): void {
    if (this.count === this.values.length) {
      const next = new Float64Array(this.values.length * 2)
      next.set(this.values)
      this.values = next
    }
    this.values[this.count++] = ms
  }
  percentile(p: number): number {
    return percentileOf(this.values, this.count, p)
  }
}
