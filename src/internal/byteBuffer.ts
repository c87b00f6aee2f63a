/**
 * The socket's own read buffer: bytes pulled from the platform wait here until a read consumes
 * them, so a timeout or an interruption never loses data.
 *
 * It is a queue of the chunks as they arrived. A read that lies within one chunk returns a view
 * of it (no copy); only a read that spans chunks copies, and then exactly the bytes it returns.
 * Small chunks that arrive while others are unread (a peer trickling bytes) are packed into shared
 * storage, so each costs its bytes rather than an object. Nothing is ever written where a view
 * handed out may point: chunks are never modified, and packing only writes past what it filled.
 *
 * @internal
 */
import { indexOfByte } from "./search.js"

const EMPTY = new Uint8Array(0)
/** Bytes `indexOf` scans in plain JS before it calls the native search. */
const SHORT_SCAN = 128
/** Chunks below this size are packed when they would otherwise queue behind unread bytes. */
const SMALL_CHUNK = 1024
const PACK_CAPACITY = 16 * 1024
/** Consumed slots at the front of the queue before it is compacted. */
const COMPACT_AFTER = 64
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

/** Removes every CR byte (OpenResty's `*l` drops them anywhere in the line). */
export const stripCR = (line: Uint8Array): Uint8Array => {
  const first = line.indexOf(CR)
  if (first === -1) return line
  if (first === line.length - 1) return line.subarray(0, first)
  return withoutCR(line)
}

/**
 * A search that can be fed the buffer chunk by chunk (the `receiveUntil` matcher): `state` carries
 * over from one piece to the next. Returns the index just past a match, or `-(state + 1)`.
 */
export interface StreamingSearch {
  feed(bytes: Uint8Array, from: number, to: number, state: number): number
}

export class ByteBuffer {
  /** The oldest unread chunk, unread from `start` on. */
  private head: Uint8Array = EMPTY
  private start = 0
  /** The chunks after `head`, oldest first, from index `next` on. */
  private queue: Array<Uint8Array> | undefined = undefined
  private next = 0
  private unread = 0
  /** Storage small chunks are packed into; while `packIsLast`, the last chunk is `[packFrom, packTo)` of it. */
  private pack: Uint8Array | undefined = undefined
  private packFrom = 0
  private packTo = 0
  private packIsLast = false
  /** Total bytes ever consumed: readers compare it to notice that someone else read meanwhile. */
  consumed = 0

  get length(): number {
    return this.unread
  }

  append(chunk: Uint8Array): void {
    const n = chunk.length
    if (n === 0) return
    if (this.unread === 0) {
      // Empty: adopt the chunk itself (zero copy).
      this.head = chunk
      this.start = 0
      this.unread = n
      return
    }
    this.unread += n
    if (n < SMALL_CHUNK) this.packChunk(chunk)
    else this.enqueue(chunk, false)
  }

  private packChunk(chunk: Uint8Array): void {
    const n = chunk.length
    let pack = this.pack
    if (pack !== undefined && this.packIsLast && pack.length - this.packTo >= n) {
      pack.set(chunk, this.packTo)
      this.packTo += n
      const grown = pack.subarray(this.packFrom, this.packTo)
      const queue = this.queue
      if (queue !== undefined && this.next < queue.length) queue[queue.length - 1] = grown
      else this.head = grown // `start` still counts from the same first byte
      return
    }
    if (pack === undefined || pack.length - this.packTo < n) {
      pack = this.pack = new Uint8Array(PACK_CAPACITY)
      this.packTo = 0
    }
    pack.set(chunk, this.packTo)
    this.packFrom = this.packTo
    this.packTo += n
    this.enqueue(pack.subarray(this.packFrom, this.packTo), true)
  }

  private enqueue(chunk: Uint8Array, packed: boolean): void {
    if (this.queue === undefined) this.queue = [chunk]
    else this.queue.push(chunk)
    this.packIsLast = packed
  }

  /** Unread bytes `[from, to)` without consuming them: a view when they lie in one chunk, else a copy. */
  view(from = 0, to = this.unread): Uint8Array {
    const s = this.start
    if (s + to <= this.head.length) return this.head.subarray(s + from, s + to)
    return this.copy(from, to)
  }

  /** Index of `byte` at or after `from` (relative), or -1. */
  indexOf(byte: number, from = 0): number {
    if (from >= this.unread) return -1
    let chunk = this.head
    let s = this.start
    let base = 0
    let q = this.next
    for (;;) {
      const end = chunk.length
      if (from < base + end - s) {
        const p = from > base ? s + from - base : s
        // Short scans (a line protocol's next line) in plain JS; long ones with the native search.
        const near = Math.min(end, p + SHORT_SCAN)
        for (let i = p; i < near; i++) {
          if (chunk[i] === byte) return base + i - s
        }
        if (near < end) {
          const i = indexOfByte(chunk, byte, near)
          if (i !== -1) return base + i - s
        }
      }
      base += end - s
      if (base >= this.unread) return -1
      chunk = this.queue![q++]
      s = 0
    }
  }

  /** Feeds the unread bytes from `from` on to `search`, chunk by chunk; its result, relative to the first unread byte. */
  feed(search: StreamingSearch, from: number, state: number): number {
    let chunk = this.head
    let s = this.start
    let base = 0
    let q = this.next
    let k = state
    while (base < this.unread) {
      const end = chunk.length
      if (from < base + end - s) {
        const r = search.feed(chunk, from > base ? s + from - base : s, end, k)
        if (r >= 0) return base + r - s
        k = -r - 1
      }
      base += end - s
      if (base >= this.unread) break
      chunk = this.queue![q++]
      s = 0
    }
    return -(k + 1)
  }

  /**
   * Consumes a line of `lf` bytes plus its LF and returns it with every CR dropped: a view when
   * the line lies in one chunk and its only CR is the last byte (CRLF) or there is none, else a copy.
   */
  takeLine(lf: number): Uint8Array {
    const data = this.head
    const from = this.start
    if (from + lf >= data.length) return stripCR(this.take(lf + 1).subarray(0, lf))
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
    const head = this.head
    const s = this.start
    const out = s + n <= head.length ? (n === head.length ? head : head.subarray(s, s + n)) : this.copy(0, n)
    this.skip(n)
    return out
  }

  /** Consumes the first `n` bytes. */
  skip(n: number): void {
    this.consumed += n
    this.unread -= n
    if (this.unread === 0) return this.reset()
    let s = this.start + n
    let head = this.head
    if (s >= head.length) {
      const queue = this.queue!
      let q = this.next
      while (s >= head.length) {
        s -= head.length
        head = queue[q]
        queue[q++] = EMPTY // the queue must not keep consumed chunks alive
      }
      this.head = head
      if (q === queue.length) {
        queue.length = 0
        q = 0
      } else if (q >= COMPACT_AFTER && q * 2 >= queue.length) {
        queue.splice(0, q)
        q = 0
      }
      this.next = q
    }
    this.start = s
  }

  takeAll(): Uint8Array {
    return this.take(this.unread)
  }

  /** Drops everything without counting it as consumed data (the read half closed). */
  clear(): void {
    this.consumed += this.unread
    this.reset()
  }

  /** A fresh array with unread bytes `[from, to)` (they span chunks). */
  private copy(from: number, to: number): Uint8Array {
    const out = new Uint8Array(to - from)
    let chunk = this.head
    let s = this.start
    let base = 0
    let q = this.next
    for (;;) {
      const size = chunk.length - s
      if (from < base + size) {
        const a = from > base ? from - base : 0
        const b = to < base + size ? to - base : size
        out.set(chunk.subarray(s + a, s + b), base + a - from)
      }
      base += size
      if (base >= to) return out
      chunk = this.queue![q++]
      s = 0
    }
  }

  private reset(): void {
    // Views handed out may point into the chunks: they are dropped, never reused.
    this.head = EMPTY
    this.start = 0
    this.unread = 0
    // The array itself is kept (emptied): a read spanning chunks would otherwise make a new one.
    if (this.queue !== undefined) this.queue.length = 0
    this.next = 0
    this.pack = undefined
    this.packIsLast = false
  }
}
