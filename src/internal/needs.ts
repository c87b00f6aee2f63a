/**
 * The read kinds as pure "needs": given the socket's buffer and whether the stream has ended,
 * a need either completes (consuming what it returns), asks for more bytes, or reports the end of
 * the stream with the bytes it consumed. No Effect inside: the engine runs a need after every
 * arrival, synchronously when the buffer already satisfies it.
 *
 * @internal
 */
import { ReceiveLimitExceeded } from "../CosocketError.js"
import { type ByteBuffer, stripCR } from "./byteBuffer.js"
import { Matcher } from "./matcher.js"

export const NEED_MORE: unique symbol = Symbol.for("effect-cosocket/NeedMore")
export type NEED_MORE = typeof NEED_MORE

/** The stream ended (EOF or error) before the need was met; `partial` was consumed. */
export class EndOfStream {
  constructor(readonly partial: Uint8Array) {}
}

/** Whether more bytes can come: `open`, ended by EOF, or ended by an error. */
export type StreamEnd = "open" | "eof" | "error"

export type StepResult<A> = A | NEED_MORE | EndOfStream | ReceiveLimitExceeded

export interface Need<A> {
  /** A read with this need starts: forget what a previous read left behind (a scan position). */
  begin(): void
  step(buffer: ByteBuffer, end: StreamEnd): StepResult<A>
  /** On a read timeout: consume and return the bytes read so far. */
  partial(buffer: ByteBuffer): Uint8Array
}

const EMPTY = new Uint8Array(0)
const LF = 10

/** `receive("*l")`: one LF-terminated line, CRs dropped, LF consumed and not returned. */
export class LineNeed implements Need<Uint8Array> {
  private scanned = 0
  constructor(readonly maxLineLength: number | undefined) {}

  /** Forgets the scan position: other reads may have consumed since, and the next line starts anew. */
  begin(): void {
    this.scanned = 0
  }

  step(buffer: ByteBuffer, end: StreamEnd): StepResult<Uint8Array> {
    const lf = buffer.indexOf(LF, this.scanned)
    if (lf === -1) {
      this.scanned = buffer.length
      if (this.maxLineLength !== undefined && buffer.length > this.maxLineLength) {
        return new ReceiveLimitExceeded({ limit: "maxLineLength", max: this.maxLineLength })
      }
      return end === "open" ? NEED_MORE : new EndOfStream(stripCR(buffer.takeAll()))
    }
    if (this.maxLineLength !== undefined && lf > this.maxLineLength) {
      return new ReceiveLimitExceeded({ limit: "maxLineLength", max: this.maxLineLength })
    }
    this.scanned = 0
    return buffer.takeLine(lf)
  }

  partial(buffer: ByteBuffer): Uint8Array {
    this.scanned = 0
    return stripCR(buffer.takeAll())
  }
}

/** `receive(n)`: exactly `n` bytes. */
export class ExactNeed implements Need<Uint8Array> {
  constructor(readonly size: number) {}

  begin(): void {}

  step(buffer: ByteBuffer, end: StreamEnd): StepResult<Uint8Array> {
    if (buffer.length >= this.size) return buffer.take(this.size)
    return end === "open" ? NEED_MORE : new EndOfStream(buffer.takeAll())
  }

  partial(buffer: ByteBuffer): Uint8Array {
    return buffer.takeAll()
  }
}

/** `receive("*a")`: everything until EOF; EOF is success, an error is not. */
export class AllNeed implements Need<Uint8Array> {
  constructor(readonly maxReceiveSize: number | undefined) {}

  begin(): void {}

  step(buffer: ByteBuffer, end: StreamEnd): StepResult<Uint8Array> {
    if (this.maxReceiveSize !== undefined && buffer.length > this.maxReceiveSize) {
      return new ReceiveLimitExceeded({ limit: "maxReceiveSize", max: this.maxReceiveSize })
    }
    if (end === "open") return NEED_MORE
    return end === "eof" ? buffer.takeAll() : new EndOfStream(buffer.takeAll())
  }

  partial(buffer: ByteBuffer): Uint8Array {
    return buffer.takeAll()
  }
}

/** `receiveAny(max)`: whatever is buffered, at most `max` bytes; waits only when nothing is. */
export class AnyNeed implements Need<Uint8Array> {
  constructor(readonly max: number) {}

  begin(): void {}

  step(buffer: ByteBuffer, end: StreamEnd): StepResult<Uint8Array> {
    const n = buffer.length
    if (n > 0) return buffer.take(Math.min(n, this.max))
    return end === "open" ? NEED_MORE : new EndOfStream(EMPTY)
  }

  partial(): Uint8Array {
    return EMPTY
  }
}

/** `UntilState.matchAt` when no match is located (any negative value means none). */
const NO_MATCH = -1

/**
 * The state of one `receiveUntil` reader. Bytes that may start the pattern are never taken out
 * of the socket's buffer: they stay there, so any other read sees them in order and nothing is
 * lost or duplicated. The scan position is a cache, valid while nobody else consumed bytes.
 */
export class UntilState {
  readonly matcher: Matcher
  readonly inclusive: boolean
  /** `buffer.consumed` when the cache below was last valid (set by `bind` before any use). */
  private consumedAt = 0
  /** Bytes of the buffer already fed to the matcher, and its state after them. */
  private scanned = 0
  private state = 0
  /** Start of the located match in the buffer; negative: none. */
  private matchAt = NO_MATCH
  /**
   * An occurrence was returned, wholly or in part: the stream offset (on `buffer.consumed`'s
   * scale) where it ends. Reads return what is left of it, then the end marker (as in OpenResty,
   * the call after the one that reached the pattern).
   */
  private owedEnd: number | undefined = undefined
  // What is left of an owed occurrence is taken from the buffer directly, as another reader would:
  // the scan then starts over after it (a foreign read may have moved the buffer's head meanwhile).

  /** The buffer (one per connection) the state above belongs to: a reader outlives a reconnect. */
  private buffer: ByteBuffer | undefined = undefined

  constructor(pattern: Uint8Array, inclusive: boolean) {
    this.matcher = new Matcher(pattern)
    this.inclusive = inclusive
  }

  /**
   * A new connection: the scan starts over, and an occurrence owed on the previous one is
   * finished with it (its end marker is still owed).
   */
  private bind(buffer: ByteBuffer): void {
    if (buffer === this.buffer) return
    this.buffer = buffer
    this.resetScan(buffer)
    if (this.owedEnd !== undefined) this.owedEnd = buffer.consumed
  }

  /** Scans new bytes; returns the match start (relative to the buffer) or a negative number. */
  private locate(buffer: ByteBuffer): number {
    if (buffer.consumed !== this.consumedAt) {
      // Someone else read: start over from the buffer's head (the pattern may have been broken).
      this.resetScan(buffer)
    }
    if (this.matchAt >= 0) return this.matchAt
    // with nothing new to scan, `feed` returns the state it was given
    const r = buffer.feed(this.matcher, this.scanned, this.state)
    if (r >= 0) {
      this.matchAt = r - this.matcher.length
      this.scanned = r
      this.state = 0
    } else {
      this.scanned = buffer.length
      this.state = -r - 1
    }
    return this.matchAt
  }

  /** Consume `n` bytes on our own behalf, keeping the scan cache. */
  private take(buffer: ByteBuffer, n: number): Uint8Array {
    const out = buffer.take(n)
    this.consumedAt = buffer.consumed
    this.scanned -= n
    this.matchAt -= n // a match taken (or none) stays negative
    // A sized read after EOF may take part of the held-back prefix: the matcher state is then stale.
    if (this.state > this.scanned) this.resetScan(buffer)
    return out
  }

  private resetScan(buffer: ByteBuffer): void {
    this.consumedAt = buffer.consumed
    this.scanned = 0
    this.state = 0
    this.matchAt = NO_MATCH
  }

  /** Bytes that cannot be part of a match starting later (everything but the held-back prefix). */
  private definite(buffer: ByteBuffer): number {
    return buffer.length - this.state
  }

  /** Unsized read (`it()`): everything before the next occurrence. */
  readAll(buffer: ByteBuffer, end: StreamEnd, maxReceiveSize: number | undefined): StepResult<Uint8Array> {
    this.bind(buffer)
    if (this.owedEnd !== undefined) {
      // A sized read returned part or all of an occurrence: this call returns the rest of it
      // (`read` has no end-marker value: when nothing is left, it returns an empty array).
      const rest = this.owedEnd - buffer.consumed
      this.owedEnd = undefined
      return buffer.take(Math.max(rest, 0))
    }
    const matchAt = this.locate(buffer)
    // The limit counts the bytes before the pattern, found or not, so it does not depend on chunking.
    const before = matchAt >= 0 ? matchAt : this.definite(buffer)
    if (maxReceiveSize !== undefined && before > maxReceiveSize) {
      return new ReceiveLimitExceeded({ limit: "maxReceiveSize", max: maxReceiveSize })
    }
    if (matchAt >= 0) {
      const m = this.matcher.length
      if (this.inclusive) return this.take(buffer, matchAt + m)
      const out = this.take(buffer, matchAt)
      this.take(buffer, m)
      return out
    }
    if (end === "open") return NEED_MORE
    // The stream ended mid-search: every byte, held-back prefix included, goes to `partial`.
    return new EndOfStream(this.take(buffer, buffer.length))
  }

  /**
   * Sized read (`it(size)`): at most `size` bytes before the pattern; `null` is the end marker,
   * delivered by the call after the one that reached the pattern.
   */
  readChunk(buffer: ByteBuffer, size: number, end: StreamEnd): StepResult<Uint8Array | null> {
    this.bind(buffer)
    if (this.owedEnd !== undefined) {
      const rest = this.owedEnd - buffer.consumed
      if (rest > 0) return buffer.take(Math.min(rest, size))
      this.owedEnd = undefined
      return null
    }
    const matchAt = this.locate(buffer)
    if (matchAt >= 0) {
      if (matchAt >= size) return this.take(buffer, size)
      const m = this.matcher.length
      if (this.inclusive) {
        // at most `size` bytes, the pattern's first ones included: the rest of it comes next
        this.owedEnd = buffer.consumed + matchAt + m
        return this.take(buffer, Math.min(matchAt + m, size))
      }
      const out = this.take(buffer, matchAt)
      this.take(buffer, m)
      this.owedEnd = buffer.consumed
      return out
    }
    const definite = end === "open" ? this.definite(buffer) : buffer.length
    if (definite >= size) return this.take(buffer, size)
    if (end === "open") return NEED_MORE
    return new EndOfStream(this.take(buffer, buffer.length))
  }

  /**
   * On a read timeout: consume and return the bytes that cannot belong to the pattern. The engine
   * calls it only right after a step asked for more bytes, with nothing read or received since:
   * the scan state covers the whole buffer, no match is located and no occurrence is owed.
   */
  partial(buffer: ByteBuffer): Uint8Array {
    return this.take(buffer, this.definite(buffer))
  }
}

export class UntilNeed implements Need<Uint8Array> {
  constructor(readonly state: UntilState, readonly maxReceiveSize: number | undefined) {}

  /** The reader's state carries over from read to read: nothing to forget. */
  begin(): void {}

  step(buffer: ByteBuffer, end: StreamEnd): StepResult<Uint8Array> {
    return this.state.readAll(buffer, end, this.maxReceiveSize)
  }
  partial(buffer: ByteBuffer): Uint8Array {
    return this.state.partial(buffer)
  }
}

export class UntilChunkNeed implements Need<Uint8Array | null> {
  constructor(readonly state: UntilState, readonly size: number) {}

  /** The reader's state carries over from read to read: nothing to forget. */
  begin(): void {}

  step(buffer: ByteBuffer, end: StreamEnd): StepResult<Uint8Array | null> {
    return this.state.readChunk(buffer, this.size, end)
  }
  partial(buffer: ByteBuffer): Uint8Array {
    return this.state.partial(buffer)
  }
}
