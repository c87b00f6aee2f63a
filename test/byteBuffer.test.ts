import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { ByteBuffer } from "../src/internal/byteBuffer.js"
import { text } from "./support/reference.js"

type Op =
  | { readonly op: "append"; readonly chunk: Uint8Array }
  | { readonly op: "appendBig"; readonly size: number; readonly byte: number }
  | { readonly op: "take" | "skip" | "indexOf" | "at"; readonly a: number; readonly b: number }
  | { readonly op: "view"; readonly a: number; readonly b: number }
  | { readonly op: "takeAll" | "clear" | "viewAll" }

const smallByte = FastCheck.integer({ min: 0, max: 3 })
const arbitraryOp: FastCheck.Arbitrary<Op> = FastCheck.oneof(
  {
    arbitrary: FastCheck.record({
      op: FastCheck.constant("append" as const),
      chunk: FastCheck.uint8Array({ min: 0, max: 3, maxLength: 24 })
    }),
    weight: 6
  },
  {
    // Big enough to outgrow the 16 KiB minimum capacity: exercises growth and in-place appends.
    arbitrary: FastCheck.record({
      op: FastCheck.constant("appendBig" as const),
      size: FastCheck.integer({ min: 1000, max: 20_000 }),
      byte: smallByte
    }),
    weight: 1
  },
  {
    arbitrary: FastCheck.record({
      op: FastCheck.constantFrom("take" as const, "skip" as const, "indexOf" as const, "at" as const, "view" as const),
      a: FastCheck.nat(),
      b: FastCheck.nat()
    }),
    weight: 6
  },
  {
    arbitrary: FastCheck.record({
      op: FastCheck.constantFrom("takeAll" as const, "clear" as const, "viewAll" as const)
    }),
    weight: 1
  }
)

describe("ByteBuffer", () => {
  it.prop(
    "append/take/skip/indexOf/at/view/takeAll/clear equal a plain array model; views never change",
    { ops: FastCheck.array(arbitraryOp, { maxLength: 40 }) },
    ({ ops }) => {
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
            buffer.append(new Uint8Array(op.size).fill(op.byte))
            model = model.concat(new Array<number>(op.size).fill(op.byte))
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
            if (model.length > 0) expect(buffer.at(op.a % model.length)).toBe(model[op.a % model.length])
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
    },
    { fastCheck: { numRuns: 200 } }
  )

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

  it("views taken before in-place appends and before growth keep their bytes", () => {
    const buffer = new ByteBuffer()
    buffer.append(Uint8Array.from([1]))
    buffer.append(Uint8Array.from([2])) // copies into owned storage with spare room
    const unread = buffer.view()
    const taken = buffer.take(1)
    buffer.append(Uint8Array.from([3])) // written in place, past `end`
    buffer.append(new Uint8Array(40_000).fill(7)) // grows into fresh storage
    expect(Array.from(unread)).toEqual([1, 2])
    expect(Array.from(taken)).toEqual([1])
    expect(buffer.length).toBe(40_002)
    expect(Array.from(buffer.take(3))).toEqual([2, 3, 7])
  })

  it.prop(
    "takeLine(lf) returns the line without any CR and consumes the LF, over any chunking",
    {
      line: FastCheck.array(FastCheck.constantFrom(13, 13, 97, 98, 0), { maxLength: 300 }),
      rest: FastCheck.uint8Array({ maxLength: 8 }),
      split: FastCheck.nat(310)
    },
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
  )

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
