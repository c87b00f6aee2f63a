/**
 * The socket's own read buffer: bytes pulled from the platform wait here until a read consumes
 * them, so a timeout or an interruption never loses data.
 *
 * Taken bytes are views into the storage (no copy). That is safe because the storage is never
 * written where a view may point: appends go past `end`, and when space runs out the unread
 * bytes move to fresh storage instead of being compacted in place.
 *
 * @internal
 */
const EMPTY = new Uint8Array(0)
const MIN_CAPACITY = 16 * 1024
/** Bytes `indexOf` scans in plain JS before it calls the native search. */
const SHORT_SCAN = 128
const CR = 13

/** A copy of `bytes` without its CRs. */
export const withoutCR = (bytes: Uint8Array): Uint8Array => {
  const out = new Uint8Array(bytes.length)
  let n = 0
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]
    if (b !== CR) out[n++] = b
  }
  return out.subarray(0, n)
}

export class ByteBuffer {
  private data: Uint8Array = EMPTY
  private start = 0
  private end = 0
  /** Whether `data` is our own allocation, writable past `end`. */
  private owned = false
  /** Total bytes ever consumed: readers compare it to notice that someone else read meanwhile. */
  consumed = 0
  /** Unread bytes a waiting reader needs in total (0: unknown); sizes the next storage. */
  private expected = 0

  get length(): number {
    return this.end - this.start
  }

  append(chunk: Uint8Array): void {
    const n = chunk.length
    if (n === 0) return
    if (this.start === this.end) {
      // Empty: adopt the chunk itself (zero copy).
      this.data = chunk
      this.start = 0
      this.end = n
      this.owned = false
      return
    }
    if (this.owned && this.data.length - this.end >= n) {
      this.data.set(chunk, this.end)
      this.end += n
      return
    }
    const length = this.end - this.start
    // The storage doubles, or grows at once to what a waiting reader needs (a large receive(n)
    // then allocates and copies once instead of once per doubling).
    const next = new Uint8Array(Math.max((length + n) * 2, this.expected, MIN_CAPACITY))
    next.set(this.data.subarray(this.start, this.end), 0)
    next.set(chunk, length)
    this.data = next
    this.start = 0
    this.end = length + n
    this.owned = true
  }

  /** A reader waits until `total` bytes are unread: growth makes room for them (until it consumes). */
  expect(total: number): void {
    this.expected = total
  }

  /** The byte at `index` (relative to the first unread byte). */
  at(index: number): number {
    return this.data[this.start + index]
  }

  /** All unread bytes as a view (not consumed). */
  view(from = 0, to = this.length): Uint8Array {
    return this.data.subarray(this.start + from, this.start + to)
  }

  /** Index of `byte` at or after `from` (relative), or -1. */
  indexOf(byte: number, from = 0): number {
    const data = this.data
    const end = this.end
    // Short scans (a line protocol's next line) in plain JS; long ones with the native search,
    // which must not look past `end` into our own spare capacity.
    const near = Math.min(end, this.start + from + SHORT_SCAN)
    for (let i = this.start + from; i < near; i++) {
      if (data[i] === byte) return i - this.start
    }
    if (near === end) return -1
    const i = this.owned ? data.subarray(0, end).indexOf(byte, near) : data.indexOf(byte, near)
    return i === -1 ? -1 : i - this.start
  }

  /**
   * Consumes a line of `lf` bytes plus its LF and returns it with every CR dropped: a view when
   * the only CR is the last byte (CRLF) or there is none, a copy otherwise.
   */
  takeLine(lf: number): Uint8Array {
    const data = this.data
    const from = this.start
    let to = from + lf
    if (lf > 0 && data[to - 1] === CR) to--
    let clean = true
    for (let i = from; i < to; i++) {
      if (data[i] === CR) {
        clean = false
        break
      }
    }
    const line = clean ? data.subarray(from, to) : withoutCR(data.subarray(from, to))
    this.skip(lf + 1)
    return line
  }

  /** Consumes and returns the first `n` bytes. */
  take(n: number): Uint8Array {
    if (n === 0) return EMPTY
    const out = this.data.subarray(this.start, this.start + n)
    this.skip(n)
    return out
  }

  /** Consumes the first `n` bytes. */
  skip(n: number): void {
    this.expected = 0
    this.start += n
    this.consumed += n
    if (this.start === this.end) this.reset()
  }

  takeAll(): Uint8Array {
    return this.take(this.length)
  }

  /** Drops everything without counting it as consumed data (the read half closed). */
  clear(): void {
    this.consumed += this.length
    this.reset()
  }

  private reset(): void {
    // Views handed out may point into the storage: never reuse it.
    this.data = EMPTY
    this.start = 0
    this.end = 0
    this.owned = false
  }
}
