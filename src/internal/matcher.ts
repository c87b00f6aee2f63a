/**
 * A streaming matcher for `receiveUntil`: its state (pattern bytes matched so far) is a plain
 * number, so it survives chunk boundaries and can be resumed after other reads. A partial match
 * goes on byte by byte (KMP); from nothing matched, the runtime's native substring search finds
 * the next whole occurrence. Pure and synchronous.
 *
 * @internal
 */
import { indexOfByte, indexOfPattern, type PatternSearch } from "./search.js"

export class Matcher {
  readonly pattern: Uint8Array
  /** failure[k]: length of the longest proper prefix of pattern[0..k] that is also its suffix. */
  private readonly failure: Int32Array

  /** @param search the native substring search; `null`: none (as on a runtime without one) */
  constructor(pattern: Uint8Array, private readonly search: PatternSearch | null = indexOfPattern ?? null) {
    this.pattern = pattern
    const m = pattern.length
    const failure = new Int32Array(m)
    let k = 0
    for (let i = 1; i < m; i++) {
      while (k > 0 && pattern[i] !== pattern[k]) k = failure[k - 1]
      if (pattern[i] === pattern[k]) k++
      failure[i] = k
    }
    this.failure = failure
  }

  get length(): number {
    return this.pattern.length
  }

  /**
   * Feeds `bytes[from, to)` starting in `state` (pattern bytes matched so far). Returns the index
   * just past the end of the first match, or `-(state + 1)` with the state after `to`.
   */
  feed(bytes: Uint8Array, from: number, to: number, state: number): number {
    const search = this.search
    if (search === null) return this.step(bytes, from, to, state)
    const pattern = this.pattern
    const failure = this.failure
    const m = pattern.length
    let k = state
    let i = from
    // Finish (or abandon) a partial match first: a new one may only start once it fell to zero.
    while (k > 0) {
      if (i >= to) return -(k + 1)
      const b = bytes[i++]
      while (k > 0 && b !== pattern[k]) k = failure[k - 1]
      if (b === pattern[k]) k++
      if (k === m) return i
    }
    const at = search(bytes, pattern, i, to)
    if (at >= 0) return at + m
    // No whole occurrence: what is left at `to` is a prefix of at most m - 1 bytes, so stepping
    // over the range's last m - 1 bytes from nothing finds it.
    return this.step(bytes, Math.max(i, to - m + 1), to, 0)
  }

  /** KMP over `[from, to)`, jumping to the next first byte while nothing is matched. */
  private step(bytes: Uint8Array, from: number, to: number, state: number): number {
    const pattern = this.pattern
    const failure = this.failure
    const m = pattern.length
    const first = pattern[0]
    let k = state
    let i = from
    while (i < to) {
      if (k === 0) {
        // Nothing matched: jump to the next occurrence of the first byte natively.
        const j = indexOfByte(bytes, first, i)
        if (j === -1 || j >= to) return -1
        i = j + 1
        k = 1
        if (m === 1) return i
        continue
      }
      const b = bytes[i]
      while (k > 0 && b !== pattern[k]) k = failure[k - 1]
      if (b === pattern[k]) k++
      i++
      if (k === m) return i
    }
    return -(k + 1)
  }
}
