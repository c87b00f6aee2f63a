/**
 * The example memcached client (examples/memcached): the pure text-protocol parser under property
 * tests (any reply, any chunking, garbage), the straight-line reader agreeing with it, and the
 * client against a real memcached started on a free port.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as fc from "fast-check"
import * as Memcached from "../examples/memcached/MemcachedClient.js"
import * as Protocol from "../examples/memcached/Protocol.js"
import { memcachedServer, mutate, overChunks } from "../examples/support/servers.js"
import { type ConnectionPool, type Transport } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"
import { Chunking, ScriptedPeer } from "../src/testing/index.js"
import { expectReaderAgrees } from "./support/agreement.js"

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"))
const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1")

// -------------------------------------------------------------------------------------------------
// arbitraries

const key = fc.stringMatching(/^[!-~]{1,12}$/)
const message = fc.stringMatching(/^[ -~]{0,20}$/)
const serverError: fc.Arbitrary<Protocol.Reply> = fc.record({
  kind: fc.constantFrom<Array<Protocol.ErrorKind>>("ERROR", "CLIENT_ERROR", "SERVER_ERROR"),
  message
}).map(({ kind, message }) => ({ _tag: "ServerError", kind, message: message.trim() === "" ? "" : message }))
const item: fc.Arbitrary<Protocol.Item> = fc.record({
  key,
  flags: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  value: fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    Chunking.arbitraryBytes({ alphabet: "\r\nEND VALUE0", maxLength: 24 })
  ),
  cas: fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { nil: undefined })
})
const constant = (
  tag: "Stored" | "NotStored" | "Exists" | "NotFound" | "Deleted"
): fc.Arbitrary<Protocol.Reply> => fc.constant({ _tag: tag })

/** A command with a reply valid for it. */
const commandReply: fc.Arbitrary<{ command: Protocol.Command; reply: Protocol.Reply }> = fc.oneof(
  fc.oneof(
    fc.array(item, { maxLength: 4 }).map((items): Protocol.Reply => ({ _tag: "Values", items })),
    serverError
  ).map((reply) => ({ command: "get" as const, reply })),
  fc.oneof(constant("Stored"), constant("NotStored"), constant("Exists"), constant("NotFound"), serverError)
    .map((reply) => ({ command: "set" as const, reply })),
  fc.oneof(constant("Deleted"), constant("NotFound"), serverError)
    .map((reply) => ({ command: "delete" as const, reply })),
  fc.oneof(
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((value): Protocol.Reply => ({ _tag: "Number", value })),
    constant("NotFound"),
    serverError
  ).map((reply) => ({ command: "incr" as const, reply }))
)

const chunkedReply = commandReply.chain(({ command, reply }) => {
  const encoded = Protocol.encodeReply(reply)
  return Chunking.arbitraryChunking(encoded).map((chunks) => ({ command, reply, encoded, chunks }))
})

const command = fc.constantFrom<Array<Protocol.Command>>("get", "set", "delete", "incr")
const garbage = fc.tuple(
  command,
  fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    Chunking.arbitraryBytes({ alphabet: "VALUE 1\r\nENDSTORD_9", maxLength: 64 }),
    fc.tuple(commandReply, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(2)).map(
      ([{ reply }, at, byte, op]) => mutate(Protocol.encodeReply(reply), at, byte, op)
    )
  )
)

// -------------------------------------------------------------------------------------------------
// helpers

const withNode = <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope | Transport.TcpConnector | ConnectionPool.ConnectionPool>
) => effect.pipe(Effect.scoped, Effect.provide(NodeCosocket.layer), Effect.orDie)

const server = Effect.map(memcachedServer(), (s) => ({ host: s.host, port: s.port, timeout: "10 seconds" } as const))

// -------------------------------------------------------------------------------------------------

describe("examples/memcached: the text protocol and the pure parser", () => {
  it("encodes requests exactly; refuses bad keys, flags and deltas before sending", () => {
    expect(text(Protocol.encodeGet(["a", "b"]) as Uint8Array)).toBe("get a b\r\n")
    expect(text(Protocol.encodeSet("k", bytes("x\r\ny"), 5, 60) as Uint8Array)).toBe("set k 5 60 4\r\nx\r\ny\r\n")
    expect(text(Protocol.encodeDelete("k") as Uint8Array)).toBe("delete k\r\n")
    expect(text(Protocol.encodeIncr("k", 18446744073709551615n) as Uint8Array)).toBe("incr k 18446744073709551615\r\n")
    expect((Protocol.encodeGet(["a b"]) as Protocol.InvalidRequest).message).toBe(
      "key contains a space or control character: \"a b\""
    )
    expect((Protocol.encodeGet([]) as Protocol.InvalidRequest).message).toBe("get needs at least one key")
    expect((Protocol.encodeDelete("x".repeat(251)) as Protocol.InvalidRequest).message).toBe(
      "key length must be 1..250 bytes, got 251"
    )
    expect((Protocol.encodeSet("k", "", -1) as Protocol.InvalidRequest).message).toBe(
      "flags must be an unsigned 32-bit integer, got -1"
    )
    expect((Protocol.encodeIncr("k", 2n ** 64n) as Protocol.InvalidRequest).message).toBe(
      "delta must be an unsigned 64-bit integer, got 18446744073709551616"
    )
  })

  it("parses each command's replies exactly", () => {
    const parse = (c: Protocol.Command, s: string) => Protocol.parseReply(c, bytes(s))
    expect(parse("get", "VALUE k 3 2\r\nhi\r\nVALUE j 0 0 77\r\n\r\nEND\r\n")).toEqual({
      _tag: "Parsed",
      value: {
        _tag: "Values",
        items: [{ key: "k", flags: 3, value: bytes("hi") }, { key: "j", flags: 0, value: bytes(""), cas: 77n }]
      },
      next: 40
    })
    expect(parse("get", "END\r\n")).toEqual({ _tag: "Parsed", value: { _tag: "Values", items: [] }, next: 5 })
    expect(parse("set", "STORED\r\n")).toEqual({ _tag: "Parsed", value: { _tag: "Stored" }, next: 8 })
    expect(parse("set", "NOT_STORED\r\n")).toEqual({ _tag: "Parsed", value: { _tag: "NotStored" }, next: 12 })
    expect(parse("delete", "DELETED\r\n")).toEqual({ _tag: "Parsed", value: { _tag: "Deleted" }, next: 9 })
    expect(parse("delete", "NOT_FOUND\r\n")).toEqual({ _tag: "Parsed", value: { _tag: "NotFound" }, next: 11 })
    expect(parse("incr", "18446744073709551615\r\n")).toEqual({
      _tag: "Parsed",
      value: { _tag: "Number", value: 18446744073709551615n },
      next: 22
    })
    expect(parse("incr", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")).toEqual({
      _tag: "Parsed",
      value: { _tag: "ServerError", kind: "CLIENT_ERROR", message: "cannot increment or decrement non-numeric value" },
      next: 62
    })
    expect(parse("set", "ERROR\r\n")).toEqual({
      _tag: "Parsed",
      value: { _tag: "ServerError", kind: "ERROR", message: "" },
      next: 7
    })
  })

  it("incomplete replies need more; garbage is a ProtocolError with the reason", () => {
    const parse = (c: Protocol.Command, s: string) => Protocol.parseReply(c, bytes(s))
    for (
      const [c, s] of [["get", "VALUE k 0 2\r\nh"], ["get", "VALUE k 0 2\r\nhi\r\n"], ["set", "STOR"], [
        "incr",
        "12\r"
      ]] as const
    ) {
      expect(parse(c, s), s).toEqual({ _tag: "NeedMore" })
    }
    const reasons: Array<[Protocol.Command, string, string]> = [
      ["set", "DELETED\r\n", "unexpected reply to set: \"DELETED\""],
      ["delete", "STORED\r\n", "unexpected reply to delete: \"STORED\""],
      ["incr", "-1\r\n", "unexpected reply to incr: \"-1\""],
      ["incr", "18446744073709551616\r\n", "unexpected reply to incr: \"18446744073709551616\""],
      ["get", "VALUE k 0\r\n", "bad VALUE line \"VALUE k 0\""],
      ["get", "VALUE k 4294967296 1\r\nx\r\nEND\r\n", "bad VALUE line \"VALUE k 4294967296 1\""],
      ["get", "VALUE k 0 1\r\nxy\r\n", "data block not terminated by CRLF"],
      ["get", "STORED\r\n", "unexpected reply to get: \"STORED\""],
      ["set", "STORED\n", "line not terminated by CRLF"],
      ["set", "STO\rRED\r\n", "CR inside a line"]
    ]
    for (const [c, s, reason] of reasons) {
      const result = parse(c, s)
      expect(result, JSON.stringify(s)).toBeInstanceOf(Protocol.ProtocolError)
      expect((result as Protocol.ProtocolError).message).toBe(`protocol error: ${reason}`)
    }
  })

  it("any reply, any chunking: every chunk boundary before the end needs more, the whole gives the reply", () => {
    fc.assert(
      fc.property(chunkedReply, ({ chunks, command, encoded, reply }) => {
        let received = 0
        for (const chunk of chunks.slice(0, -1)) {
          received += chunk.length
          expect(Protocol.parseReply(command, encoded.subarray(0, received))).toEqual({ _tag: "NeedMore" })
        }
        expect(Protocol.parseReply(command, Chunking.concat(chunks))).toEqual({
          _tag: "Parsed",
          value: reply,
          next: encoded.length
        })
      }),
      { numRuns: 500 }
    )
  })

  it("garbage: a typed result (reply, NeedMore or ProtocolError), never an exception", () => {
    fc.assert(
      fc.property(garbage, ([c, input]) => {
        const result = Protocol.parseReply(c, input)
        if (result._tag === "ProtocolError") expect(result).toBeInstanceOf(Protocol.ProtocolError)
        else if (result._tag === "Parsed") expect(result.next).toBeLessThanOrEqual(input.length)
        else expect(result).toEqual({ _tag: "NeedMore" })
      }),
      { numRuns: 1000 }
    )
  })
})

describe("examples/memcached: the straight-line reader agrees with the parser", () => {
  it.live("in memory, any reply and chunking: readReply = parseReply", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(chunkedReply, ({ chunks, command, reply }) =>
          Effect.runPromise(Effect.gen(function*() {
            const read = yield* overChunks(chunks, (socket) => Effect.result(Memcached.readReply(socket, command)))
            expect(read).toEqual(Result.succeed(reply))
          }))),
        { numRuns: 150 }
      )
    ))

  it.live(
    "in memory, garbage: the reader ends (reply, ProtocolError or EOF) and matches every reply the parser finds",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            garbage.chain(([c, input]) => Chunking.arbitraryChunking(input).map((chunks) => ({ c, input, chunks }))),
            ({ c, chunks, input }) =>
              Effect.runPromise(Effect.gen(function*() {
                const read = yield* overChunks(chunks, (socket) => Effect.result(Memcached.readReply(socket, c)))
                expectReaderAgrees(read, Protocol.parseReply(c, input))
              }))
          ),
          { numRuns: 200 }
        )
      )
  )

  it.live("over a scripted loopback peer sending the chunks apart: the client's getMulti returns the items", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(item, { selector: (i) => i.key, maxLength: 3 }).chain((items) => {
            const encoded = Protocol.encodeReply({ _tag: "Values", items })
            return Chunking.arbitraryChunking(encoded, { maxChunks: 8 }).map((chunks) => ({ items, chunks }))
          }),
          ({ chunks, items }) =>
            Effect.runPromise(withNode(Effect.gen(function*() {
              const keys = items.length === 0 ? ["none"] : items.map((i) => i.key)
              const peer = yield* ScriptedPeer.make({
                script: [ScriptedPeer.expect(`get ${keys.join(" ")}\r\n`), ScriptedPeer.sendChunks(chunks, 2)]
              })
              const got = yield* Memcached.use(
                { host: peer.host, port: peer.port, timeout: "10 seconds" },
                (mc) => mc.getMulti(keys)
              )
              expect(got).toEqual(items)
              yield* peer.done(0)
            })))
        ),
        { numRuns: 12 }
      )
    ))
})

describe("examples/memcached: against a real memcached", () => {
  it.live("set, get (binary value, flags), get miss, getMulti, delete, incr", () =>
    withNode(Effect.gen(function*() {
      const options = yield* server
      yield* Memcached.use(options, (mc) =>
        Effect.gen(function*() {
          const value = bytes("END\r\nVALUE x 0 1\r\n\x00\xff")
          expect(yield* mc.set("bin", value, { flags: 4294967295 })).toBe(true)
          expect(yield* mc.get("bin")).toEqual({ key: "bin", flags: 4294967295, value })
          expect(yield* mc.get("missing")).toBeUndefined()
          expect(yield* mc.set("n", "41")).toBe(true)
          expect((yield* mc.getMulti(["n", "missing", "bin"])).map((i) => i.key)).toEqual(["n", "bin"])
          expect(yield* mc.incr("n")).toBe(42n)
          expect(yield* mc.incr("n", 8)).toBe(50n)
          expect(yield* mc.incr("absent")).toBeUndefined()
          expect(yield* mc.delete("n")).toBe(true)
          expect(yield* mc.delete("n")).toBe(false)
          // memcached wraps incr at 2^64
          yield* mc.set("big", "18446744073709551615")
          expect(yield* mc.incr("big")).toBe(0n)
        }))
    })))

  it.live("error replies are typed; a refused request sends nothing; the pool reuses the connection", () =>
    withNode(Effect.gen(function*() {
      const options = yield* server
      const first = yield* Memcached.use(options, (mc) =>
        Effect.gen(function*() {
          const invalid = yield* Effect.flip(mc.get("has space"))
          expect(invalid._tag).toBe("InvalidRequest")
          expect(invalid.message).toBe("key contains a space or control character: \"has space\"")
          yield* mc.set("n", "1")
          return mc.reusedTimes
        }))
      expect(first).toBe(0)
      // reused: the InvalidRequest sent nothing, so the connection stayed in sync
      const error = yield* Memcached.use(options, (mc) =>
        Effect.gen(function*() {
          expect(mc.reusedTimes).toBe(1)
          yield* mc.set("word", "abc")
          const e = yield* Effect.flip(mc.incr("word"))
          return { tag: e._tag, message: e.message, released: yield* mc.release }
        }))
      expect(error).toEqual({
        tag: "MemcachedError",
        message: "CLIENT_ERROR cannot increment or decrement non-numeric value",
        // after an error line the connection is closed rather than pooled
        released: false
      })
      expect(yield* Memcached.use(options, (mc) => Effect.succeed(mc.reusedTimes))).toBe(0)
    })))

  it.live("a read timeout closes the connection at once; the next user gets a fresh one", () =>
    withNode(Effect.gen(function*() {
      // memcached has no slow command: a scripted peer plays a memcached that answers late
      const peer = yield* ScriptedPeer.make({
        script: (i) =>
          i === 0
            ? [ScriptedPeer.expect("get k\r\n"), ScriptedPeer.delay(400), ScriptedPeer.send("END\r\n")]
            : [ScriptedPeer.expect("get k\r\n"), ScriptedPeer.send("VALUE k 0 4\r\nmine\r\nEND\r\n")]
      })
      const options = { host: peer.host, port: peer.port, timeout: "100 millis" } as const
      const timedOut = yield* Effect.scoped(Effect.gen(function*() {
        const mc = yield* Memcached.connect(options)
        const e = yield* Effect.flip(mc.get("k"))
        return { tag: e._tag, released: yield* mc.release }
      }))
      expect(timedOut).toEqual({ tag: "SocketReadTimeout", released: false })
      const next = yield* Memcached.use(
        { ...options, timeout: "10 seconds" },
        (mc) => Effect.map(mc.get("k"), (found) => ({ reused: mc.reusedTimes, value: found && text(found.value) }))
      )
      expect(next).toEqual({ reused: 0, value: "mine" })
      expect(yield* peer.accepted).toBe(2)
    })))
})

describe("examples/memcached: noreply and what memcached accepts", () => {
  it("encoding: ` noreply` on set, delete and incr; exptime is a signed 32-bit integer", () => {
    expect(text(Protocol.encodeSet("k", "v", 1, -1, true) as Uint8Array)).toBe("set k 1 -1 1 noreply\r\nv\r\n")
    expect(text(Protocol.encodeDelete("k", true) as Uint8Array)).toBe("delete k noreply\r\n")
    expect(text(Protocol.encodeIncr("k", 5, true) as Uint8Array)).toBe("incr k 5 noreply\r\n")
    expect(text(Protocol.encodeSet("k", "v", 0, -(2 ** 31)) as Uint8Array)).toBe("set k 0 -2147483648 1\r\nv\r\n")
    expect(text(Protocol.encodeSet("k", "v", 0, 2 ** 31 - 1) as Uint8Array)).toBe("set k 0 2147483647 1\r\nv\r\n")
    // memcached 1.6 truncates these to 32 bits (2^31 would be read as already expired): refused
    for (const exptime of [2 ** 31, -(2 ** 31) - 1, 1.5, NaN]) {
      expect((Protocol.encodeSet("k", "v", 0, exptime) as Protocol.InvalidRequest).message).toBe(
        `exptime must be a signed 32-bit integer, got ${exptime}`
      )
    }
  })

  it.live("a negative exptime stores an already expired item; noreply commands read nothing and stay in sync", () =>
    withNode(Effect.gen(function*() {
      const options = yield* server
      const reused = yield* Memcached.use(options, (mc) =>
        Effect.gen(function*() {
          expect(yield* mc.set("gone", "x", { exptime: -1 })).toBe(true)
          expect(yield* mc.get("gone")).toBeUndefined()
          expect(yield* mc.set("far", "x", { exptime: 2 ** 31 - 1 })).toBe(true)
          expect((yield* mc.get("far"))?.value).toEqual(bytes("x"))
          // noreply: nothing comes back, not even for a miss or an error
          const quiet: void = yield* mc.set("q", "10", { noreply: true, flags: 7 })
          expect(quiet).toBeUndefined()
          yield* mc.incr("q", 5, { noreply: true })
          yield* mc.incr("absent", 1, { noreply: true })
          yield* mc.delete("absent", { noreply: true })
          yield* mc.set("word", "abc", { noreply: true })
          yield* mc.incr("word", 1, { noreply: true }) // an error memcached does not report
          expect(yield* mc.get("q")).toEqual({ key: "q", flags: 7, value: bytes("15") })
          yield* mc.delete("q", { noreply: true })
          expect(yield* mc.get("q")).toBeUndefined()
          expect(yield* mc.delete("word", { noreply: false })).toBe(true)
          return mc.reusedTimes
        }))
      expect(reused).toBe(0)
      // nothing was left unread: the connection went back to the pool and is reused
      const again = yield* Memcached.use(options, (mc) => Effect.succeed(mc.reusedTimes))
      expect(again).toBe(1)
    })))
})
