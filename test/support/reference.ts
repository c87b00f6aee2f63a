/**
 * Simple reference implementations for the property tests of the pure engine parts, and a
 * driver that runs the real needs over a chunked stream the way the engine does.
 *
 * The references are deliberately naive: they see the whole stream as one array and use
 * `indexOf` and plain loops, so they are easy to trust. A reference op only looks at bytes that
 * have "arrived" (the chunks pulled so far), exactly like the engine, so results that depend on
 * what is buffered (`receiveAny`) can be compared too.
 */
import { ReceiveLimitExceeded } from "../../src/CosocketError.js"
import { ByteBuffer } from "../../src/internal/byteBuffer.js"
import * as needs from "../../src/internal/needs.js"

// -------------------------------------------------------------------------------------------------
// bytes

/** Latin1 string -> bytes (each character is one byte). */
export const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0))

/** Bytes -> latin1 string. */
export const text = (b: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i])
  return s
}

/** Splits a string into chunks of `size` characters (the last one may be shorter). */
export const chunksOf = (s: string, size: number): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let i = 0; i < s.length; i += size) out.push(bytes(s.slice(i, i + size)))
  return out
}

/** The chunkings the catalog's "buffer size" variants stand for: whole, 3, 2 and 1 byte(s). */
export const catalogChunkings = (s: string): ReadonlyArray<readonly [string, ReadonlyArray<Uint8Array>]> => [
  ["whole", s.length === 0 ? [] : [bytes(s)]],
  ["3-byte chunks", chunksOf(s, 3)],
  ["2-byte chunks", chunksOf(s, 2)],
  ["1-byte chunks", chunksOf(s, 1)]
]

/** Index of `needle` in `hay` at or after `from`, or -1 (naive). */
export const indexOfBytes = (hay: ArrayLike<number>, needle: ArrayLike<number>, from = 0): number => {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

/**
 * Length of the longest suffix of `text` that is a proper prefix of `pattern` (the bytes a
 * streaming matcher must hold back, assuming `text` holds no full occurrence).
 */
export const heldBack = (text: ArrayLike<number>, pattern: ArrayLike<number>): number => {
  for (let k = Math.min(pattern.length - 1, text.length); k > 0; k--) {
    let ok = true
    for (let j = 0; j < k; j++) {
      if (text[text.length - k + j] !== pattern[j]) {
        ok = false
        break
      }
    }
    if (ok) return k
  }
  return 0
}

/** Every CR removed. */
export const removeCR = (s: string): string => s.split("\r").join("")

// -------------------------------------------------------------------------------------------------
// %.14g as LuaJIT formats it

/** Exact decimal value of a finite double: `digits * 10^-scale` (digits without sign). */
const exactDecimal = (x: number): { readonly digits: string; readonly scale: number } => {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, Math.abs(x))
  const bits = view.getBigUint64(0)
  const biased = Number(bits >> 52n)
  const fraction = bits & ((1n << 52n) - 1n)
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n)
  const exponent2 = (biased === 0 ? 1 : biased) - 1075
  if (exponent2 >= 0) return { digits: (mantissa << BigInt(exponent2)).toString(), scale: 0 }
  return { digits: (mantissa * 5n ** BigInt(-exponent2)).toString(), scale: -exponent2 }
}

const stripFraction = (s: string): string => s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s

/**
 * `%.14g` computed from the exact binary value with BigInt arithmetic, rounding ties away from
 * zero as LuaJIT's own formatter does (it adds 5 below the last kept digit and truncates; C
 * libraries round ties to even, e.g. 12345678901234.5). NaN and infinities as LuaJIT prints them.
 */
export const formatG14 = (x: number): string => {
  if (Number.isNaN(x)) return "nan"
  if (x === Infinity) return "inf"
  if (x === -Infinity) return "-inf"
  const sign = x < 0 || Object.is(x, -0) ? "-" : ""
  if (x === 0) return `${sign}0`
  const precision = 14
  const { digits, scale } = exactDecimal(x)
  let exponent = digits.length - 1 - scale
  let head = digits.slice(0, precision).padEnd(precision, "0")
  if (digits.length > precision && digits.charCodeAt(precision) >= 53) {
    const rounded = (BigInt(head) + 1n).toString()
    if (rounded.length > precision) {
      exponent++
      head = rounded.slice(0, precision)
    } else {
      head = rounded
    }
  }
  if (exponent < -4 || exponent >= precision) {
    const mantissa = stripFraction(`${head[0]}.${head.slice(1)}`)
    const e = Math.abs(exponent).toString().padStart(2, "0")
    return `${sign}${mantissa}e${exponent < 0 ? "-" : "+"}${e}`
  }
  const fixed = exponent >= 0
    ? `${head.slice(0, exponent + 1)}.${head.slice(exponent + 1)}`
    : `0.${"0".repeat(-exponent - 1)}${head}`
  return sign + stripFraction(fixed)
}

// -------------------------------------------------------------------------------------------------
// outcomes

/**
 * What one read gave, in a form `toEqual` compares and prints well: a latin1 string for bytes,
 * `null` for the sized `receiveUntil` end marker, or a tagged object.
 */
export type Outcome =
  | string
  | null
  | { readonly closed: string | undefined }
  | { readonly limit: string }
  | { readonly timeout: string }

const limitMessage = (limit: "maxLineLength" | "maxReceiveSize", max: number): string =>
  new ReceiveLimitExceeded({ limit, max }).message

// -------------------------------------------------------------------------------------------------
// the driver: real needs on a real ByteBuffer

/**
 * Runs needs over a chunked stream like the engine does: the need is stepped on the buffer,
 * and only when it asks for more is the next chunk appended (end `"open"`), then the stream ends
 * (`"eof"` or `"error"`). After an end-of-stream result the read half is closed: later reads
 * give `{ closed: undefined }` (no partial), as the engine's up-front check does.
 */
export class Driver {
  readonly buffer = new ByteBuffer()
  end: needs.StreamEnd = "open"
  /** How many times the driver had to wait for the peer (append a chunk or end the stream). */
  pulls = 0
  readClosed = false
  private next = 0
  /** Every view handed out and its contents when it was handed out (zero-copy safety). */
  private readonly handedOut: Array<readonly [Uint8Array, string]> = []

  constructor(
    readonly chunks: ReadonlyArray<Uint8Array>,
    readonly finalEnd: "eof" | "error" = "eof"
  ) {}

  pull(): void {
    if (this.end !== "open") throw new Error("a need asked for more bytes after the stream ended")
    this.pulls++
    if (this.next < this.chunks.length) this.buffer.append(this.chunks[this.next++])
    else this.end = this.finalEnd
  }

  /**
   * Runs a need to completion. With `timeout`, the peer sends nothing more: when the need asks
   * for more bytes, its `partial` is taken instead (the engine's read timeout).
   */
  run<A extends Uint8Array | null>(need: needs.Need<A>, options?: { readonly timeout?: boolean | undefined }): Outcome {
    if (this.readClosed) return { closed: undefined }
    for (let guard = 0; guard <= this.chunks.length + 1; guard++) {
      const r = need.step(this.buffer, this.end)
      if (r === needs.NEED_MORE) {
        if (options?.timeout === true) return { timeout: this.record(need.partial(this.buffer)) }
        this.pull()
        continue
      }
      if (r instanceof needs.EndOfStream) {
        this.readClosed = true
        const partial = this.record(r.partial)
        this.buffer.clear()
        return { closed: partial }
      }
      if (r instanceof ReceiveLimitExceeded) return { limit: r.message }
      return r === null ? null : this.record(r as Uint8Array)
    }
    throw new Error("the need never completed")
  }

  /** Whether every view handed out still holds the bytes it held when it was handed out. */
  viewsIntact(): boolean {
    return this.handedOut.every(([view, contents]) => text(view) === contents)
  }

  private record(view: Uint8Array): string {
    const contents = text(view)
    this.handedOut.push([view, contents])
    return contents
  }

  line(maxLineLength?: number, timeout?: boolean): Outcome {
    return this.run(new needs.LineNeed(maxLineLength), { timeout })
  }
  exact(n: number, timeout?: boolean): Outcome {
    return this.run(new needs.ExactNeed(n), { timeout })
  }
  any(max: number, timeout?: boolean): Outcome {
    return this.run(new needs.AnyNeed(max), { timeout })
  }
  all(maxReceiveSize?: number, timeout?: boolean): Outcome {
    return this.run(new needs.AllNeed(maxReceiveSize), { timeout })
  }
  untilAll(state: needs.UntilState, maxReceiveSize?: number, timeout?: boolean): Outcome {
    return this.run(new needs.UntilNeed(state, maxReceiveSize), { timeout })
  }
  untilChunk(state: needs.UntilState, size: number, timeout?: boolean): Outcome {
    return this.run(new needs.UntilChunkNeed(state, size), { timeout })
  }
}

// -------------------------------------------------------------------------------------------------
// the reference model

/** The stream as one array, a read position, and how much of it has arrived. */
export class Model {
  readonly data: Uint8Array
  readonly chunkEnds: ReadonlyArray<number>
  arrived = 0
  pos = 0
  ended = false
  pulls = 0
  readClosed = false
  private next = 0

  constructor(chunks: ReadonlyArray<Uint8Array>, readonly finalEnd: "eof" | "error" = "eof") {
    const all: Array<number> = []
    const ends: Array<number> = []
    for (const chunk of chunks) {
      for (const b of chunk) all.push(b)
      ends.push(all.length)
    }
    this.data = Uint8Array.from(all)
    this.chunkEnds = ends
  }

  /** The bytes that arrived and were not read yet. */
  get avail(): Uint8Array {
    return this.data.slice(this.pos, this.arrived)
  }

  pull(): void {
    this.pulls++
    if (this.next < this.chunkEnds.length) this.arrived = this.chunkEnds[this.next++]
    else this.ended = true
  }

  take(n: number): string {
    const out = text(this.data.slice(this.pos, this.pos + n))
    this.pos += n
    return out
  }

  /**
   * Runs a reference read: `decide` looks at the arrived bytes and either settles the read or
   * returns `undefined` (wait for the next chunk). `partial` is the read-timeout result.
   */
  run(decide: () => Outcome | undefined, partial: () => string, timeout?: boolean): Outcome {
    if (this.readClosed) return { closed: undefined }
    for (;;) {
      const r = decide()
      if (r !== undefined) {
        if (r !== null && typeof r === "object" && "closed" in r) {
          this.readClosed = true
          this.pos = this.arrived
        }
        return r
      }
      if (timeout === true) return { timeout: partial() }
      this.pull()
    }
  }

  /** `receive("*l")`: LF ends the line, every CR dropped; EOF before LF ends the stream. */
  line(maxLineLength?: number, timeout?: boolean): Outcome {
    return this.run(
      () => {
        const a = this.avail
        const lf = a.indexOf(10)
        if (lf >= 0) {
          if (maxLineLength !== undefined && lf > maxLineLength) {
            return {
              limit: limitMessage("maxLineLength", maxLineLength)
            }
          }
          const line = this.take(lf + 1)
          return removeCR(line.slice(0, lf))
        }
        if (maxLineLength !== undefined && a.length > maxLineLength) {
          return { limit: limitMessage("maxLineLength", maxLineLength) }
        }
        return this.ended ? { closed: removeCR(this.take(a.length)) } : undefined
      },
      () => removeCR(this.take(this.avail.length)),
      timeout
    )
  }

  /** `receive(n)`. */
  exact(n: number, timeout?: boolean): Outcome {
    return this.run(
      () => {
        const a = this.avail
        if (a.length >= n) return this.take(n)
        return this.ended ? { closed: this.take(a.length) } : undefined
      },
      () => this.take(this.avail.length),
      timeout
    )
  }

  /** `receiveAny(max)`: what is buffered, at most `max`; waits only when nothing is. */
  any(max: number, timeout?: boolean): Outcome {
    return this.run(
      () => {
        const a = this.avail
        if (a.length > 0) return this.take(Math.min(a.length, max))
        return this.ended ? { closed: "" } : undefined
      },
      () => "",
      timeout
    )
  }

  /** `receive("*a")`. */
  all(maxReceiveSize?: number, timeout?: boolean): Outcome {
    return this.run(
      () => {
        const a = this.avail
        if (maxReceiveSize !== undefined && a.length > maxReceiveSize) {
          return { limit: limitMessage("maxReceiveSize", maxReceiveSize) }
        }
        if (!this.ended) return undefined
        return this.finalEnd === "eof" ? this.take(a.length) : { closed: this.take(a.length) }
      },
      () => this.take(this.avail.length),
      timeout
    )
  }

  /** `receiveUntil(...).read`. */
  untilAll(reader: ModelUntil, maxReceiveSize?: number, timeout?: boolean): Outcome {
    return this.run(() => reader.readAll(this, maxReceiveSize), () => reader.partial(this), timeout)
  }

  /** `receiveUntil(...).readChunk(size)`. */
  untilChunk(reader: ModelUntil, size: number, timeout?: boolean): Outcome {
    return this.run(() => reader.readChunk(this, size), () => reader.partial(this), timeout)
  }
}

/**
 * The reference `receiveUntil` reader: finds the leftmost occurrence with a naive search over the
 * arrived bytes; holds back the longest suffix that may start the pattern.
 */
export class ModelUntil {
  readonly pattern: Uint8Array
  /** The chunk that reached the pattern was returned: the next read of either form is the end marker. */
  pendingEnd = false
  /** Inclusive sized read committed to an occurrence straddling `size`: stream offset of its end. */
  committedEnd = -1

  constructor(pattern: string, readonly inclusive: boolean) {
    this.pattern = bytes(pattern)
  }

  private matched(m: Model, at: number): string {
    const n = this.pattern.length
    if (this.inclusive) return m.take(at + n)
    const out = m.take(at)
    m.take(n)
    return out
  }

  readAll(m: Model, maxReceiveSize: number | undefined): Outcome | undefined {
    // The end marker pending after a sized chunk is `read`'s empty result (as OpenResty's `it()`).
    if (this.pendingEnd) {
      this.pendingEnd = false
      return ""
    }
    if (this.committedEnd >= 0) {
      const rest = this.committedEnd - m.pos
      this.committedEnd = -1
      return rest > 0 ? m.take(rest) : ""
    }
    const a = m.avail
    const at = indexOfBytes(a, this.pattern)
    if (at >= 0) {
      if (maxReceiveSize !== undefined && at > maxReceiveSize) {
        return { limit: limitMessage("maxReceiveSize", maxReceiveSize) }
      }
      return this.matched(m, at)
    }
    const definite = a.length - heldBack(a, this.pattern)
    if (maxReceiveSize !== undefined && definite > maxReceiveSize) {
      return { limit: limitMessage("maxReceiveSize", maxReceiveSize) }
    }
    return m.ended ? { closed: m.take(a.length) } : undefined
  }

  readChunk(m: Model, size: number): Outcome | undefined {
    if (this.pendingEnd) {
      this.pendingEnd = false
      return null
    }
    if (this.committedEnd >= 0) {
      const rest = this.committedEnd - m.pos
      if (rest <= 0) {
        this.committedEnd = -1
        return null
      }
      const n = Math.min(rest, size)
      if (n === rest) {
        this.committedEnd = -1
        this.pendingEnd = true
      }
      return m.take(n)
    }
    const a = m.avail
    const at = indexOfBytes(a, this.pattern)
    if (at >= 0) {
      if (at >= size) return m.take(size)
      const matchEnd = at + this.pattern.length
      if (!this.inclusive || matchEnd <= size) {
        this.pendingEnd = true
        return this.matched(m, at)
      }
      this.committedEnd = m.pos + matchEnd
      return m.take(size)
    }
    const definite = m.ended ? a.length : a.length - heldBack(a, this.pattern)
    if (definite >= size) return m.take(size)
    return m.ended ? { closed: m.take(a.length) } : undefined
  }

  partial(m: Model): string {
    const a = m.avail
    if (indexOfBytes(a, this.pattern) >= 0) return ""
    return m.take(a.length - heldBack(a, this.pattern))
  }
}
