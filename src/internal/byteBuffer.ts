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

export class ByteBuffer {
  private data: Uint8Array = EMPTY
  private start = 0
  private end = 0
  /** Whether `data` is our own allocation, writable past `end`. */
  private owned = false
  /** Total bytes ever consumed: readers compare it to notice that someone else read meanwhile. */
  consumed = 0

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
    const next = new Uint8Array(Math.max((length + n) * 2, MIN_CAPACITY))
    next.set(this.data.subarray(this.start, this.end), 0)
    next.set(chunk, length)
    this.data = next
    this.start = 0
    this.end = length + n
    this.owned = true
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
    const i = this.owned
      ? this.data.subarray(0, this.end).indexOf(byte, this.start + from)
      : this.data.indexOf(byte, this.start + from)
    return i === -1 ? -1 : i - this.start
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
