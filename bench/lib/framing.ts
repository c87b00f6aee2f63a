/**
 * Hand-written framing for the raw node:net baselines (the ceilings): what a careful author writes
 * directly on 'data' events, with no abstraction in between.
 */

const LF = 10
const CR = 13

/**
 * Splits RESP replies: simple strings / errors / integers (one line) and bulk strings
 * (`$n\r\n` + n bytes + CRLF). Each reply is passed to `onReply` as bytes (bulk: the payload);
 * `whole`: as it came on the wire instead, header and CRLFs included.
 */
export class RespFramer {
  private held: Buffer | undefined = undefined
  constructor(private readonly onReply: (reply: Buffer) => void, private readonly whole = false) {}

  push(chunk: Buffer): void {
    let buf = chunk
    if (this.held !== undefined) {
      buf = Buffer.concat([this.held, chunk])
      this.held = undefined
    }
    let pos = 0
    const length = buf.length
    while (pos < length) {
      const lf = buf.indexOf(LF, pos)
      if (lf === -1) break
      if (buf[pos] === 36 /* $ */) {
        let n = 0
        for (let i = pos + 1; i < lf - 1; i++) n = n * 10 + buf[i] - 48
        const end = lf + 1 + n + 2
        if (end > length) break
        this.onReply(this.whole ? buf.subarray(pos, end) : buf.subarray(lf + 1, lf + 1 + n))
        pos = end
      } else {
        this.onReply(buf.subarray(pos, this.whole ? lf + 1 : buf[lf - 1] === CR ? lf - 1 : lf))
        pos = lf + 1
      }
    }
    if (pos < length) this.held = buf.subarray(pos)
  }
}

/** Splits CRLF lines into strings (the anchors' "hand-split into strings" ceiling). */
export class LineSplitter {
  private carry: Buffer | undefined = undefined
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    let pos = 0
    if (this.carry !== undefined) {
      const lf = chunk.indexOf(LF)
      if (lf === -1) {
        this.carry = Buffer.concat([this.carry, chunk])
        return
      }
      const joined = Buffer.concat([this.carry, chunk.subarray(0, lf + 1)])
      this.carry = undefined
      this.emit(joined, 0, joined.length - 1)
      pos = lf + 1
    }
    for (;;) {
      const lf = chunk.indexOf(LF, pos)
      if (lf === -1) break
      this.emit(chunk, pos, lf)
      pos = lf + 1
    }
    if (pos < chunk.length) this.carry = chunk.subarray(pos)
  }

  private emit(buf: Buffer, start: number, lf: number): void {
    this.onLine(buf.toString("latin1", start, lf > start && buf[lf - 1] === CR ? lf - 1 : lf))
  }
}

/** Holds chunks until enough bytes arrived; one copy only when a unit spans chunks. */
class Held {
  chunks: Array<Buffer> = []
  length = 0
  add(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.length += chunk.length
  }
  /** Removes and returns everything held plus `tail`. */
  takeWith(tail: Buffer): Buffer {
    this.chunks.push(tail)
    const out = Buffer.concat(this.chunks, this.length + tail.length)
    this.chunks = []
    this.length = 0
    return out
  }
  /** The last `n` held bytes (n <= length). */
  last(n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    let need = n
    for (let i = this.chunks.length - 1; i >= 0 && need > 0; i--) {
      const c = this.chunks[i]
      const k = Math.min(need, c.length)
      c.copy(out, need - k, c.length - k)
      need -= k
    }
    return out
  }
}

/** Splits a byte stream into fixed-size records. */
export class FixedSplitter {
  private readonly held = new Held()
  constructor(private readonly size: number, private readonly onRecord: (record: Buffer) => void) {}

  push(chunk: Buffer): void {
    let pos = 0
    const size = this.size
    if (this.held.length > 0) {
      const need = size - this.held.length
      if (chunk.length < need) {
        this.held.add(chunk)
        return
      }
      this.onRecord(this.held.takeWith(chunk.subarray(0, need)))
      pos = need
    }
    while (chunk.length - pos >= size) {
      this.onRecord(chunk.subarray(pos, pos + size))
      pos += size
    }
    if (pos < chunk.length) this.held.add(chunk.subarray(pos))
  }
}

/** Splits a byte stream at every occurrence of a delimiter (found also across chunk boundaries). */
export class DelimiterSplitter {
  private readonly held = new Held()
  constructor(private readonly delimiter: Buffer, private readonly onPart: (part: Buffer) => void) {}

  push(chunk: Buffer): void {
    const d = this.delimiter.length
    let pos = 0
    const held = this.held
    if (held.length > 0 && d > 1) {
      // A delimiter that starts in the held bytes and ends in this chunk.
      const tail = Math.min(d - 1, held.length)
      const probe = Buffer.concat([held.last(tail), chunk.subarray(0, d - 1)])
      const i = probe.indexOf(this.delimiter)
      if (i !== -1 && i < tail) {
        const whole = held.takeWith(chunk.subarray(0, 0))
        this.onPart(whole.subarray(0, whole.length - tail + i))
        pos = i + d - tail
      }
    }
    for (;;) {
      const i = chunk.indexOf(this.delimiter, pos)
      if (i === -1) break
      this.onPart(held.length > 0 ? held.takeWith(chunk.subarray(pos, i)) : chunk.subarray(pos, i))
      pos = i + d
    }
    if (pos < chunk.length) held.add(chunk.subarray(pos))
  }
}
