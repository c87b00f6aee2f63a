/**
 * Target parsing shared by TCP's `connect` and UDP's `setPeername` (pure).
 */
import { describe, expect, it } from "@effect/vitest"
import { InvalidArgument } from "../src/CosocketError.js"
import * as target from "../src/internal/target.js"

const failure = (r: unknown) => r instanceof InvalidArgument ? `${r.argument}: ${r.detail}` : r

describe("target.parse", () => {
  it("inet: the host without brackets, the port as a number, the name as given", () => {
    expect(target.parse("127.0.0.1", 6379, 0)).toEqual({
      target: { _tag: "Inet", host: "127.0.0.1", port: 6379 },
      name: "127.0.0.1:6379"
    })
    expect(target.parse("[::1]", "80", 0)).toEqual({
      target: { _tag: "Inet", host: "::1", port: 80 },
      name: "[::1]:80"
    })
  })

  it("unix: the path after the prefix (any case), the name as given; the port is ignored", () => {
    expect(target.parse("unix:/tmp/s.sock", undefined, 1)).toEqual({
      target: { _tag: "Unix", path: "/tmp/s.sock" },
      name: "unix:/tmp/s.sock"
    })
    expect(target.parse("UNIX:/x", 0, 1)).toEqual({ target: { _tag: "Unix", path: "/x" }, name: "UNIX:/x" })
    expect(target.isUnix("Unix:/x")).toBe(true)
    expect(target.isUnix("unix")).toBe(false)
    expect(target.isUnix(42)).toBe(false)
  })

  it("errors name the argument", () => {
    expect(failure(target.parse(42, 80, 0))).toBe("host: string expected, got number")
    expect(failure(target.parse("unix:", undefined, 0))).toBe(`host: failed to parse host name "unix:": no path`)
    expect(failure(target.parse("localhost", undefined, 0))).toBe("port: missing the port number")
    expect(failure(target.parse("localhost", 0, 1))).toBe("port: bad port number: 0")
    expect(target.parse("localhost", 0, 0)).toEqual({
      target: { _tag: "Inet", host: "localhost", port: 0 },
      name: "localhost:0"
    })
    expect(failure(target.parse("", 80, 0))).toBe(`host: failed to parse host name "": no host`)
  })
})
