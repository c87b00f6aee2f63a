/**
 * The batch need on its own (pure, no socket): which units a batch takes, where it stops, and what
 * it leaves in the buffer for the next read.
 */
import { describe, expect, it } from "@effect/vitest"
import { ReceiveLimitExceeded } from "../src/CosocketError.js"
import { BatchNeed } from "../src/internal/batchNeed.js"
import { ByteBuffer } from "../src/internal/byteBuffer.js"
import { EndOfStream, ExactNeed, LineNeed, NEED_MORE, type StreamEnd } from "../src/internal/needs.js"

const buffer = (s: string) => {
  const b = new ByteBuffer()
  b.append(new TextEncoder().encode(s))
  return b
}
const text = (u: Uint8Array) => new TextDecoder().decode(u)
const texts = (r: unknown) => Array.isArray(r) ? r.map(text) : r
const rest = (b: ByteBuffer) => text(b.takeAll())

describe("BatchNeed", () => {
  it("takes every complete line, leaves the incomplete one; max caps the batch", () => {
    const b = buffer("a\r\nb\nc")
    expect(texts(new BatchNeed(new LineNeed(undefined), Infinity).step(b, "open"))).toEqual(["a", "b"])
    expect(rest(b)).toBe("c")
    const capped = buffer("1\n2\n3\n")
    expect(texts(new BatchNeed(new LineNeed(undefined), 2).step(capped, "open"))).toEqual(["1", "2"])
    expect(rest(capped)).toBe("3\n")
  })

  it("takes as many units as are complete (more than two), in order", () => {
    const b = buffer("1\n2\n3\n4")
    expect(texts(new BatchNeed(new LineNeed(undefined), Infinity).step(b, "open"))).toEqual(["1", "2", "3"])
    expect(rest(b)).toBe("4")
  })

  it("records: whole units only", () => {
    const b = buffer("abcde")
    expect(texts(new BatchNeed(new ExactNeed(2), Infinity).step(b, "open"))).toEqual(["ab", "cd"])
    expect(rest(b)).toBe("e")
  })

  it("the first unit decides as the single read would: more bytes, the end of the stream, a limit", () => {
    const ends: Array<StreamEnd> = ["eof", "error"]
    expect(new BatchNeed(new LineNeed(undefined), 5).step(buffer("par"), "open")).toBe(NEED_MORE)
    for (const end of ends) {
      const r = new BatchNeed(new LineNeed(undefined), 5).step(buffer("par"), end)
      expect(r).toBeInstanceOf(EndOfStream)
      expect(text((r as EndOfStream).partial)).toBe("par")
    }
    const long = buffer("abcdef")
    expect(new BatchNeed(new LineNeed(3), 5).step(long, "open")).toBeInstanceOf(ReceiveLimitExceeded)
    expect(rest(long)).toBe("abcdef")
  })

  it("after the first unit, an end of stream, a limit or an incomplete unit is left for the next read", () => {
    const atEof = buffer("a\nb")
    const need = new BatchNeed(new LineNeed(undefined), Infinity)
    expect(texts(need.step(atEof, "eof"))).toEqual(["a"])
    expect(text(atEof.takeAll())).toBe("b")
    const limited = buffer("ab\nabcdef\n")
    const lines = new LineNeed(3)
    expect(texts(new BatchNeed(lines, Infinity).step(limited, "open"))).toEqual(["ab"])
    lines.begin()
    expect(new BatchNeed(lines, Infinity).step(limited, "open")).toBeInstanceOf(ReceiveLimitExceeded)
    expect(rest(limited)).toBe("abcdef\n")
  })

  it("stops after a unit `isLast` marks (an end marker is always last in its batch)", () => {
    const b = buffer("abcdef")
    const need = new BatchNeed(new ExactNeed(2), Infinity, (u) => text(u) === "cd")
    expect(texts(need.step(b, "open"))).toEqual(["ab", "cd"])
    expect(rest(b)).toBe("ef")
    const first = buffer("abcdef")
    expect(texts(new BatchNeed(new ExactNeed(2), Infinity, (u) => text(u) === "ab").step(first, "open"))).toEqual([
      "ab"
    ])
    expect(rest(first)).toBe("cdef")
  })

  it("partial is the unit's", () => {
    const b = buffer("par\r")
    expect(text(new BatchNeed(new LineNeed(undefined), 3).partial(b))).toBe("par")
    expect(b.length).toBe(0)
  })
})
