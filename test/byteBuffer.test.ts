import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { ByteBuffer, stripCR } from "../src/internal/byteBuffer.js"
import { Matcher } from "../src/internal/matcher.js"
import { bytes, text } from "./support/reference.js"

type Op =
  | { readonly op: "append"; readonly chunk: Uint8Array }
  | { readonly op: "appendBig"; readonly size: number; readonly byte: number }
  | { readonly op: "take" | "skip" | "indexOf" | "at"; readonly a: number; readonly b: number }
  | { readonly op: "view"; readonly a: number; readonly b: number }
  | { readonly op: "takeAll" | "clear" | "viewAll" }
  | { readonly op: "feed"; readonly pattern: Uint8Array; readonly from: number }

const smallByte = fc.integer({ min: 0, max: 3 })
const arbitraryOp: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant("append" as const),
      chunk: fc.uint8Array({ min: 0, max: 3, maxLength: 24 })
    }),
    weight: 6
  },
  {
    // Around the 1 KiB packing threshold (small chunks are packed, larger ones queued as they
    // are) and past the 16 KiB packing storage: exercises packing, its overflow and the queue.
    arbitrary: fc.record({
      op: fc.constant("appendBig" as const),
      size: fc.oneof(fc.integer({ min: 200, max: 1500 }), fc.integer({ min: 1500, max: 20_000 })),
      byte: smallByte
    }),
    weight: 2
  },
  {
    arbitrary: fc.record({
      op: fc.constant("feed" as const),
      pattern: fc.uint8Array({ min: 0, max: 3, minLength: 1, maxLength: 3 }),
      from: fc.nat()
    }),
    weight: 2
  },
  {
    arbitrary: fc.record({
      op: fc.constantFrom("take" as const, "skip" as const, "indexOf" as const, "at" as const, "view" as const),
      a: fc.nat(),
      b: fc.nat()
    }),
    weight: 6
  },
  {
    arbitrary: fc.record({
      op: fc.constantFrom("takeAll" as const, "clear" as const, "viewAll" as const)
    }),
    weight: 1
  }
)

describe("ByteBuffer", () => {
  it("append/take/skip/indexOf/at/view/takeAll/clear equal a plain array model; views never change", () => {
    fc.assert(
      fc.property(fc.record({ ops: fc.array(arbitraryOp, { maxLength: 40 }) }), ({ ops }) => {
        const buffer = new ByteBuffer()
        let model: Array<number> = []
        let consumed = 0
        const handedOut: Array<readonly [Uint8Array, Array<number>]> = []
        const handOut = (view: Uint8Array, expected: Array<number>) => {
          expect(Array.from(view)).toEqual(expected)
          handedOut.push([view, expected])
        }
        for (const op of ops) {
          switch (op.op) {
            case "append": {
              buffer.append(op.chunk)
              model = model.concat(Array.from(op.chunk))
              break
            }
            case "appendBig": {
              const chunk = Uint8Array.from({ length: op.size }, (_, i) => (i * 7 + op.byte) % 4)
              buffer.append(chunk)
              model = model.concat(Array.from(chunk))
              break
            }
            case "feed": {
              // Fed chunk by chunk, the streaming search finds what it finds in one contiguous array.
              const matcher = new Matcher(op.pattern)
              const from = op.from % (model.length + 1)
              expect(buffer.feed(matcher, from, 0)).toBe(matcher.feed(Uint8Array.from(model), from, model.length, 0))
              break
            }
            case "take": {
              const n = op.a % (model.length + 1)
              handOut(buffer.take(n), model.slice(0, n))
              model = model.slice(n)
              consumed += n
              break
            }
            case "skip": {
              const n = op.a % (model.length + 1)
              buffer.skip(n)
              model = model.slice(n)
              consumed += n
              break
            }
            case "indexOf": {
              const byte = op.a % 4
              const from = op.b % (model.length + 2)
              expect(buffer.indexOf(byte, from)).toBe(model.indexOf(byte, from))
              break
            }
            case "at": {
              // one byte anywhere, read without consuming it (a one-byte view, or a copy across chunks)
              const i = op.a % (model.length + 1)
              if (i < model.length) expect(buffer.view(i, i + 1)[0]).toBe(model[i])
              break
            }
            case "view": {
              const x = op.a % (model.length + 1)
              const y = op.b % (model.length + 1)
              const [from, to] = x <= y ? [x, y] : [y, x]
              handOut(buffer.view(from, to), model.slice(from, to))
              break
            }
            case "viewAll": {
              handOut(buffer.view(), model.slice())
              break
            }
            case "takeAll": {
              handOut(buffer.takeAll(), model)
              consumed += model.length
              model = []
              break
            }
            case "clear": {
              buffer.clear()
              consumed += model.length
              model = []
              break
            }
          }
          expect(buffer.length).toBe(model.length)
          expect(buffer.consumed).toBe(consumed)
          expect(Array.from(buffer.view())).toEqual(model)
        }
        // Zero-copy safety: whatever was handed out still holds the bytes it held then.
        for (const [view, expected] of handedOut) expect(Array.from(view)).toEqual(expected)
      }),
      { numRuns: 200 }
    )
  })

  it("an appended chunk into an empty buffer is adopted without a copy; a later append does not write into it", () => {
    const buffer = new ByteBuffer()
    const chunk = Uint8Array.from([1, 2, 3, 4])
    buffer.append(chunk)
    const first = buffer.take(2)
    expect(first.buffer).toBe(chunk.buffer)
    buffer.append(Uint8Array.from([9, 9]))
    expect(Array.from(chunk)).toEqual([1, 2, 3, 4])
    expect(Array.from(first)).toEqual([1, 2])
    expect(Array.from(buffer.takeAll())).toEqual([3, 4, 9, 9])
  })

  it("a read within one chunk is a view of it; a read across chunks copies exactly its bytes", () => {
    const buffer = new ByteBuffer()
    const first = new Uint8Array(3000).fill(1)
    const second = new Uint8Array(3000).fill(2)
    buffer.append(first)
    buffer.append(second)
    const inside = buffer.take(2000)
    expect(inside.buffer).toBe(first.buffer)
    const across = buffer.take(2000)
    expect(across.buffer).not.toBe(first.buffer)
    expect(across.buffer.byteLength).toBe(2000)
    expect(across.filter((b) => b === 1).length).toBe(1000)
    const rest = buffer.takeAll()
    expect(rest.buffer).toBe(second.buffer)
    expect(rest.length).toBe(2000)
    expect(Array.from(first.subarray(0, 3))).toEqual([1, 1, 1])
  })

  it("small chunks behind unread bytes are packed; views taken before later packing keep their bytes", () => {
    const buffer = new ByteBuffer()
    buffer.append(Uint8Array.from([1]))
    buffer.append(Uint8Array.from([2])) // packed
    const unread = buffer.view()
    const taken = buffer.take(1)
    buffer.append(Uint8Array.from([3])) // packed behind 2, past what was filled
    const two = buffer.take(1)
    buffer.append(Uint8Array.from([4])) // packed again
    buffer.append(new Uint8Array(40_000).fill(7)) // queued as it is
    expect(Array.from(unread)).toEqual([1, 2])
    expect(Array.from(taken)).toEqual([1])
    expect(Array.from(two)).toEqual([2])
    expect(buffer.length).toBe(40_002)
    const packed = buffer.take(2)
    expect(Array.from(packed)).toEqual([3, 4])
    expect(packed.buffer.byteLength).toBe(16 * 1024) // one storage for both small chunks
    expect(Array.from(buffer.take(3))).toEqual([7, 7, 7])
  })

  it("a long run of small chunks costs one packing storage per 16 KiB, not an object per chunk", () => {
    const buffer = new ByteBuffer()
    buffer.append(Uint8Array.from([0]))
    for (let i = 1; i < 20_000; i++) buffer.append(Uint8Array.from([i & 0xff]))
    expect(buffer.length).toBe(20_000)
    const all = buffer.takeAll()
    expect(all.length).toBe(20_000)
    expect(all.every((b, i) => b === (i & 0xff))).toBe(true)
    const storages = new Set<ArrayBufferLike>()
    const again = new ByteBuffer()
    again.append(Uint8Array.from([0]))
    for (let i = 1; i < 20_000; i++) again.append(Uint8Array.from([1]))
    for (let i = 0; i < 20_000; i += 1000) {
      const piece = again.view(0, 1)
      storages.add(piece.buffer)
      again.skip(1000)
    }
    expect(storages.size).toBe(3) // the first chunk, then two packing storages
  })

  it("a queue that never empties keeps its order while consumed chunks are dropped from its front", () => {
    const buffer = new ByteBuffer()
    let model: Array<number> = []
    let nextByte = 0
    const chunk = () => Uint8Array.from({ length: 1500 }, () => nextByte++ & 0xff)
    for (let i = 0; i < 150; i++) {
      const c = chunk()
      buffer.append(c)
      model = model.concat(Array.from(c))
    }
    for (let i = 0; i < 400; i++) {
      const n = 700 + (i % 5) * 300
      expect(Array.from(buffer.take(n))).toEqual(model.slice(0, n))
      model = model.slice(n)
      if (i % 2 === 0) {
        const c = chunk()
        buffer.append(c)
        model = model.concat(Array.from(c))
      }
      expect(buffer.length).toBe(model.length)
    }
    expect(Array.from(buffer.takeAll())).toEqual(model)
  })

  it("the chunk queue is compacted: consumed slots are released, and the array shrinks once they are most of it", () => {
    // White-box on purpose: compaction is invisible in the bytes read, and a queue that kept every
    // consumed slot (or every consumed chunk alive) would still read correctly.
    const buffer = new ByteBuffer()
    const internals = buffer as unknown as { readonly queue: Array<Uint8Array>; readonly next: number }
    const chunks = Array.from({ length: 200 }, (_, i) => new Uint8Array(2000).fill(i & 0xff))
    for (const chunk of chunks) buffer.append(chunk)
    expect(internals.queue.length).toBe(199) // the first chunk is the head
    buffer.skip(2000 * 60)
    expect(internals.next).toBe(60)
    expect(internals.queue.slice(0, 60).every((slot) => slot.length === 0)).toBe(true)
    expect(internals.queue.length).toBe(199) // 60 consumed of 199: not yet worth a splice
    buffer.skip(2000 * 40)
    expect([internals.next, internals.queue.length]).toEqual([0, 99]) // 100 of 199 consumed: compacted
    expect(Array.from(buffer.take(2))).toEqual([100, 100])
    buffer.skip(2000 * 100 - 2)
    expect([buffer.length, internals.queue.length, internals.next]).toEqual([0, 0, 0])
  })

  it("the chunk queue: emptied at once when only the head is left; spliced only past 64 consumed slots that are half of it", () => {
    const internals = (buffer: ByteBuffer) =>
      buffer as unknown as { readonly queue: Array<Uint8Array>; readonly next: number }
    const filled = (chunks: number) => {
      const buffer = new ByteBuffer()
      for (let i = 0; i < chunks; i++) buffer.append(new Uint8Array(2000).fill(i & 0xff))
      return buffer
    }
    const few = filled(6) // head + 5 queued
    few.skip(2000 * 3)
    expect([internals(few).next, internals(few).queue.length]).toEqual([3, 5]) // 3 of 5 consumed: too few to splice
    few.skip(2000 * 2 + 1) // into the last chunk: the queue holds nothing unread
    expect([internals(few).next, internals(few).queue.length]).toEqual([0, 0])
    expect(few.view(0, 1)[0]).toBe(5)

    const exact = filled(129) // head + 128 queued
    exact.skip(2000 * 63)
    expect([internals(exact).next, internals(exact).queue.length]).toEqual([63, 128])
    exact.skip(2000)
    expect([internals(exact).next, internals(exact).queue.length]).toEqual([0, 64]) // 64 consumed, exactly half

    const long = filled(200) // head + 199 queued
    long.skip(2000 * 64)
    expect([internals(long).next, internals(long).queue.length]).toEqual([64, 199]) // 64 consumed, under half
    expect(long.view(0, 1)[0]).toBe(64)
  })

  it("indexOf past the short scan counts from the first unread byte of a partly read chunk", () => {
    const buffer = new ByteBuffer()
    const chunk = new Uint8Array(3000)
    chunk[1500] = 7
    buffer.append(chunk)
    buffer.skip(100)
    expect(buffer.indexOf(7)).toBe(1400)
    expect(buffer.indexOf(7, 1000)).toBe(1400)
    expect(buffer.indexOf(7, 1401)).toBe(-1)
  })

  it("packing after a large chunk: a small chunk that exactly fills the storage still joins it", () => {
    const buffer = new ByteBuffer()
    buffer.append(Uint8Array.from([0]))
    for (let i = 0; i < 16; i++) buffer.append(new Uint8Array(1000).fill(1)) // packed: 16,000 of 16,384 used
    buffer.append(new Uint8Array(4000).fill(9)) // queued as it is; the storage is no longer last
    buffer.append(new Uint8Array(384).fill(3)) // exactly the 384 left
    buffer.skip(1)
    const storage = buffer.view(0, 1).buffer
    buffer.skip(16_000 + 4000)
    const last = buffer.view(0, 384)
    expect([last.buffer === storage, last.byteOffset, last[0], last[383]]).toEqual([true, 16_000, 3, 3])
  })

  it("indexOf finds a byte far into a chunk (past the short scan) and in a later chunk, from any start", () => {
    const buffer = new ByteBuffer()
    const first = new Uint8Array(1000)
    first[600] = 7
    const second = new Uint8Array(3000)
    second[2900] = 7
    buffer.append(first)
    buffer.append(second)
    expect(buffer.indexOf(7)).toBe(600)
    expect(buffer.indexOf(7, 300)).toBe(600)
    expect(buffer.indexOf(7, 601)).toBe(1000 + 2900)
    expect(buffer.indexOf(7, 1200)).toBe(1000 + 2900)
    expect(buffer.indexOf(7, 3901)).toBe(-1)
    expect(buffer.indexOf(8)).toBe(-1)
    buffer.skip(650)
    expect(buffer.indexOf(7)).toBe(1000 + 2900 - 650)
  })

  it("a line, a read up to a chunk's end and a line without inner CRs are views, not copies", () => {
    const buffer = new ByteBuffer()
    const chunk = bytes("GET /\r\nHost: a\nabc")
    buffer.append(chunk)
    buffer.append(new Uint8Array(2000).fill(0x78))
    const crlf = buffer.takeLine(buffer.indexOf(10))
    expect([text(crlf), crlf.buffer === chunk.buffer]).toEqual(["GET /", true])
    const plain = buffer.takeLine(buffer.indexOf(10))
    expect([text(plain), plain.buffer === chunk.buffer]).toEqual(["Host: a", true])
    const rest = buffer.view(0, 3) // exactly up to the end of the first chunk
    expect([text(rest), rest.buffer === chunk.buffer]).toEqual(["abc", true])
    const line = bytes("no cr at all")
    expect(stripCR(line)).toBe(line)
    const withCRLF = bytes("one\r")
    expect([text(stripCR(withCRLF)), stripCR(withCRLF).buffer === withCRLF.buffer]).toEqual(["one", true])
    const inner = bytes("a\rb\r")
    expect([text(stripCR(inner)), stripCR(inner).buffer === inner.buffer]).toEqual(["ab", false])
  })

  it("packing: a chunk of 1 KiB is queued as it is; a chunk that exactly fills the storage joins it", () => {
    const buffer = new ByteBuffer()
    buffer.append(Uint8Array.from([0]))
    const kib = new Uint8Array(1024).fill(1)
    buffer.append(kib)
    buffer.skip(1)
    expect(buffer.view(0, 1024).buffer).toBe(kib.buffer)
    buffer.skip(1024)
    expect(buffer.length).toBe(0)

    buffer.append(Uint8Array.from([0]))
    for (let i = 0; i < 16; i++) buffer.append(new Uint8Array(1000).fill(2))
    buffer.append(new Uint8Array(384).fill(3)) // 16 * 1000 + 384 = 16 KiB: the storage is full, not overflowing
    buffer.skip(1)
    const storage = buffer.view(0, 1).buffer
    expect(storage.byteLength).toBe(16 * 1024)
    expect(buffer.view(16_000, 16_384).buffer).toBe(storage)
    expect(Array.from(buffer.view(15_999, 16_001))).toEqual([2, 3])
  })

  it("packing: after a large chunk, small ones go on filling the same storage; empty chunks add nothing", () => {
    const buffer = new ByteBuffer()
    const internals = buffer as unknown as { readonly queue: Array<Uint8Array> | undefined }
    buffer.append(Uint8Array.from([0]))
    buffer.append(new Uint8Array(0))
    expect(internals.queue).toBeUndefined()
    buffer.append(Uint8Array.from([1, 1]))
    buffer.append(new Uint8Array(4000).fill(9)) // queued as it is
    buffer.append(Uint8Array.from([2, 2])) // packed after [1, 1], in the same storage
    buffer.append(new Uint8Array(0))
    expect(internals.queue?.length).toBe(3)
    buffer.skip(1)
    const storage = buffer.view(0, 2).buffer
    buffer.skip(2 + 4000)
    const after = buffer.view(0, 2)
    expect([Array.from(after), after.buffer === storage, after.byteOffset]).toEqual([[2, 2], true, 2])
  })

  it("takeLine(lf) returns the line without any CR and consumes the LF, over any chunking", () => {
    fc.assert(fc.property(
      fc.record({
        line: fc.array(fc.constantFrom(13, 13, 97, 98, 0), { maxLength: 300 }),
        rest: fc.uint8Array({ maxLength: 8 }),
        split: fc.nat(310)
      }),
      ({ line, rest, split }) => {
        const bytes = Uint8Array.from([...line, 10, ...rest])
        const b = new ByteBuffer()
        const at = Math.min(split, bytes.length)
        b.append(bytes.slice(0, at))
        b.append(bytes.slice(at))
        const lf = b.indexOf(10)
        expect(lf).toBe(line.length)
        expect(Array.from(b.takeLine(lf))).toEqual(line.filter((x) => x !== 13))
        expect(b.consumed).toBe(line.length + 1)
        expect(Array.from(b.view())).toEqual(Array.from(rest))
      }
    ))
  })

  it("take(0) returns an empty array and consumes nothing; empty appends are no-ops", () => {
    const buffer = new ByteBuffer()
    buffer.append(new Uint8Array(0))
    expect(buffer.length).toBe(0)
    expect(buffer.take(0).length).toBe(0)
    buffer.append(Uint8Array.from([5]))
    expect(buffer.take(0).length).toBe(0)
    expect(buffer.consumed).toBe(0)
    expect(text(buffer.view())).toBe("\x05")
  })

  it("clear drops the unread bytes and counts them as consumed", () => {
    const buffer = new ByteBuffer()
    buffer.append(Uint8Array.from([1, 2, 3]))
    buffer.skip(1)
    buffer.clear()
    expect(buffer.length).toBe(0)
    expect(buffer.consumed).toBe(3)
    expect(buffer.indexOf(2)).toBe(-1)
  })
})
