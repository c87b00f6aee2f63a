import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { InvalidArgument } from "../src/CosocketError.js"
import { concat, encode, formatNumber } from "../src/internal/sendable.js"
import { bytes, formatG14, text } from "./support/reference.js"

const REQ57 = "GET /foo HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"

/** The encoded payload as a latin1 string, or the failure's tag and message. */
const sent = (data: unknown): string | { readonly _tag: string; readonly message: string } => {
  const r = encode(data)
  return r instanceof InvalidArgument ? { _tag: r._tag, message: r.message } : text(r)
}

const bad = (message: string) => ({ _tag: "InvalidArgument", message })

// The catalog's literals, more digits than a double holds (Lua parses them the same way).
const PI_TCP_SEND_009 = Number("3.14159265357939723846")
const PI_UDP_014 = Number("3.141592653579397238")

describe("formatNumber (LuaJIT's %.14g)", () => {
  it.each([
    // TCP-SEND-009, UDP-014
    [PI_TCP_SEND_009, "3.1415926535794"],
    [PI_UDP_014, "3.1415926535794"],
    [31415926, "31415926"],
    [123456, "123456"],
    [3.141926, "3.141926"],
    [1234567890123, "1234567890123"],
    [3.1419265, "3.1419265"],
    // exponents: %g switches at exponent < -4 or >= 14, at least two exponent digits
    [1e15, "1e+15"],
    [1e14, "1e+14"],
    [99999999999999.5, "1e+14"],
    [12345678901234, "12345678901234"],
    [123456789012345, "1.2345678901235e+14"], // an exact tie: LuaJIT rounds it up (glibc: ...234e+14)
    [12345678901234.5, "12345678901235"], // an exact tie: LuaJIT rounds it up (glibc: ...234)
    // 14 digits before the point, none after: trailing zeros of the integer part stay
    [12345678901230.4, "12345678901230"],
    [10000000000000.25, "10000000000000"],
    [1e100, "1e+100"],
    [1.7976931348623157e308, "1.7976931348623e+308"],
    [5e-324, "4.9406564584125e-324"],
    [0.0001, "0.0001"],
    [0.00001234, "1.234e-05"],
    [1e-5, "1e-05"],
    [0.1, "0.1"],
    [1 / 3, "0.33333333333333"],
    [-2.5, "-2.5"],
    [2147483647, "2147483647"],
    [2147483648, "2147483648"],
    [-2147483648, "-2147483648"],
    [-2147483649, "-2147483649"],
    [0, "0"],
    [-0, "-0"],
    [NaN, "nan"],
    [Infinity, "inf"],
    [-Infinity, "-inf"]
  ])("%s -> %s", (n, expected) => {
    expect(formatNumber(n)).toBe(expected)
    expect(formatG14(n)).toBe(expected) // the reference agrees with the table
  })

  it("any double equals the exact BigInt reference of %.14g", () => {
    fc.assert(
      fc.property(fc.record({ n: fc.double() }), ({ n }) => {
        expect(formatNumber(n)).toBe(formatG14(n))
      }),
      { numRuns: 500 }
    )
  })

  it("integers, near-integers and decimal-looking values equal the reference", () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.oneof(
            fc.integer(),
            fc.maxSafeInteger(),
            fc.tuple(fc.integer({ min: -(10 ** 9), max: 10 ** 9 }), fc.integer({ min: -20, max: 20 }))
              .map(([m, e]) => m * 10 ** e),
            fc.tuple(fc.maxSafeInteger(), fc.constantFrom(0.5, 0.25, 0.125)).map(([m, f]) => m + f)
          )
        }),
        ({ n }) => {
          expect(formatNumber(n)).toBe(formatG14(n))
        }
      ),
      { numRuns: 500 }
    )
  })
})

describe("encode", () => {
  it("TCP-SEND-002: an array of string fragments with integers gives REQ57 (57 bytes)", () => {
    const r = encode([
      "GET",
      " ",
      "/foo",
      " HTTP/",
      1,
      ".",
      0,
      "\r\n",
      "Host: localhost\r\n",
      "Connection: close\r\n",
      "\r\n"
    ])
    expect(r).toBeInstanceOf(Uint8Array)
    expect((r as Uint8Array).length).toBe(57)
    expect(text(r as Uint8Array)).toBe(REQ57)
  })

  it("TCP-SEND-003: a nil hole in an array is InvalidArgument \"bad data type nil found\"", () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(sent(["GET", " ", "/foo", " HTTP/", , 1])).toEqual(bad("bad data type nil found"))
    expect(sent(["GET", undefined, "x"])).toEqual(bad("bad data type nil found"))
    expect(sent(["GET", null, "x"])).toEqual(bad("bad data type nil found"))
    expect(sent(["a", ["b", null]])).toEqual(bad("bad data type nil found"))
  })

  it("TCP-SEND-005 (ours: no ngx.null; any other value in an array is 'bad data type <type> found')", () => {
    expect(sent(["a", Symbol.for("null")])).toEqual(bad("bad data type symbol found"))
    expect(sent(["a", () => 1])).toEqual(bad("bad data type function found"))
  })

  it("TCP-SEND-006: empty payloads encode to zero bytes", () => {
    expect(sent("")).toBe("")
    expect(sent([])).toBe("")
    expect(sent([[], ""])).toBe("")
    expect((encode(new Uint8Array(0)) as Uint8Array).length).toBe(0)
  })

  it("TCP-SEND-007 (ours: null is rejected, not sent as \"nil\"): booleans at the top level send true / false", () => {
    expect(sent(true)).toBe("true")
    expect(sent(false)).toBe("false")
    expect(sent(null)).toEqual(bad("string, Uint8Array, number, boolean, or array expected, got null"))
    expect(sent(undefined)).toEqual(bad("string, Uint8Array, number, boolean, or array expected, got undefined"))
  })

  it("booleans inside arrays are InvalidArgument \"bad data type boolean found\" (as OpenResty)", () => {
    expect(sent(["a", true])).toEqual(bad("bad data type boolean found"))
    expect(sent([["a"], [false]])).toEqual(bad("bad data type boolean found"))
  })

  it("TCP-SEND-009: numbers are sent with 14 significant digits; the two sends give 3.141592653579431415926", () => {
    expect(sent(PI_TCP_SEND_009)).toBe("3.1415926535794")
    expect(sent(31415926)).toBe("31415926")
    expect(sent([PI_TCP_SEND_009, 31415926])).toBe("3.141592653579431415926")
  })

  it("TCP-SEND-014: nested arrays are flattened in order", () => {
    expect(sent(["a", ["b", ["c", 1]], "d"])).toBe("abc1d")
  })

  it("TCP-SEND-015 (ours: JS types in the message): unsupported values are InvalidArgument", () => {
    expect(sent(() => undefined)).toEqual(bad("string, Uint8Array, number, boolean, or array expected, got function"))
    expect(sent({ a: 1 })).toEqual(bad("string, Uint8Array, number, boolean, or array expected, got object"))
    expect(sent(["x", { a: 1 }])).toEqual(bad("bad data type object found"))
    expect(sent(10n)).toEqual(bad("string, Uint8Array, number, boolean, or array expected, got bigint"))
  })

  it("UDP-014: numbers and arrays with numbers", () => {
    expect(sent(123456)).toBe("123456")
    expect(sent(3.141926)).toBe("3.141926")
    expect(sent(PI_UDP_014)).toBe("3.1415926535794")
    expect(sent(["integer: ", 1234567890123])).toBe("integer: 1234567890123")
    expect(sent(["float: ", 3.1419265])).toBe("float: 3.1419265")
  })

  it("strings are UTF-8; byte arrays pass through unchanged (no copy)", () => {
    expect(Array.from(encode("é€") as Uint8Array)).toEqual([0xc3, 0xa9, 0xe2, 0x82, 0xac])
    const b = Uint8Array.from([0, 255, 13, 10])
    expect(encode(b)).toBe(b)
    expect(Array.from(encode(["a", b, [b]]) as Uint8Array)).toEqual([97, 0, 255, 13, 10, 0, 255, 13, 10])
  })

  it("arrays nested deeper than 100 levels are rejected", () => {
    let deep: unknown = ["x"]
    for (let i = 0; i < 150; i++) deep = [deep]
    expect(sent(deep)).toEqual(bad("array nested too deeply"))
  })

  it("arrays nest up to 100 levels below the payload: 100 encode, 101 are rejected", () => {
    const nested = (levels: number): unknown => {
      let deep: unknown = ["x"]
      for (let i = 0; i < levels; i++) deep = [deep]
      return deep
    }
    expect(sent(nested(100))).toBe("x")
    expect(sent(nested(101))).toEqual(bad("array nested too deeply"))
  })

  it("every refusal names the argument \"data\"", () => {
    const argument = (data: unknown) => (encode(data) as InvalidArgument).argument
    // eslint-disable-next-line no-sparse-arrays
    expect([null, [null], [, "x"], [true], [{}], 10n].map(argument)).toEqual(Array(6).fill("data"))
    let deep: unknown = []
    for (let i = 0; i < 101; i++) deep = [deep]
    expect(argument(deep)).toBe("data")
  })

  it("an array whose own code throws (a Proxy trap) is InvalidArgument naming \"data\", not a defect", () => {
    const hostile = new Proxy(["a"], {
      get: (target, key) => {
        if (key === "0") throw new Error("boom")
        return Reflect.get(target, key)
      }
    })
    const r = encode(hostile)
    expect(r).toBeInstanceOf(InvalidArgument)
    expect((r as InvalidArgument).argument).toBe("data")
    expect((r as InvalidArgument).message).toBe(`bad "data" argument: reading it threw`)
  })

  it("an array of one byte array encodes to that array itself (no copy)", () => {
    const b = Uint8Array.from([1, 2, 3])
    expect(encode([b])).toBe(b)
    expect(encode([[b], []])).toBe(b)
    expect(concat([b])).toBe(b)
    const joined = concat([b, b])
    expect(joined).not.toBe(b)
    expect(Array.from(joined)).toEqual([1, 2, 3, 1, 2, 3])
  })

  it("any nested array of strings, bytes and numbers encodes to the concatenation of its leaves", () => {
    fc.assert(
      fc.property(
        fc.record({
          data: fc.letrec((tie) => ({
            leaf: fc.oneof(
              fc.string({ maxLength: 4 }),
              fc.uint8Array({ maxLength: 4 }),
              fc.double()
            ),
            node: fc.array(fc.oneof({ depthSize: "small" }, tie("leaf"), tie("node")), { maxLength: 4 })
          })).node
        }),
        ({ data }) => {
          const leaves: Array<Uint8Array> = []
          const walk = (items: ReadonlyArray<unknown>): void => {
            for (const item of items) {
              if (Array.isArray(item)) walk(item)
              else if (typeof item === "string") leaves.push(new TextEncoder().encode(item))
              else if (typeof item === "number") leaves.push(bytes(formatG14(item)))
              else leaves.push(item as Uint8Array)
            }
          }
          walk(data)
          expect(Array.from(encode(data) as Uint8Array)).toEqual(Array.from(concat(leaves)))
        }
      ),
      { numRuns: 200 }
    )
  })
})
