/**
 * A streaming KMP matcher for `receiveUntil`: its state is a plain number, so it survives chunk
 * boundaries and can be resumed after other reads. Pure and synchronous.
 *
 * @internal
 */
export class Matcher {
  readonly pattern: Uint8Array
  /** failure[k]: length of the longest proper prefix of pattern[0..k] that is also its suffix. */
  private readonly failure: Int32Array

  constructor(pattern: Uint8Array) {
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
    const pattern = this.pattern
    const failure = this.failure
    const m = pattern.length
    const first = pattern[0]
    let k = state
    let i = from
    while (i < to) {
      if (k === 0) {
        // Nothing matched: jump to the next occurrence of the first byte natively.
        const j = bytes.indexOf(first, i)
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
