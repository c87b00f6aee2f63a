/**
 * The example Redis client (examples/redis): the pure RESP2 parser under property tests (any
 * value, any chunking, garbage), the straight-line reader agreeing with it (in memory and over a
 * scripted loopback peer), and the client against a real redis-server started on a free port.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as fc from "fast-check"
import * as Redis from "../examples/redis/RedisClient.js"
import * as Resp from "../examples/redis/Resp.js"
import { mutate, overChunks, redisServer, startServer } from "../examples/support/servers.js"
import { type ConnectionPool, TcpSocket, type Transport } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"
import { Chunking, ScriptedPeer } from "../src/testing/index.js"
import { expectReaderAgrees } from "./support/agreement.js"

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"))
const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1")

// -------------------------------------------------------------------------------------------------
// arbitraries

const lineText = fc.string({ unit: "binary", maxLength: 16 }).filter((s) => !/[\r\n]/.test(s))
const bulkBytes = fc.oneof(
  fc.uint8Array({ maxLength: 48 }),
  Chunking.arbitraryBytes({ alphabet: "\r\n$*:+-01a\xff", maxLength: 24 })
)
const scalar: fc.Arbitrary<Resp.RespValue> = fc.oneof(
  lineText.map(Resp.simple),
  lineText.map(Resp.error),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(Resp.integer),
  bulkBytes.map((b) => Resp.bulk(b)),
  fc.constant(Resp.nil),
  fc.constant(Resp.nilArray)
)
const respValue: fc.Arbitrary<Resp.RespValue> = fc.letrec<{ value: Resp.RespValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("value"), { maxLength: 4 }).map(Resp.array)
  )
})).value

/** A value with its encoding and one chunking of it. */
const chunkedValue = respValue.chain((value) => {
  const encoded = Resp.encodeValue(value)
  return Chunking.arbitraryChunking(encoded).map((chunks) => ({ value, encoded, chunks }))
})

const garbage = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  Chunking.arbitraryBytes({ alphabet: "+-:$*\r\n0123-9xa", maxLength: 64 }),
  // a valid encoding with one byte changed, inserted or removed
  fc.tuple(respValue, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(2)).map(
    ([value, at, byte, op]) => mutate(Resp.encodeValue(value), at, byte, op)
  )
)

// -------------------------------------------------------------------------------------------------
// helpers

/** A real redis-server for the test's scope, and the options to reach it. */
const server = (extra: ReadonlyArray<string> = []) =>
  Effect.map(redisServer(extra), (s) => ({ host: s.host, port: s.port, timeout: "10 seconds" } as const))

const withNode = <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope | Transport.TcpConnector | ConnectionPool.ConnectionPool>
) => effect.pipe(Effect.scoped, Effect.provide(NodeCosocket.layer), Effect.orDie)

// -------------------------------------------------------------------------------------------------

describe("examples/redis: RESP2 encoding and the pure parser", () => {
  it("encodeCommand: an array of bulk strings, binary-safe", () => {
    expect(text(Resp.encodeCommand(["SET", "k", bytes("a\r\nb"), 42, -1n]))).toBe(
      "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n$2\r\n42\r\n$2\r\n-1\r\n"
    )
    expect(text(Resp.encodeCommands([["PING"], ["GET", ""]]))).toBe("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$0\r\n\r\n")
  })

  it("parses every reply type exactly", () => {
    const parse = (s: string) => Resp.parseReply(bytes(s))
    expect(parse("+OK\r\n")).toEqual({ _tag: "Parsed", value: Resp.simple("OK"), next: 5 })
    expect(parse("-ERR wrong\r\n")).toEqual({ _tag: "Parsed", value: Resp.error("ERR wrong"), next: 12 })
    expect(parse(":-42\r\n")).toEqual({ _tag: "Parsed", value: Resp.integer(-42), next: 6 })
    expect(parse(":9223372036854775807\r\n")).toEqual({
      _tag: "Parsed",
      value: Resp.integer(9223372036854775807n),
      next: 22
    })
    expect(parse("$5\r\na\r\nb\xff\r\n")).toEqual({ _tag: "Parsed", value: Resp.bulk(bytes("a\r\nb\xff")), next: 11 })
    expect(parse("$0\r\n\r\n")).toEqual({ _tag: "Parsed", value: Resp.bulk(""), next: 6 })
    expect(parse("$-1\r\n")).toEqual({ _tag: "Parsed", value: Resp.nil, next: 5 })
    expect(parse("*-1\r\n")).toEqual({ _tag: "Parsed", value: Resp.nilArray, next: 5 })
    expect(parse("*0\r\n")).toEqual({ _tag: "Parsed", value: Resp.array([]), next: 4 })
    expect(parse("*2\r\n*2\r\n:1\r\n$-1\r\n*1\r\n+x\r\n")).toEqual({
      _tag: "Parsed",
      value: Resp.array([Resp.array([Resp.integer(1), Resp.nil]), Resp.array([Resp.simple("x")])]),
      next: 25
    })
    // a pipelined stream: one reply at a time, from an offset
    const two = bytes("+A\r\n:7\r\n")
    expect(Resp.parseReply(two, 4)).toEqual({ _tag: "Parsed", value: Resp.integer(7), next: 8 })
  })

  it("incomplete replies need more; garbage is a ProtocolError with the reason", () => {
    const parse = (s: string) => Resp.parseReply(bytes(s))
    for (const s of ["", "+OK", "+OK\r", "$3\r\nfo", "$3\r\nfoo\r", "*2\r\n:1\r\n", "*1\r\n*1\r\n"]) {
      expect(parse(s), JSON.stringify(s)).toEqual({ _tag: "NeedMore" })
    }
    const reasons: Array<[string, string]> = [
      ["\r\n", "empty line"],
      ["!x\r\n", "unknown reply type byte 0x21"],
      [":12a\r\n", "bad integer \"12a\""],
      [":9223372036854775808\r\n", "integer out of range \"9223372036854775808\""],
      ["$-2\r\n", "bad bulk length \"-2\""],
      ["$\r\n", "bad bulk length \"\""],
      ["$536870913\r\n", "bulk length 536870913 exceeds 536870912"],
      ["*x\r\n", "bad array length \"x\""],
      ["*4294967297\r\n", "array length 4294967297 exceeds 4294967296"],
      ["$3\r\nfooXY", "bulk string not terminated by CRLF"],
      ["+OK\n", "line not terminated by CRLF"],
      ["+O\rK\r\n", "CR inside a line"],
      ["+O\rK", "CR inside a line"]
    ]
    for (const [s, reason] of reasons) {
      const result = parse(s)
      expect(result, JSON.stringify(s)).toBeInstanceOf(Resp.ProtocolError)
      expect((result as Resp.ProtocolError).message).toBe(`protocol error: ${reason}`)
    }
  })

  it("deep nesting does not overflow the stack (the parser is iterative)", () => {
    const depth = 100_000
    const encoded = bytes("*1\r\n".repeat(depth) + ":1\r\n")
    const result = Resp.parseReply(encoded)
    expect(result._tag).toBe("Parsed")
    expect(Resp.parseReply(encoded.subarray(0, encoded.length - 1))).toEqual({ _tag: "NeedMore" })
  })

  it("any value: parse(encode(v)) = v, consuming exactly the encoding", () => {
    fc.assert(
      fc.property(respValue, (value) => {
        const encoded = Resp.encodeValue(value)
        expect(Resp.parseReply(encoded)).toEqual({ _tag: "Parsed", value, next: encoded.length })
      }),
      { numRuns: 500 }
    )
  })

  it("any value, any chunking: every chunk boundary before the end needs more, the whole gives the value", () => {
    fc.assert(
      fc.property(chunkedValue, ({ chunks, encoded, value }) => {
        let received = 0
        for (const chunk of chunks.slice(0, -1)) {
          received += chunk.length
          expect(Resp.parseReply(encoded.subarray(0, received))).toEqual({ _tag: "NeedMore" })
        }
        expect(Resp.parseReply(Chunking.concat(chunks))).toEqual({ _tag: "Parsed", value, next: encoded.length })
      }),
      { numRuns: 300 }
    )
  })

  it("pipelined values parse one after the other from the offset", () => {
    fc.assert(
      fc.property(fc.array(respValue, { minLength: 1, maxLength: 5 }), (values) => {
        const stream = Chunking.concat(values.map(Resp.encodeValue))
        let offset = 0
        for (const value of values) {
          const result = Resp.parseReply(stream, offset)
          expect(result).toMatchObject({ _tag: "Parsed", value })
          offset = (result as Resp.Parsed).next
        }
        expect(offset).toBe(stream.length)
      }),
      { numRuns: 200 }
    )
  })

  it("garbage: a typed result (value, NeedMore or ProtocolError), never an exception", () => {
    fc.assert(
      fc.property(garbage, (input) => {
        const result = Resp.parseReply(input)
        if (result._tag === "ProtocolError") expect(result).toBeInstanceOf(Resp.ProtocolError)
        else if (result._tag === "Parsed") expect(result.next).toBeLessThanOrEqual(input.length)
        else expect(result).toEqual({ _tag: "NeedMore" })
      }),
      { numRuns: 1000 }
    )
  })
})

describe("examples/redis: the straight-line reader agrees with the parser", () => {
  it.live("in memory, any value and chunking: readReply = parseReply", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(chunkedValue, ({ chunks, value }) =>
          Effect.runPromise(Effect.gen(function*() {
            const read = yield* overChunks(chunks, (socket) => Effect.result(Redis.readReply(socket)))
            expect(read).toEqual(Result.succeed(value))
          }))),
        { numRuns: 150 }
      )
    ))

  it.live(
    "in memory, garbage: the reader ends (value, ProtocolError or EOF) and matches every value the parser finds",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            garbage.chain((input) => Chunking.arbitraryChunking(input).map((chunks) => ({ input, chunks }))),
            ({ chunks, input }) =>
              Effect.runPromise(Effect.gen(function*() {
                const read = yield* overChunks(chunks, (socket) => Effect.result(Redis.readReply(socket)))
                expectReaderAgrees(read, Resp.parseReply(input))
              }))
          ),
          { numRuns: 200 }
        )
      )
  )

  it.live("over a scripted loopback peer sending the chunks apart: the client's pipeline returns the values", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(respValue, { minLength: 1, maxLength: 3 }).chain((values) => {
            const encoded = Chunking.concat(values.map(Resp.encodeValue))
            return Chunking.arbitraryChunking(encoded, { maxChunks: 8 }).map((chunks) => ({ values, chunks }))
          }),
          ({ chunks, values }) =>
            Effect.runPromise(withNode(Effect.gen(function*() {
              const commands = values.map((_, i) => ["GET", `key${i}`])
              const peer = yield* ScriptedPeer.make({
                script: [ScriptedPeer.expect(Resp.encodeCommands(commands)), ScriptedPeer.sendChunks(chunks, 2)]
              })
              const replies = yield* Redis.use(
                { host: peer.host, port: peer.port, timeout: "10 seconds" },
                (redis) => redis.pipeline(commands)
              )
              expect(replies).toEqual(values)
              yield* peer.done(0)
            })))
        ),
        { numRuns: 12 }
      )
    ))
})

describe("examples/redis: against a real redis-server", () => {
  it("a missing server binary fails with install instructions (no silent skip)", async () => {
    const exit = await Effect.runPromiseExit(Effect.scoped(startServer("no-such-server-binary-7", () => [])))
    expect(exit._tag).toBe("Failure")
    expect(String(exit._tag === "Failure" ? exit.cause : "")).toContain(
      "no-such-server-binary-7 was not found on PATH: install it with `apt-get install redis-server memcached`"
    )
  })

  it.live("commands: simple string, bulk (binary), nil, integer, error reply", () =>
    withNode(Effect.gen(function*() {
      const options = yield* server()
      yield* Redis.use(options, (redis) =>
        Effect.gen(function*() {
          expect(yield* redis.ping).toBe("PONG")
          const value = bytes("line1\r\nline2\x00\xff")
          yield* redis.set("bin", value)
          expect(yield* redis.get("bin")).toEqual(value)
          expect(yield* redis.get("missing")).toBeUndefined()
          expect(yield* redis.incr("counter")).toBe(1n)
          expect(yield* redis.incr("counter")).toBe(2n)
          expect(yield* redis.del("counter", "bin", "missing")).toBe(2n)
          yield* redis.command("RPUSH", "list", "a")
          const error = yield* Effect.flip(redis.incr("list"))
          expect(error).toBeInstanceOf(Resp.RedisError)
          expect(error.message).toBe("WRONGTYPE Operation against a key holding the wrong kind of value")
          expect((error as Resp.RedisError).kind).toBe("WRONGTYPE")
          // the connection is still in sync after an error reply
          expect(yield* redis.ping).toBe("PONG")
        }))
    })))

  it.live("nested arrays (EVAL), empty array, nil array (BLPOP timing out)", () =>
    withNode(Effect.gen(function*() {
      const options = yield* server()
      yield* Redis.use(options, (redis) =>
        Effect.gen(function*() {
          const nested = yield* redis.command(
            "EVAL",
            "return {1, {2, 'x', {}}, redis.status_reply('FINE'), false}",
            0
          )
          expect(nested).toEqual(
            Resp.array([
              Resp.integer(1),
              Resp.array([Resp.integer(2), Resp.bulk("x"), Resp.array([])]),
              Resp.simple("FINE"),
              Resp.nil
            ])
          )
          expect(yield* redis.command("LRANGE", "nothing", 0, -1)).toEqual(Resp.array([]))
          expect(yield* redis.command("BLPOP", "nothing", "0.05")).toEqual(Resp.nilArray)
        }))
    })))

  it.live("pipelining: 200 commands in one send, replies in order, an error reply in the middle stays a value", () =>
    withNode(Effect.gen(function*() {
      const options = yield* server()
      const commands: Array<ReadonlyArray<Resp.Arg>> = []
      for (let i = 0; i < 100; i++) commands.push(["SET", `k${i}`, `v${i}`], ["GET", `k${i}`])
      commands[101] = ["HGET", "k0", "field"]
      const replies = yield* Redis.use(options, (redis) => redis.pipeline(commands))
      expect(replies.length).toBe(200)
      expect(replies[0]).toEqual(Resp.simple("OK"))
      expect(replies[1]).toEqual(Resp.bulk("v0"))
      expect(replies[101]).toEqual(Resp.error("WRONGTYPE Operation against a key holding the wrong kind of value"))
      expect(replies[199]).toEqual(Resp.bulk("v99"))
    })))

  it.live("pool key: the database and the user are part of it; a fresh connection sends SELECT and AUTH", () =>
    withNode(Effect.gen(function*() {
      const base = yield* server()
      const db0 = { ...base, db: 0 }
      const db1 = { ...base, db: 1 }
      const alice = { ...base, username: "alice", password: "secret" }
      const whoami = (redis: Redis.Redis) =>
        Effect.gen(function*() {
          const user = Redis.text(yield* redis.command("ACL", "WHOAMI"))
          const info = Redis.text(yield* redis.command("CLIENT", "INFO"))
          return { user, db: /\bdb=(\d+)/.exec(info)?.[1], reused: redis.reusedTimes, key: redis.poolKey }
        })
      // CLIENT marks a connection as state-changing: run it on throw-away connections
      const probe = (options: Redis.ConnectOptions) => Effect.scoped(Effect.flatMap(Redis.connect(options), whoami))

      expect(Redis.poolKey(db0)).toBe(`redis://default@127.0.0.1:${base.port}/0`)
      expect(Redis.poolKey(db1)).toBe(`redis://default@127.0.0.1:${base.port}/1`)
      expect(Redis.poolKey(alice)).toMatch(
        new RegExp(`^redis://alice@127\\.0\\.0\\.1:${base.port}/0#cred-[0-9a-f]{16}$`)
      )
      expect(Redis.poolKey({ ...alice, password: "other" })).not.toBe(Redis.poolKey(alice))

      yield* Redis.use(db0, (redis) =>
        Effect.gen(function*() {
          expect(redis.reusedTimes).toBe(0)
          yield* redis.command("ACL", "SETUSER", "alice", "on", ">secret", "~*", "&*", "+@all")
          yield* redis.set("where", "db0")
        }))
      yield* Redis.use(db1, (redis) => Effect.flatMap(redis.set("where", "db1"), () => Effect.void))
      // reuse within each key, never across keys
      expect(yield* Redis.use(db0, (redis) => Effect.map(redis.get("where"), (v) => [redis.reusedTimes, text(v!)])))
        .toEqual([1, "db0"])
      expect(yield* Redis.use(db1, (redis) => Effect.map(redis.get("where"), (v) => [redis.reusedTimes, text(v!)])))
        .toEqual([1, "db1"])
      expect(yield* probe(db1)).toEqual({ user: "default", db: "1", reused: 2, key: Redis.poolKey(db1) })
      expect(yield* probe(alice)).toEqual({ user: "alice", db: "0", reused: 0, key: Redis.poolKey(alice) })
      // a wrong password is another key: it never gets alice's authenticated connection
      yield* Redis.use(alice, () => Effect.void)
      expect(yield* Redis.use(alice, (redis) => Effect.succeed(redis.reusedTimes))).toBe(1)
      const wrong = yield* Effect.flip(Redis.use({ ...alice, password: "guess" }, () => Effect.void))
      expect(wrong.message).toBe("WRONGPASS invalid username-password pair or user is disabled.")
    })))

  it.live("a state-changing command (SELECT) makes release close the connection instead of pooling it", () =>
    withNode(Effect.gen(function*() {
      const options = yield* server()
      const released = yield* Effect.scoped(Effect.gen(function*() {
        const redis = yield* Redis.connect(options)
        yield* redis.command("SELECT", 3)
        return yield* redis.release
      }))
      expect(released).toBe(false)
      expect(yield* Redis.use(options, (redis) => Effect.succeed(redis.reusedTimes))).toBe(0)
    })))

  it.live("a read timeout closes the connection; the late reply never reaches the next user", () =>
    withNode(Effect.gen(function*() {
      const options = { ...(yield* server()), readTimeout: "100 millis" as const }
      const timedOut = yield* Effect.scoped(Effect.gen(function*() {
        const redis = yield* Redis.connect(options)
        const error = yield* Effect.flip(redis.command("BLPOP", "empty", "0.4"))
        // closed by the client at once: nothing can be pooled
        const reused = yield* Effect.result(redis.socket.getReusedTimes)
        return { tag: error._tag, message: error.message, reused, released: yield* redis.release }
      }))
      expect(timedOut.tag).toBe("SocketReadTimeout")
      expect(timedOut.message).toBe("timeout")
      expect(Result.isFailure(timedOut.reused) && timedOut.reused.failure._tag).toBe("SocketClosed")
      expect(timedOut.released).toBe(false)
      // by now the server has answered the BLPOP (nil array) on the old connection
      yield* Effect.sleep("600 millis")
      const next = yield* Redis.use(
        options,
        (redis) => Effect.map(redis.command("ECHO", "mine"), (reply) => ({ reused: redis.reusedTimes, reply }))
      )
      expect(next).toEqual({ reused: 0, reply: Resp.bulk("mine") })
    })))

  it.live("second line of defence: without the client's close, setKeepalive refuses (DirtyConnection)", () =>
    withNode(Effect.gen(function*() {
      const options = yield* server()
      const key = Redis.poolKey(options)
      const refused = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.make
        yield* socket.setTimeouts("10 seconds", "10 seconds", "100 millis")
        yield* socket.connect(options.host, options.port, { pool: key })
        yield* socket.send(Resp.encodeCommand(["BLPOP", "empty", "0.3"]))
        const error = yield* Effect.flip(Redis.readReply(socket))
        expect(error._tag).toBe("SocketReadTimeout")
        return yield* Effect.flip(socket.setKeepalive())
      }))
      expect(refused._tag).toBe("DirtyConnection")
      expect(refused.message).toBe("dirty connection")
      expect(refused).toMatchObject({ reason: "readTimeout" })
      yield* Effect.sleep("500 millis")
      const next = yield* Redis.use(
        options,
        (redis) => Effect.map(redis.ping, (pong) => ({ reused: redis.reusedTimes, pong }))
      )
      expect(next).toEqual({ reused: 0, pong: "PONG" })
    })))
})

describe("examples/redis: status and error replies are binary-safe", () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

  it("the parser keeps the exact bytes of +... and -... lines; encodeValue writes them back", () => {
    const parsed = Resp.parseReply(bytes("+\xff\xfe st\r\n-\xffERR x\r\n"))
    expect(parsed._tag).toBe("Parsed")
    const value = (parsed as Resp.Parsed).value as Resp.SimpleString
    expect(hex(value.bytes)).toBe("fffe207374")
    expect(text(Resp.encodeValue(value))).toBe("+\xff\xfe st\r\n")
    const error = Resp.parseReply(bytes("+\xff\xfe st\r\n-\xffERR x\r\n"), (parsed as Resp.Parsed).next)
    expect(hex(((error as Resp.Parsed).value as Resp.ErrorReply).bytes)).toBe("ff4552522078")
    expect(Resp.simple(new Uint8Array([0x4f, 0x4b]))).toEqual(Resp.simple("OK"))
  })

  it.live("EVAL status_reply('\\255\\254 st') gives the bytes ff fe 20 73 74, as ioredis does", () =>
    withNode(Effect.gen(function*() {
      const options = yield* server()
      yield* Redis.use(options, (redis) =>
        Effect.gen(function*() {
          const status = yield* redis.command("EVAL", "return redis.status_reply('\\255\\254 st')", 0)
          expect(status._tag).toBe("SimpleString")
          expect(hex((status as Resp.SimpleString).bytes)).toBe("fffe207374")
          const failed = yield* Effect.flip(redis.command("EVAL", "return redis.error_reply('\\255\\254 er')", 0))
          expect(failed._tag).toBe("RedisError")
          expect(hex((failed as Resp.RedisError).bytes)).toBe("fffe206572")
          // in a pipeline the error reply is a value with its bytes
          const [reply] = yield* redis.pipeline([["EVAL", "return redis.error_reply('\\255 e')", 0]])
          expect(reply._tag).toBe("ErrorReply")
          expect(hex((reply as Resp.ErrorReply).bytes)).toBe("ff2065")
          expect(yield* redis.ping).toBe("PONG")
        }))
    })))
})
