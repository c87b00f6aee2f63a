import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as fc from "fast-check"
import { defaults } from "../src/CosocketConfig.js"
import { InvalidArgument } from "../src/CosocketError.js"
import * as validate from "../src/internal/validate.js"

/** A failure as its tag, argument and message, for exact comparison. */
const failure = (u: unknown) =>
  u instanceof InvalidArgument ? { _tag: u._tag, argument: u.argument, message: u.message } : u

const bad = (argument: string, message: string) => ({ _tag: "InvalidArgument", argument, message })

const millis = (u: unknown): number => {
  expect(Duration.isDuration(u)).toBe(true)
  return Duration.toMillis(u as Duration.Duration)
}

describe("validate.timeout", () => {
  it("TCP-TO-005: 2^31 - 1 ms is accepted, 2^31 ms is \"bad timeout value\"", () => {
    for (const argument of ["timeout", "connect", "send", "read"]) {
      expect(millis(validate.timeout(argument, 2 ** 31 - 1))).toBe(2 ** 31 - 1)
      expect(failure(validate.timeout(argument, 2 ** 31))).toEqual(bad(argument, "bad timeout value"))
    }
    expect(failure(validate.timeout("read", "2147483648 millis"))).toEqual(bad("read", "bad timeout value"))
    expect(failure(validate.timeout("read", Duration.days(25)))).toEqual(bad("read", "bad timeout value"))
    expect(millis(validate.timeout("read", Duration.days(24)))).toBe(24 * 86_400_000)
  })

  it("TCP-TO-003: 0 means the configured default (undefined)", () => {
    expect(validate.timeout("timeout", 0)).toBeUndefined()
    expect(validate.timeout("timeout", Duration.zero)).toBeUndefined()
    expect(validate.timeout("timeout", "0 millis")).toBeUndefined()
    expect(validate.timeout("timeout", 0n)).toBeUndefined()
  })

  it("negative, NaN and unparsable values are \"bad timeout value\"", () => {
    for (const input of [-1, -0.5, -Infinity, NaN, -1n, "-5 millis", "soon", [-1, 0], [0, -1], {}, true, null]) {
      expect(failure(validate.timeout("timeout", input)), String(input)).toEqual(bad("timeout", "bad timeout value"))
    }
  })

  it("Effect 4's Duration.Input forms are read; looser inputs its decoder would take as zero are refused", () => {
    expect(millis(validate.timeout("timeout", { seconds: 2, milliseconds: 5 }))).toBe(2005)
    expect(millis(validate.timeout("timeout", "1.5 seconds"))).toBe(1500)
    expect(validate.timeout("timeout", "Infinity")).toEqual(Duration.infinity)
    expect(validate.timeout("timeout", { seconds: 0 })).toBeUndefined()
    for (
      const input of [{ foo: 1 }, { seconds: "1" }, { seconds: -1 }, "-0 seconds", " -0 millis", [NaN, 0], "-Infinity"]
    ) {
      expect(failure(validate.timeout("timeout", input)), JSON.stringify(input)).toEqual(
        bad("timeout", "bad timeout value")
      )
    }
    expect(failure(validate.idleTimeout("idle", { foo: 1 }))).toEqual(bad("idle", "bad timeout value"))
    expect(validate.idleTimeout("idle", { minutes: 0 })).toEqual(Duration.infinity)
  })

  it("infinity is allowed (ours: no timeout at all)", () => {
    expect(validate.timeout("timeout", Infinity)).toEqual(Duration.infinity)
    expect(validate.timeout("timeout", Duration.infinity)).toEqual(Duration.infinity)
  })

  it("duration inputs are read as such: numbers are milliseconds", () => {
    expect(millis(validate.timeout("timeout", 150))).toBe(150)
    expect(millis(validate.timeout("timeout", "10 seconds"))).toBe(10_000)
    expect(millis(validate.timeout("timeout", Duration.millis(1.5)))).toBe(1.5)
    expect(millis(validate.timeout("timeout", [1, 500_000_000]))).toBe(1500)
  })

  it("any number of ms: 0 -> default, 1..2^31-1 -> that duration, above -> bad, negative -> bad", () => {
    fc.assert(
      fc.property(
        fc.record({
          ms: fc.oneof(
            fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
            fc.integer({ min: 2 ** 31 - 3, max: 2 ** 31 + 3 }),
            // Sub-nanosecond durations round to zero in Effect's Duration: keep to >= 1 µs.
            fc.double({ min: -1e12, max: 1e12, noNaN: true }).filter((x) => x === 0 || Math.abs(x) >= 1e-3)
          )
        }),
        ({ ms }) => {
          const r = validate.timeout("t", ms)
          if (ms < 0) expect(failure(r)).toEqual(bad("t", "bad timeout value"))
          else if (ms === 0) expect(r).toBeUndefined()
          else if (ms > 2 ** 31 - 1) expect(failure(r)).toEqual(bad("t", "bad timeout value"))
          else expect(Math.abs(millis(r) - ms)).toBeLessThan(1e-6)
        }
      ),
      { numRuns: 300 }
    )
  })
})

describe("validate.idleTimeout", () => {
  it("0 and infinity mean unlimited; negative is bad; no 2^31 cap", () => {
    expect(validate.idleTimeout("idle", 0)).toEqual(Duration.infinity)
    expect(validate.idleTimeout("idle", Infinity)).toEqual(Duration.infinity)
    expect(millis(validate.idleTimeout("idle", 100))).toBe(100)
    expect(millis(validate.idleTimeout("idle", 2 ** 32))).toBe(2 ** 32)
    expect(failure(validate.idleTimeout("idle", -1))).toEqual(bad("idle", "bad timeout value"))
    expect(failure(validate.idleTimeout("idle", "later"))).toEqual(bad("idle", "bad timeout value"))
  })
})

describe("validate.port", () => {
  it("TCP-CONN-007: 65536 is \"bad port number: 65536\"; -1 too; 0 and 65535 pass; \"80\" is 80", () => {
    expect(failure(validate.port(65536))).toEqual(bad("port", "bad port number: 65536"))
    expect(failure(validate.port(-1))).toEqual(bad("port", "bad port number: -1"))
    expect(failure(validate.port(70000))).toEqual(bad("port", "bad port number: 70000"))
    expect(failure(validate.port("65536"))).toEqual(bad("port", "bad port number: 65536"))
    expect(validate.port(0)).toBe(0)
    expect(validate.port(65535)).toBe(65535)
    expect(validate.port("80")).toBe(80)
    expect(validate.port(" 80 ")).toBe(80)
    expect(validate.port(80.9)).toBe(80) // truncated, as lua_tointeger does
  })

  it("TCP-CONN-009 (ours: one message): missing or non-numeric ports are \"missing the port number\"", () => {
    for (const input of [undefined, null, "http", "", NaN, Infinity, {}, true]) {
      expect(failure(validate.port(input)), String(input)).toEqual(bad("port", "missing the port number"))
    }
  })

  it("any integer: 0..65535 is itself, anything else is \"bad port number: <n>\"", () => {
    fc.assert(
      fc.property(fc.record({ n: fc.oneof(fc.integer({ min: -70000, max: 140000 }), fc.integer()) }), ({ n }) => {
        if (n >= 0 && n <= 65535) {
          expect(validate.port(n)).toBe(n)
          expect(validate.port(String(n))).toBe(n)
        } else {
          expect(failure(validate.port(n))).toEqual(bad("port", `bad port number: ${n}`))
        }
      }),
      { numRuns: 200 }
    )
  })
})

describe("validate pool options", () => {
  it("TCP-POOL-019 (ours: the option is named poolSize): type and value errors, backlog 0 is ok", () => {
    expect(failure(validate.positiveInteger("poolSize", "a"))).toEqual(
      bad("poolSize", "bad \"poolSize\" option type: string")
    )
    expect(failure(validate.positiveInteger("poolSize", 0))).toEqual(
      bad("poolSize", "bad \"poolSize\" option value: 0")
    )
    expect(failure(validate.nonNegativeInteger("backlog", -1))).toEqual(
      bad("backlog", "bad \"backlog\" option value: -1")
    )
    expect(validate.nonNegativeInteger("backlog", 0)).toBe(0)
    expect(validate.positiveInteger("poolSize", 1)).toBe(1)
  })

  it("non-integers are truncated; non-finite numbers and other types are type errors", () => {
    expect(validate.positiveInteger("poolSize", 2.7)).toBe(2)
    expect(failure(validate.positiveInteger("poolSize", 0.5))).toEqual(
      bad("poolSize", "bad \"poolSize\" option value: 0")
    )
    expect(validate.nonNegativeInteger("backlog", 0.9)).toBe(0)
    expect(failure(validate.positiveInteger("poolSize", true))).toEqual(
      bad("poolSize", "bad \"poolSize\" option type: boolean")
    )
    expect(failure(validate.nonNegativeInteger("backlog", null))).toEqual(
      bad("backlog", "bad \"backlog\" option type: null")
    )
    expect(failure(validate.positiveInteger("poolSize", Infinity))).toEqual(
      bad("poolSize", "bad \"poolSize\" option type: number")
    )
  })
})

describe("validate.settings", () => {
  it("no options give the base unchanged", () => {
    expect(validate.settings({}, defaults)).toEqual(defaults)
  })

  it("each option is validated and named; the first problem is returned", () => {
    expect(failure(validate.settings({ readTimeout: 0 }, defaults))).toEqual(bad("readTimeout", "bad timeout value"))
    expect(failure(validate.settings({ connectTimeout: -1, poolSize: 0 }, defaults))).toEqual(
      bad("connectTimeout", "bad timeout value")
    )
    expect(failure(validate.settings({ poolSize: 0 }, defaults))).toEqual(
      bad("poolSize", "bad \"poolSize\" option value: 0")
    )
    expect(failure(validate.settings({ maxLineLength: 0 }, defaults))).toEqual(
      bad("maxLineLength", "bad \"maxLineLength\" option value: 0")
    )
    expect(failure(validate.settings({ noDelay: "yes" }, defaults))).toEqual(
      bad("noDelay", "bad \"noDelay\" option type: string")
    )
    expect(failure(validate.settings({ sendTimeout: 2 ** 31 }, defaults))).toEqual(
      bad("sendTimeout", "bad timeout value")
    )
    expect(failure(validate.settings({ keepaliveTimeout: "never" }, defaults))).toEqual(
      bad("keepaliveTimeout", "bad timeout value")
    )
    expect(failure(validate.settings({ maxReceiveSize: -5 }, defaults))).toEqual(
      bad("maxReceiveSize", "bad \"maxReceiveSize\" option value: -5")
    )
    expect(failure(validate.settings({ udpQueueSize: 0 }, defaults))).toEqual(
      bad("udpQueueSize", "bad \"udpQueueSize\" option value: 0")
    )
    expect(failure(validate.settings({ udpQueueSize: "8" }, defaults))).toEqual(
      bad("udpQueueSize", "bad \"udpQueueSize\" option type: string")
    )
  })

  it("valid options are normalised", () => {
    const s = validate.settings(
      { readTimeout: "5 seconds", keepaliveTimeout: 0, maxReceiveSize: 1024.5, connectTimeout: Infinity },
      defaults
    )
    expect(s).not.toBeInstanceOf(InvalidArgument)
    const settings = s as typeof defaults
    expect(Duration.toMillis(settings.readTimeout)).toBe(5000)
    expect(settings.keepaliveTimeout).toEqual(Duration.infinity)
    expect(settings.maxReceiveSize).toBe(1024)
    expect(settings.connectTimeout).toEqual(Duration.infinity)
    expect(settings.poolSize).toBe(defaults.poolSize)
    const queue = validate.settings({ udpQueueSize: 16.7, noDelay: false }, defaults) as typeof defaults
    expect([queue.udpQueueSize, queue.noDelay, queue.maxLineLength]).toEqual([16, false, undefined])
  })
})

describe("validate.settings: the options and the base themselves", () => {
  it("options must be an object: a number, null or a function is refused, naming \"options\"", () => {
    expect(failure(validate.settings(5, defaults))).toEqual(bad("options", "options must be an object, got number"))
    expect(failure(validate.settings(null, defaults))).toEqual(bad("options", "options must be an object, got null"))
    expect(failure(validate.settings(() => ({}), defaults))).toEqual(
      bad("options", "options must be an object, got function")
    )
  })

  it("the base must be settings: null or a number is refused, naming \"base\"", () => {
    expect(failure(validate.settings({}, null as never))).toEqual(bad("base", "base must be settings, got null"))
    expect(failure(validate.settings({}, 5 as never))).toEqual(bad("base", "base must be settings, got number"))
  })

  it("an option whose getter throws, or a base that does, is InvalidArgument naming \"options\"", () => {
    const hostile = Object.defineProperty({}, "readTimeout", {
      get: () => {
        throw new Error("boom")
      }
    })
    expect(failure(validate.settings(hostile, defaults))).toEqual(
      bad("options", "bad \"options\" argument: reading it threw")
    )
    const hostileBase = Object.defineProperty({ ...defaults }, "connectTimeout", {
      get: () => {
        throw new Error("boom")
      }
    })
    expect(failure(validate.settings({}, hostileBase))).toEqual(
      bad("options", "bad \"options\" argument: reading it threw")
    )
  })

  it("traceIo must be a boolean", () => {
    expect(failure(validate.settings({ traceIo: 1 }, defaults))).toEqual(
      bad("traceIo", "bad \"traceIo\" option type: number")
    )
    expect((validate.settings({ traceIo: true }, defaults) as typeof defaults).traceIo).toBe(true)
  })
})

describe("validate.snapshot", () => {
  it("undefined and null read as no options; a function's fields are read; other values are refused", () => {
    expect(validate.snapshot("opts", undefined, ["a"])).toEqual({})
    expect(validate.snapshot("opts", null, ["a"])).toEqual({})
    expect(validate.snapshot("opts", Object.assign(() => 0, { a: 1 }), ["a"])).toEqual({ a: 1 })
    expect(failure(validate.snapshot("opts", 5, ["a"]))).toEqual(bad("opts", "opts must be an object, got number"))
    expect(failure(validate.snapshot("opts", "a", ["a"]))).toEqual(bad("opts", "opts must be an object, got string"))
  })

  it("each field is read once, into a plain object; a throwing read names the argument", () => {
    let reads = 0
    const counting = Object.defineProperty({}, "a", { get: () => ++reads })
    expect(validate.snapshot("opts", counting, ["a", "b"])).toEqual({ a: 1, b: undefined })
    expect(reads).toBe(1)
    const hostile = new Proxy({}, {
      get: () => {
        throw new Error("boom")
      }
    })
    expect(failure(validate.snapshot("opts", hostile, ["a"]))).toEqual(
      bad("opts", "bad \"opts\" argument: reading it threw")
    )
  })
})

describe("validate.quote, validate.describe and validate.typeName", () => {
  it("a string of up to 64 characters is quoted whole; a longer one is cut at 64 with its length", () => {
    const at = "a".repeat(63) + "b"
    expect(validate.quote(at)).toBe(at)
    expect(validate.quote(at + "c")).toBe(`${at}... (65 characters)`)
    expect(validate.quote("")).toBe("")
    expect(validate.describe(at + "cd")).toBe(`${at}... (66 characters)`)
    expect(validate.describe(5)).toBe("number")
  })

  it("names arrays, byte arrays, null and the rest by type; a revoked Proxy is an object", () => {
    const revocable = Proxy.revocable([], {})
    revocable.revoke()
    expect(
      [[], new Uint8Array(1), null, undefined, 1, "s", {}, new Uint16Array(1), revocable.proxy].map(validate.typeName)
    )
      .toEqual(["array", "Uint8Array", "null", "undefined", "number", "string", "object", "object", "object"])
  })

  it("isBytes: only a real Uint8Array (not another view, not an object with its prototype)", () => {
    expect(validate.isBytes(new Uint8Array(2))).toBe(true)
    expect(validate.isBytes(Buffer.from("ab"))).toBe(true)
    expect(validate.isBytes(new Uint16Array(2))).toBe(false)
    expect(validate.isBytes(new DataView(new ArrayBuffer(2)))).toBe(false)
    expect(validate.isBytes(Object.create(Uint8Array.prototype))).toBe(false)
    expect(validate.isBytes([1, 2])).toBe(false)
  })
})

describe("validate: Duration.Input edge cases", () => {
  it("every unit field of a duration object is read", () => {
    expect(millis(validate.timeout("t", { weeks: 1 }))).toBe(604_800_000)
    expect(millis(validate.timeout("t", { days: 2 }))).toBe(172_800_000)
    expect(millis(validate.timeout("t", { hours: 3 }))).toBe(10_800_000)
    expect(millis(validate.timeout("t", { minutes: 4 }))).toBe(240_000)
    expect(millis(validate.timeout("t", { microseconds: 1500 }))).toBe(1.5)
    expect(millis(validate.timeout("t", { nanoseconds: 2_000_000 }))).toBe(2)
    expect(millis(validate.idleTimeout("idle", { hours: 1, microseconds: 1000 }))).toBe(3_600_001)
  })

  it("a string with a blank before or after the number is not a duration", () => {
    for (const input of [" 5 millis", "5 millis ", " -5 millis", "5millis"]) {
      expect(failure(validate.timeout("t", input)), input).toEqual(bad("t", "bad timeout value"))
    }
  })
})

describe("validate.port: strings", () => {
  it("only decimal digits (with blanks around them) are a port; hex, exponents and fractions are not", () => {
    for (const input of ["0x50", "1e3", "80.5", "80a", "a80", "+80", "-1", " ", "8 0"]) {
      expect(failure(validate.port(input)), input).toEqual(bad("port", "missing the port number"))
    }
    expect(validate.port("\t443\n")).toBe(443)
  })

  it("a negative fraction truncated to zero is 0, not -0", () => {
    expect(validate.port(-0.5)).toBe(0)
    expect(validate.port(-0)).toBe(0)
    expect(failure(validate.port(-0.5, 1))).toEqual(bad("port", "bad port number: 0"))
  })
})

describe("validate.host, validate.unixPath and validate.unbracket", () => {
  it("a host is non-empty and has no NUL byte; IPv6 brackets are dropped", () => {
    expect(failure(validate.host(""))).toEqual(bad("host", "failed to parse host name \"\": no host"))
    expect(failure(validate.host("a\0b"))).toEqual(bad("host", "failed to parse host name: contains a NUL byte"))
    expect(validate.host("[::1]")).toBe("::1")
    expect(validate.host("example.com")).toBe("example.com")
  })

  it("only a bracketed whole loses its brackets", () => {
    expect(["[::1]", "[::1", "::1]", "::1", "[]", "x[y]"].map(validate.unbracket))
      .toEqual(["::1", "[::1", "::1]", "::1", "", "x[y]"])
  })

  it("a unix path is non-empty (the message quotes the input, capped) and has no NUL byte", () => {
    expect(failure(validate.unixPath("unix:", ""))).toEqual(bad("host", "failed to parse host name \"unix:\": no path"))
    const long = "unix:" + "p".repeat(70)
    expect(failure(validate.unixPath(long, ""))).toEqual(
      bad("host", `failed to parse host name "${long.slice(0, 64)}... (75 characters)": no path`)
    )
    expect(failure(validate.unixPath("unix:/a\0b", "/a\0b"))).toEqual(
      bad("host", "failed to parse host name: contains a NUL byte")
    )
    expect(validate.unixPath("unix:/tmp/s", "/tmp/s")).toBe("/tmp/s")
  })
})

describe("validate.isIpAddress", () => {
  it("IPv4: four decimal parts of 1 to 3 digits, each at most 255", () => {
    for (const s of ["0.0.0.0", "255.255.255.255", "127.0.0.1", "1.02.003.4"]) {
      expect(validate.isIpAddress(s), s).toBe(true)
    }
    for (
      const s of ["1.2.3", "1.2.3.4.5", "256.0.0.0", "1.2.3.", "1.2.3. 4", "1.2.3.4 ", "1.2.3.0004", "a.b.c.d", ""]
    ) {
      expect(validate.isIpAddress(s), s).toBe(false)
    }
  })

  it("IPv6: hex digits, colons and dots only (the URL parser would drop a tab or newline), and parsable", () => {
    for (const s of ["::1", "::", "fe80::1", "FE80::A:b", "::ffff:1.2.3.4", "2001:db8::8a2e:370:7334"]) {
      expect(validate.isIpAddress(s), s).toBe(true)
    }
    for (const s of ["::\t1", "\n::1", "::1\n", ":::1", "1::2::3", "beef", "cafe.de", "::1%eth0", "[::1]", "g::1"]) {
      expect(validate.isIpAddress(s), JSON.stringify(s)).toBe(false)
    }
  })
})
