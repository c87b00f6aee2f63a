/**
 * The testing kit's fault proxy (src/testing/FaultProxy.ts): the seeded fault draws, each fault's
 * exact effect on a cosocket client in front of a real loopback server, and the Redis example
 * client through the pool under every fault at once.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redis from "../examples/redis/RedisClient.js"
import type * as Resp from "../examples/redis/Resp.js"
import { redisServer } from "../examples/support/servers.js"
import { CosocketConfig, TcpSocket } from "../src/index.js"
import * as faults from "../src/internal/faults.js"
import { NodeCosocket } from "../src/node/index.js"
import { FaultProxy } from "../src/testing/index.js"
import { eventually, layer, onRequest, server, text } from "./support/loopback.js"

const REPLY = "0123456789\n"

/**
 * A loopback server answering every `req\n` with REPLY (one write: one chunk at the proxy), and
 * closing when the client does (as real servers do).
 */
const upstream = server((socket) => {
  socket.on("end", () => socket.end())
  const serve = () =>
    onRequest(socket, () => {
      socket.write(REPLY)
      serve()
    }, "\n")
  serve()
})

const zero = { pass: 0, delay: 0, split: 0, stall: 0, resetMidReply: 0, finMidReply: 0, resetAfterReply: 0 }

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) return { success: exit.value }
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") return { defect: Cause.pretty(exit.cause) }
  const e = error.value as { readonly _tag: string; readonly message: string; readonly partial?: Uint8Array }
  return e.partial === undefined
    ? { _tag: e._tag, message: e.message }
    : { _tag: e._tag, message: e.message, partial: text(e.partial) }
}

/** One request through a proxy with the given plan; returns the client socket and the proxy. */
const through = (options: Omit<FaultProxy.Options, "target">) =>
  Effect.gen(function*() {
    const peer = yield* upstream
    const proxy = yield* FaultProxy.make({ ...options, target: { host: peer.host, port: peer.port } })
    const socket = yield* TcpSocket.connect(proxy.host, proxy.port)
    yield* socket.send("req\n")
    return { socket, proxy }
  })

describe("FaultProxy: the seeded plan", () => {
  it("the same seed draws the same faults; probability 1 always draws that fault; 0 everywhere is pass", () => {
    const plan = faults.parse({ seed: 42, probabilities: { split: 0.3, delay: 0.2, resetMidReply: 0.1 } })
    expect(plan).not.toBeInstanceOf(Error)
    const draw = (n: number) => {
      const chooser = new faults.Chooser(plan as faults.Plan)
      return Array.from({ length: n }, () => chooser.next())
    }
    const first = draw(1000)
    expect(draw(1000)).toEqual(first)
    const counts = { ...zero }
    for (const fault of first) counts[fault]++
    expect(counts.stall + counts.finMidReply + counts.resetAfterReply).toBe(0)
    // 1000 draws: each frequency within 0.05 of its probability
    expect(Math.abs(counts.split / 1000 - 0.3)).toBeLessThan(0.05)
    expect(Math.abs(counts.delay / 1000 - 0.2)).toBeLessThan(0.05)
    expect(Math.abs(counts.resetMidReply / 1000 - 0.1)).toBeLessThan(0.05)
    expect(Math.abs(counts.pass / 1000 - 0.4)).toBeLessThan(0.05)
    for (const fault of faults.injected) {
      const only = new faults.Chooser(faults.parse({ probabilities: { [fault]: 1 } }) as faults.Plan)
      expect(Array.from({ length: 20 }, () => only.next())).toEqual(Array(20).fill(fault))
    }
    const none = new faults.Chooser(faults.parse({}) as faults.Plan)
    expect(Array.from({ length: 20 }, () => none.next())).toEqual(Array(20).fill("pass"))
  })

  it.live("bad options are InvalidArgument, before anything is opened", () =>
    Effect.gen(function*() {
      const make = FaultProxy.make as (options: unknown) => Effect.Effect<FaultProxy.FaultProxy, unknown>
      const target = { host: "127.0.0.1", port: 9 }
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [{ target, probabilities: { split: 0.7, delay: 0.6 } }, "the fault probabilities add up to 1.3, more than 1"],
        [{ target, probabilities: { stall: -0.1 } }, "bad \"stall\" probability: a number in 0..1 expected"],
        [{ target, probabilities: { delay: NaN } }, "bad \"delay\" probability: a number in 0..1 expected"],
        [{ target, seed: "x" }, "bad \"seed\" option: a finite number expected, got string"],
        [{ target, stallMillis: -1 }, "bad \"stallMillis\" option: a non-negative number of milliseconds expected"],
        [{ target: { host: "127.0.0.1", port: 0 } }, "bad port number: 0"],
        [{ target: { host: "", port: 80 } }, "failed to parse host name \"\": no host"],
        [{ target: null }, "bad \"target.host\": string expected"],
        [null, "bad \"target\" argument: reading it threw"]
      ]
      for (const [options, message] of cases) {
        expect(failureOf(yield* Effect.exit(Effect.scoped(make(options))))).toEqual({
          _tag: "InvalidArgument",
          message
        })
      }
    }))
})

describe("FaultProxy: each fault, against a real loopback server", () => {
  it.live("pass: the reply as is; the counters; the connection is no longer open once both sides closed", () =>
    Effect.gen(function*() {
      const { proxy, socket } = yield* through({})
      expect(text(yield* socket.receive())).toBe("0123456789")
      expect(yield* proxy.stats).toEqual({ faults: { ...zero, pass: 1 }, accepted: 1, open: 1 })
      yield* socket.close
      yield* eventually(() => Effect.runSync(proxy.stats).open === 0)
      expect(yield* proxy.stats).toEqual({ faults: { ...zero, pass: 1 }, accepted: 1, open: 0 })
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live("split: 1-byte segments (the first read wakes on one byte), all bytes in order", () =>
    Effect.gen(function*() {
      const { proxy, socket } = yield* through({ probabilities: { split: 1 } })
      // The bytes leave the proxy one write (and one timer turn) apart: the first read wakes on
      // the first of them, and on a loaded machine the next ones may already be there too.
      const first = text(yield* socket.receiveAny(100))
      expect(first.length).toBeGreaterThanOrEqual(1)
      expect(first.length).toBeLessThan(10)
      expect(first + text(yield* socket.receive())).toBe("0123456789")
      expect((yield* proxy.stats).faults).toEqual({ ...zero, split: 1 })
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live("delay: the reply arrives after delayMillis", () =>
    Effect.gen(function*() {
      const start = Date.now()
      const { proxy, socket } = yield* through({ probabilities: { delay: 1 }, delayMillis: 80 })
      expect(text(yield* socket.receive())).toBe("0123456789")
      expect(Date.now() - start).toBeGreaterThanOrEqual(75)
      expect((yield* proxy.stats).faults).toEqual({ ...zero, delay: 1 })
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live("stall: longer than the read timeout (SocketReadTimeout), then the bytes arrive", () =>
    Effect.gen(function*() {
      const { proxy, socket } = yield* through({ probabilities: { stall: 1 }, stallMillis: 300 })
      yield* socket.setTimeout(100)
      expect(failureOf(yield* Effect.exit(socket.receive()))).toEqual({
        _tag: "SocketReadTimeout",
        message: "timeout",
        partial: ""
      })
      yield* socket.setTimeout(2_000)
      expect(text(yield* socket.receive())).toBe("0123456789")
      expect((yield* proxy.stats).faults).toEqual({ ...zero, stall: 1 })
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live("resetMidReply: half the reply, then an RST", () =>
    Effect.gen(function*() {
      const { proxy, socket } = yield* through({ probabilities: { resetMidReply: 1 } })
      expect(failureOf(yield* Effect.exit(socket.receive("*a")))).toEqual({
        _tag: "SocketIoError",
        message: "connection reset by peer",
        partial: "01234"
      })
      expect((yield* proxy.stats).faults).toEqual({ ...zero, resetMidReply: 1 })
      yield* eventually(() => Effect.runSync(proxy.stats).open === 0)
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live("finMidReply: half the reply, then a FIN", () =>
    Effect.gen(function*() {
      const { proxy, socket } = yield* through({ probabilities: { finMidReply: 1 } })
      expect(failureOf(yield* Effect.exit(socket.receive()))).toEqual({
        _tag: "SocketClosed",
        message: "closed",
        partial: "01234"
      })
      expect((yield* proxy.stats).faults).toEqual({ ...zero, finMidReply: 1 })
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live("resetAfterReply: the whole reply, then an RST", () =>
    Effect.gen(function*() {
      const { proxy, socket } = yield* through({ probabilities: { resetAfterReply: 1 }, resetAfterMillis: 20 })
      expect(text(yield* socket.receive())).toBe("0123456789")
      expect(failureOf(yield* Effect.exit(socket.receive()))).toEqual({
        _tag: "SocketIoError",
        message: "connection reset by peer",
        partial: ""
      })
      expect((yield* proxy.stats).faults).toEqual({ ...zero, resetAfterReply: 1 })
    }).pipe(Effect.scoped, Effect.provide(layer())))
})

/** Errors the Redis client may fail with under network faults. */
const typedTags: ReadonlySet<string> = new Set([
  "SocketClosed",
  "SocketReadTimeout",
  "SocketIoError",
  "SocketTimeout",
  "ConnectError",
  "ProtocolError",
  "DirtyConnection",
  "UnreadDataInBuffer",
  "DubiousConnection"
])

describe("FaultProxy: the Redis example client through the pool, under every fault", () => {
  it.live(
    "2000 ECHOs of unique payloads from 50 fibers: each success is its own reply, each failure typed, nothing hangs or stays open",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer()
        const proxy = yield* FaultProxy.make({
          target: { host: redis.host, port: redis.port },
          seed: 16,
          probabilities: {
            delay: 0.05,
            split: 0.05,
            stall: 0.005,
            resetMidReply: 0.01,
            finMidReply: 0.01,
            resetAfterReply: 0.01
          },
          delayMillis: 2,
          stallMillis: 400
        })
        const requests = 2000
        const payload = (i: number) => `req-${i}-${"x".repeat(i % 50)}-\r\n-${i}`
        const options = { host: proxy.host, port: proxy.port, poolSize: 20 }
        const one = (i: number) =>
          Effect.exit(
            Redis.use(options, (client) => client.command("ECHO", payload(i)))
          ).pipe(Effect.map((exit) => ({ i, exit })))
        const pooled = Layer.provideMerge(
          NodeCosocket.layer,
          CosocketConfig.layer({ readTimeout: 200, connectTimeout: 1_000, sendTimeout: 1_000 })
        )
        const results = yield* Effect.forEach(Array.from({ length: requests }, (_, i) => i), one, {
          concurrency: 50
        }).pipe(Effect.provide(pooled), Effect.timeout(20_000))

        let ok = 0
        const failures = new Map<string, number>()
        for (const { exit, i } of results) {
          if (Exit.isSuccess(exit)) {
            ok++
            const reply = exit.value as Resp.RespValue
            expect(reply._tag).toBe("Bulk")
            expect(Buffer.from((reply as Resp.Bulk).value).toString("latin1")).toBe(payload(i))
            continue
          }
          const error = Cause.findErrorOption(exit.cause)
          expect(error._tag, Cause.pretty(exit.cause)).toBe("Some")
          const tag = (error as { value: { _tag: string } }).value._tag
          expect(typedTags.has(tag), tag).toBe(true)
          failures.set(tag, (failures.get(tag) ?? 0) + 1)
        }
        const failed = [...failures.values()].reduce((a, b) => a + b, 0)
        expect(ok + failed).toBe(requests)
        // about 3.5% of the chunks carry a fatal fault; a loaded machine adds read timeouts
        expect(ok).toBeGreaterThan(requests / 2)
        expect(failures.get("SocketReadTimeout") ?? 0).toBeGreaterThan(0)
        expect(failed).toBeGreaterThan(0)
        const stats = yield* proxy.stats
        for (const fault of FaultProxy.faults) expect(stats.faults[fault], fault).toBeGreaterThan(0)
        // the pool layer is closed: every connection it made is closed at the proxy too
        yield* eventually(() => Effect.runSync(proxy.stats).open === 0, 3_000)
        expect((yield* proxy.stats).open).toBe(0)
      }).pipe(Effect.scoped),
    { timeout: 40_000 }
  )
})
