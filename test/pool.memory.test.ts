/**
 * The keepalive pool on the in-memory transport under TestClock: MRU/LRU, idle timers, the idle
 * watcher, backlog waits and their races, key lifetime, stats and metrics, shutdown, and the
 * pool bugs OpenResty users meet (a late reply reaching the next borrower, unread bytes pooled,
 * stale handles, lost grants, backlog floods, idle resets, shutdown leaks). Catalog ids name the case each test
 * mirrors; the same cases run on real loopback sockets in pool.loopback.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { TestClock } from "effect/testing"
import * as FastCheck from "fast-check"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import { ConnectionPool, TcpSocket } from "../src/index.js"
import * as internalPool from "../src/internal/pool.js"
import type { StreamTransport } from "../src/Transport.js"
import * as Harness from "./support/poolHarness.js"
import { stubTransport } from "./support/stubTransport.js"

const HOST = "10.0.0.1"
const PORT = 80
const KEY = `${HOST}:${PORT}`
const text = TcpSocket.text

const errorOf = <A, E extends { readonly _tag: string; readonly message: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(effect), (e) => `${e._tag}: ${e.message}`)

describe("ConnectionPool on the memory transport", () => {
  it.effect("reuse counts: 0 for a fresh connection, previous + 1 on every reuse (TCP-POOL-001)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const counts: Array<number> = []
      for (let i = 0; i < 4; i++) {
        yield* h.run(Effect.gen(function*() {
          const socket = yield* TcpSocket.connect(HOST, PORT)
          counts.push(yield* socket.getReusedTimes)
          yield* socket.setKeepalive()
        }))
      }
      expect(counts).toEqual([0, 1, 2, 3])
      expect(h.net.peers.length).toBe(1)
      const s = yield* h.stats(KEY)
      expect(s).toMatchObject({ size: 30, backlog: undefined, idle: 1, active: 0, waiting: 0, created: 1, reused: 3 })
      yield* h.shutdown
    }))

  it.effect("MRU reuse and LRU eviction past size (TCP-POOL-042)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const [c1, c2, c3] = yield* Effect.all([h.client(), h.client(), h.client()])
      for (const c of [c1, c2, c3]) yield* c.socket.connect(HOST, PORT, { poolSize: 2 })
      const ports = yield* Effect.forEach([c1, c2, c3], (c) => Effect.map(c.socket.localAddressInfo, (a) => a.port))
      expect(ports).toEqual([0, 1, 2])
      yield* c1.socket.setKeepalive()
      yield* c2.socket.setKeepalive()
      expect(h.net.peers[0].isOpen).toBe(true)
      yield* c3.socket.setKeepalive()
      // pool full: the least recently used (c1's) connection is closed
      expect(h.net.peers[0].destroyedByClient).toBe(true)
      expect((yield* h.stats(KEY))?.evicted).toEqual({ idleTimeout: 0, lru: 1, peerActivity: 0, shutdown: 0 })
      const d1 = yield* h.client()
      yield* d1.socket.connect(HOST, PORT)
      expect((yield* d1.socket.localAddressInfo).port).toBe(2)
      const d2 = yield* h.client()
      yield* d2.socket.connect(HOST, PORT)
      expect((yield* d2.socket.localAddressInfo).port).toBe(1)
      expect(yield* d2.socket.getReusedTimes).toBe(1)
      yield* Effect.forEach([c1, c2, c3, d1, d2], (c) => c.end)
      expect(yield* h.stats(KEY)).toBeUndefined()
      yield* h.shutdown
    }))

  it.effect("idle timeout runs on the Clock: closed at exactly the deadline, then the key is gone (TCP-POOL-005, -009)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      yield* h.run(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect(HOST, PORT, { poolSize: 25 })
        yield* socket.setKeepalive("101 millis")
      }))
      expect((yield* h.stats(KEY))?.size).toBe(25)
      yield* TestClock.adjust("100 millis")
      expect((yield* h.stats(KEY))?.idle).toBe(1)
      expect(h.net.peers[0].isOpen).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(h.net.peers[0].destroyedByClient).toBe(true)
      expect(yield* h.stats(KEY)).toBeUndefined()
      yield* h.shutdown
    }))

  it.effect("idle timeout 0 or infinity means unlimited (TCP-POOL-007)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      yield* h.run(Effect.gen(function*() {
        const a = yield* TcpSocket.connect(HOST, PORT, { pool: "zero" })
        yield* a.setKeepalive(0)
        const b = yield* TcpSocket.connect(HOST, PORT, { pool: "inf" })
        yield* b.setKeepalive(Duration.infinity)
      }))
      yield* TestClock.adjust("1000 hours")
      expect((yield* h.stats("zero"))?.idle).toBe(1)
      expect((yield* h.stats("inf"))?.idle).toBe(1)
      expect(h.net.openCount()).toBe(2)
      yield* h.shutdown
      expect(h.net.openCount()).toBe(0)
    }))

  it.effect("each idle connection has its own timer; a reused connection's timer is gone", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const [a, b] = yield* Effect.all([h.client(), h.client()])
      yield* a.socket.connect(HOST, PORT)
      yield* b.socket.connect(HOST, PORT)
      yield* a.socket.setKeepalive("100 millis")
      yield* TestClock.adjust("50 millis")
      yield* b.socket.setKeepalive("100 millis")
      yield* TestClock.adjust("50 millis")
      expect(h.net.peers.map((p) => p.isOpen)).toEqual([false, true])
      // b's connection is taken out 10 ms before its deadline: no timer may close it later
      yield* TestClock.adjust("40 millis")
      const c = yield* h.client()
      yield* c.socket.connect(HOST, PORT)
      expect((yield* c.socket.localAddressInfo).port).toBe(1)
      yield* TestClock.adjust("1 hour")
      expect(h.net.peers[1].isOpen).toBe(true)
      expect(yield* c.socket.send("still here")).toBe(10)
      yield* Effect.forEach([a, b, c], (x) => x.end)
      yield* h.shutdown
    }))

  it.effect("idle timers: exactly the connections whose deadline passed are closed, in any order of timeouts", () =>
    Effect.gen(function*() {
      yield* Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(
            FastCheck.array(FastCheck.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 40 }),
            FastCheck.array(FastCheck.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 8 }),
            (timeouts, steps) =>
              Effect.runPromise(
                Effect.gen(function*() {
                  const h = yield* Harness.make()
                  for (const [i, t] of timeouts.entries()) {
                    yield* h.run(
                      Effect.flatMap(
                        TcpSocket.connect(HOST, PORT, { pool: `k${i}` }),
                        (s) => s.setKeepalive(Duration.millis(t))
                      )
                    )
                  }
                  let elapsed = 0
                  for (const step of steps) {
                    yield* TestClock.adjust(Duration.millis(step))
                    elapsed += step
                    expect(h.net.peers.map((p) => p.isOpen)).toEqual(timeouts.map((t) => t > elapsed))
                  }
                  yield* h.shutdown
                }).pipe(Effect.provide(TestClock.layer()))
              )
          ),
          { numRuns: 40 }
        )
      )
    }))

  it.effect("idle watcher: data, FIN or an error while idle drops the connection (TCP-POOL-003, -047)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const park = (pool: string) =>
        h.run(Effect.gen(function*() {
          const socket = yield* TcpSocket.connect(HOST, PORT, { pool })
          yield* socket.setKeepalive()
        }))
      yield* park("data")
      yield* park("fin")
      yield* park("error")
      h.net.peers[0].send("late")
      h.net.peers[1].fin()
      h.net.peers[2].fail()
      expect(h.net.peers.map((p) => p.destroyedByClient)).toEqual([true, true, false])
      expect(h.net.openCount()).toBe(0)
      for (const key of ["data", "fin", "error"]) expect(yield* h.stats(key)).toBeUndefined()
      // the next connect makes a fresh connection (TCP-POOL-047)
      const reused = yield* h.run(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect(HOST, PORT, { pool: "fin" })
        return yield* socket.getReusedTimes
      }))
      expect(reused).toBe(0)
      expect(h.net.peers.length).toBe(4)
      yield* h.shutdown
    }))

  it.effect("checkout re-checks the transport: pending bytes, EOF or an error the watcher missed", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      // transports whose state changes without waking the watcher
      const stub = (state: { pending: number; ended: boolean; failed: boolean }): StreamTransport => ({
        read: () => undefined,
        isEnded: () => state.ended,
        failure: () => state.failed ? { code: "ECONNRESET", reason: "connection reset by peer" } : undefined,
        pendingBytes: () => state.pending,
        setWaker: () => {},
        write: () => true,
        shutdown: () => {},
        destroy: () => {
          destroyed.push(state)
        },
        isDestroyed: () => false,
        setNoDelay: () => {},
        setKeepAlive: () => {},
        localAddress: () => undefined,
        remoteAddress: () => undefined
      })
      const destroyed: Array<unknown> = []
      const states = [0, 1, 2, 3].map(() => ({ pending: 0, ended: false, failed: false }))
      const leases = yield* Effect.forEach(states, () => h.pool.acquire("k", {}, Duration.seconds(1)))
      leases.forEach((lease, i) =>
        expect(lease.checkin({ transport: stub(states[i]), reusedTimes: 0 }, Duration.infinity)).toBe(true)
      )
      // the peer acts after check-in, unseen by the watcher
      states[1].pending = 3
      states[2].ended = true
      states[3].failed = true
      const lease = yield* h.pool.acquire("k", {}, Duration.seconds(1))
      expect(lease.reused?.reusedTimes).toBe(1)
      expect(destroyed).toEqual([states[3], states[2], states[1]])
      expect(lease.reused?.transport.pendingBytes()).toBe(0)
      expect((yield* h.stats("k"))?.evicted.peerActivity).toBe(3)
      lease.release()
      expect(yield* h.stats("k")).toBeUndefined()
      yield* h.shutdown
    }))

  it.effect("backlog: size connections open, FIFO waiters, PoolBacklogFull at once past backlog (TCP-POOL-023)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const opts = { poolSize: 2, backlog: 2 }
      const [a, b, c, d, e] = yield* Effect.all([h.client(), h.client(), h.client(), h.client(), h.client()])
      yield* a.socket.connect(HOST, PORT, opts)
      yield* b.socket.connect(HOST, PORT, opts)
      const fc = yield* Effect.forkChild(c.socket.connect(HOST, PORT, opts))
      yield* Harness.settle
      const fd = yield* Effect.forkChild(d.socket.connect(HOST, PORT, opts))
      yield* Harness.settle
      expect(yield* errorOf(e.socket.connect(HOST, PORT, opts))).toBe(
        "PoolBacklogFull: too many waiting connect operations"
      )
      expect(yield* h.stats(KEY)).toMatchObject({ active: 2, idle: 0, waiting: 2, backlogFull: 1 })
      expect(h.net.attempts()).toBe(2)
      // a's connection goes back: handed straight to the first waiter (c), never idle
      yield* a.socket.setKeepalive()
      yield* Fiber.join(fc)
      expect(yield* c.socket.getReusedTimes).toBe(1)
      expect((yield* c.socket.localAddressInfo).port).toBe(0)
      expect(yield* h.stats(KEY)).toMatchObject({ active: 2, idle: 0, waiting: 1 })
      // b closes: its slot goes to d, which connects anew
      yield* b.socket.close
      yield* Fiber.join(fd)
      expect(yield* d.socket.getReusedTimes).toBe(0)
      expect(h.net.attempts()).toBe(3)
      expect(yield* h.stats(KEY)).toMatchObject({ active: 2, idle: 0, waiting: 0, created: 3, reused: 1 })
      // backlog 0: no waiting at all
      const f = yield* h.client()
      yield* f.socket.connect(HOST, PORT, { pool: "b0", poolSize: 1, backlog: 0 })
      const g = yield* h.client()
      expect(yield* errorOf(g.socket.connect(HOST, PORT, { pool: "b0", poolSize: 1, backlog: 0 }))).toBe(
        "PoolBacklogFull: too many waiting connect operations"
      )
      expect(yield* errorOf(g.socket.send("x"))).toBe("SocketClosed: closed")
      yield* Effect.forEach([a, b, c, d, e, f, g], (x) => x.end)
      expect((yield* h.pool.stats).size).toBe(0)
      yield* h.shutdown
    }))

  it.effect("waiters are served in FIFO order (TCP-POOL-026, -029)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const opts = { poolSize: 1, backlog: 3 }
      const holder = yield* h.client()
      yield* holder.socket.connect(HOST, PORT, opts)
      const order: Array<number> = []
      const waiters = yield* Effect.forEach([0, 1, 2], (i) =>
        Effect.gen(function*() {
          const c = yield* h.client()
          const fiber = yield* Effect.forkChild(
            c.socket.connect(HOST, PORT, opts).pipe(
              Effect.tap(() => Effect.sync(() => order.push(i))),
              Effect.andThen(c.socket.close)
            )
          )
          yield* Harness.settle
          return { c, fiber }
        }))
      expect((yield* h.stats(KEY))?.waiting).toBe(3)
      yield* holder.socket.setKeepalive()
      yield* Effect.forEach(waiters, (w) => Fiber.join(w.fiber))
      expect(order).toEqual([0, 1, 2])
      expect(h.net.attempts()).toBe(3) // the pooled one went to waiter 0; 1 and 2 connected anew
      yield* Effect.forEach([holder, ...waiters.map((w) => w.c)], (x) => x.end)
      yield* h.shutdown
    }))

  it.effect("a waiter times out after its connect timeout with SocketTimeout 'pool' and leaves no trace (TCP-POOL-031)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const opts = { poolSize: 1, backlog: 1 }
      const holder = yield* h.client()
      yield* holder.socket.connect(HOST, PORT, opts)
      const c = yield* h.client()
      yield* c.socket.setTimeouts(10, 3000, 3000)
      const fiber = yield* Effect.forkChild(Effect.flip(c.socket.connect(HOST, PORT, opts)))
      yield* Harness.settle
      expect(internalPool.pendingTimers(h.pool)).toBe(1)
      yield* TestClock.adjust("9 millis")
      expect(Option.isNone(yield* Harness.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      expect(error).toMatchObject({ _tag: "SocketTimeout", operation: "pool", message: "timeout" })
      expect(yield* h.stats(KEY)).toMatchObject({ active: 1, waiting: 0, waitTimeouts: 1 })
      expect(internalPool.pendingTimers(h.pool)).toBe(0)
      expect(yield* errorOf(c.socket.send("x"))).toBe("SocketClosed: closed")
      // the slot is still usable by others
      yield* holder.socket.close
      yield* c.socket.connect(HOST, PORT, opts)
      // the key's pool was gone while nothing was open: counters start again
      expect(yield* h.stats(KEY)).toMatchObject({ active: 1, waiting: 0, created: 1 })
      yield* Effect.forEach([holder, c], (x) => x.end)
      yield* h.shutdown
    }))

  it.effect("an interrupted waiter leaves no trace (TCP-POOL-034)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const opts = { poolSize: 1, backlog: 2 }
      const holder = yield* h.client()
      yield* holder.socket.connect(HOST, PORT, opts)
      const [c, d] = yield* Effect.all([h.client(), h.client()])
      const fc = yield* Effect.forkChild(c.socket.connect(HOST, PORT, opts))
      const fd = yield* Effect.forkChild(d.socket.connect(HOST, PORT, opts))
      yield* Harness.settle
      expect((yield* h.stats(KEY))?.waiting).toBe(2)
      yield* Fiber.interrupt(fc)
      expect(yield* h.stats(KEY)).toMatchObject({ active: 1, waiting: 1 })
      expect(internalPool.pendingTimers(h.pool)).toBe(1)
      yield* holder.socket.close
      yield* Fiber.join(fd)
      expect(yield* h.stats(KEY)).toMatchObject({ active: 1, waiting: 0 })
      yield* d.socket.close
      expect(yield* h.stats(KEY)).toBeUndefined()
      expect(internalPool.pendingTimers(h.pool)).toBe(0)
      yield* Effect.forEach([holder, c, d], (x) => x.end)
      yield* h.shutdown
    }))

  const raceCase = (order: "grantFirst" | "interruptFirst", handoff: "close" | "setKeepalive") =>
    it.effect(`a grant racing the waiter's interruption is given back, never lost (${order}, ${handoff})`, () =>
      Effect.gen(function*() {
        const h = yield* Harness.make()
        const opts = { poolSize: 1, backlog: 2 }
        const holder = yield* h.client()
        yield* holder.socket.connect(HOST, PORT, opts)
        const [c, d] = yield* Effect.all([h.client(), h.client()])
        const fc = yield* Effect.forkChild(c.socket.connect(HOST, PORT, opts))
        yield* Harness.settle
        const fd = yield* Effect.forkChild(d.socket.connect(HOST, PORT, opts))
        yield* Harness.settle
        const handoffEffect = handoff === "close" ? holder.socket.close : holder.socket.setKeepalive()
        const interrupt = Effect.sync(() => fc.interruptUnsafe())
        // both happen before either fiber runs again
        yield* order === "grantFirst"
          ? Effect.andThen(handoffEffect, interrupt)
          : Effect.andThen(interrupt, handoffEffect)
        yield* Harness.settle
        const exitC = Option.getOrThrow(yield* Harness.poll(fc))
        const stats = yield* h.stats(KEY)
        if (Exit.isSuccess(exitC)) {
          // c got the slot before the interruption landed: d still waits
          expect(stats).toMatchObject({ active: 1, waiting: 1 })
          yield* c.socket.close
          yield* Harness.settle
        } else {
          expect(Exit.hasInterrupts(exitC)).toBe(true)
          expect(yield* errorOf(c.socket.send("x"))).toBe("SocketClosed: closed")
        }
        // d got the slot (never lost): its connect has ended without any clock movement
        expect(Option.map(yield* Harness.poll(fd), Exit.isSuccess)).toEqual(Option.some(true))
        expect(yield* h.stats(KEY)).toMatchObject({ active: 1, waiting: 0 })
        expect(yield* d.socket.getReusedTimes).toBe(handoff === "setKeepalive" && !Exit.isSuccess(exitC) ? 1 : 0)
        yield* d.socket.close
        expect(yield* h.stats(KEY)).toBeUndefined()
        expect(h.net.openCount()).toBe(0)
        yield* Effect.forEach([holder, c, d], (x) => x.end)
        yield* h.shutdown
      }))
  raceCase("grantFirst", "close")
  raceCase("interruptFirst", "close")
  raceCase("grantFirst", "setKeepalive")
  raceCase("interruptFirst", "setKeepalive")

  it.effect("a grant whose socket's scope closes before the waiter runs goes back to the pool, open; the connect fails closed", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const opts = { poolSize: 1, backlog: 1 }
      const holder = yield* h.client()
      yield* holder.socket.connect(HOST, PORT, opts)
      const c = yield* h.client()
      const fc = yield* Effect.forkChild(c.socket.connect(HOST, PORT, opts))
      yield* Harness.settle
      expect(yield* h.stats(KEY)).toMatchObject({ active: 1, waiting: 1 })
      // the grant and the end of c's scope, both before c's fiber runs again
      yield* Effect.andThen(holder.socket.setKeepalive(), c.end)
      yield* Harness.settle
      const exitC = Option.getOrThrow(yield* Harness.poll(fc))
      expect(Exit.isFailure(exitC) && Cause.findErrorOption(exitC.cause)).toMatchObject({
        _tag: "Some",
        value: { _tag: "SocketClosed", operation: "connect" }
      })
      expect(yield* h.stats(KEY)).toMatchObject({ idle: 1, active: 0, waiting: 0 })
      expect(h.net.openCount()).toBe(1)
      const d = yield* h.client()
      yield* d.socket.connect(HOST, PORT, opts)
      expect(yield* d.socket.getReusedTimes).toBe(1)
      yield* d.socket.close
      yield* Effect.forEach([holder, d], (x) => x.end)
      yield* h.shutdown
    }))

  it.effect("a failed connect releases its slot and the next waiter proceeds (TCP-POOL-025, -033)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const opts = { pool: "test", poolSize: 1, backlog: 2 }
      h.net.setOnConnect((target) =>
        target._tag === "Inet" && target.port === 1 ? { _tag: "Refuse" } : { _tag: "Accept" }
      )
      const holder = yield* h.client()
      yield* holder.socket.connect(HOST, PORT, opts)
      const [bad, good] = yield* Effect.all([h.client(), h.client()])
      const fb = yield* Effect.forkChild(Effect.flip(bad.socket.connect(HOST, 1, opts)))
      yield* Harness.settle
      const fg = yield* Effect.forkChild(good.socket.connect(HOST, PORT, opts))
      yield* Harness.settle
      yield* holder.socket.close
      expect((yield* Fiber.join(fb)).message).toBe("connection refused")
      yield* Fiber.join(fg)
      expect(yield* h.stats("test")).toMatchObject({ active: 1, waiting: 0, created: 3 })
      expect(h.net.attempts()).toBe(3)
      // a connect timeout also releases the slot
      yield* good.socket.close
      h.net.setOnConnect(() => ({ _tag: "Hang" }))
      const slow = yield* h.client()
      yield* slow.socket.setTimeouts(100, 3000, 3000)
      const fs = yield* Effect.forkChild(Effect.flip(slow.socket.connect(HOST, PORT, opts)))
      yield* Harness.settle
      yield* TestClock.adjust("100 millis")
      expect((yield* Fiber.join(fs))._tag).toBe("SocketTimeout")
      expect(yield* h.stats("test")).toBeUndefined()
      yield* Effect.forEach([holder, bad, good, slow], (x) => x.end)
      yield* h.shutdown
    }))

  it.effect("limits are fixed when a key's pool is created; an undeclared key disappears when empty (TCP-POOL-046, -030)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const cs = yield* Effect.all([h.client(), h.client(), h.client()])
      yield* cs[0].socket.connect(HOST, PORT, { poolSize: 1 })
      yield* cs[1].socket.connect(HOST, PORT, { poolSize: 5 })
      yield* cs[2].socket.connect(HOST, PORT)
      expect((yield* h.stats(KEY))?.size).toBe(1)
      yield* Effect.forEach(cs, (c) => c.socket.setKeepalive())
      expect(yield* h.stats(KEY)).toMatchObject({ size: 1, idle: 1, evicted: { lru: 2 } })
      const reuse = yield* h.client()
      yield* reuse.socket.connect(HOST, PORT, { poolSize: 5 })
      yield* reuse.socket.close
      expect(yield* h.stats(KEY)).toBeUndefined()
      // the next creator chooses again
      const next = yield* h.client()
      yield* next.socket.connect(HOST, PORT, { poolSize: 5, backlog: 1 })
      expect(yield* h.stats(KEY)).toMatchObject({ size: 5, backlog: 1 })
      yield* Effect.forEach([...cs, reuse, next], (c) => c.end)
      yield* h.shutdown
    }))

  it.effect("declared pools persist while empty and keep their limits", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make({ pools: { redis: { size: 1, backlog: 0 }, plain: {} } })
      const initial = yield* h.pool.stats
      expect(initial.get("redis")).toMatchObject({ size: 1, backlog: 0, declared: true, idle: 0, active: 0 })
      expect(initial.get("plain")).toMatchObject({ size: 30, backlog: undefined, declared: true })
      const a = yield* h.client()
      yield* a.socket.connect(HOST, PORT, { pool: "redis", poolSize: 10 })
      const b = yield* h.client()
      expect(yield* errorOf(b.socket.connect(HOST, PORT, { pool: "redis", poolSize: 10, backlog: 5 }))).toBe(
        "PoolBacklogFull: too many waiting connect operations"
      )
      yield* a.socket.close
      expect(yield* h.stats("redis")).toMatchObject({ size: 1, backlog: 0, active: 0, declared: true })
      yield* Effect.forEach([a, b], (c) => c.end)
      yield* h.shutdown
    }))

  it.effect("invalid declared limits fail the layer with InvalidArgument", () =>
    Effect.gen(function*() {
      const bad = (pools: ConnectionPool.Options["pools"]) =>
        Effect.scoped(ConnectionPool.make({ pools })).pipe(Effect.flip, Effect.map((e) => `${e._tag}: ${e.message}`))
      expect(yield* bad({ k: { size: 0 } })).toBe(`InvalidArgument: bad "size" option value: 0`)
      expect(yield* bad({ k: { backlog: -1 } })).toBe(`InvalidArgument: bad "backlog" option value: -1`)
      expect(yield* bad({ k: { size: "a" as unknown as number } })).toBe(
        `InvalidArgument: bad "size" option type: string`
      )
    }))

  it.effect("stats and metrics per key", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const key = "metrics-key"
      const [a, b, c] = yield* Effect.all([h.client(), h.client(), h.client()])
      yield* a.socket.connect(HOST, PORT, { pool: key, poolSize: 2, backlog: 0 })
      yield* b.socket.connect(HOST, PORT, { pool: key })
      yield* Effect.flip(c.socket.connect(HOST, PORT, { pool: key }))
      yield* a.socket.setKeepalive("1 second")
      // The gauges of old are up-down counters now (db.client.connection.count by state, .pending_requests).
      const counter = (m: Metric.Counter<number>, extra?: Record<string, string>) =>
        Effect.map(
          Metric.value(m.pipe(Metric.withAttributes({ "pool.name": key, ...extra }))),
          (s) => s.count
        )
      const M = ConnectionPool.metrics
      const idle = counter(M.connectionCount, { state: "idle" })
      const used = counter(M.connectionCount, { state: "used" })
      expect(yield* Effect.all([idle, used, counter(M.pendingRequests)])).toEqual([1, 1, 0])
      expect(yield* Effect.all([counter(M.created), counter(M.reused), counter(M.backlogFull)])).toEqual([2, 0, 1])
      yield* TestClock.adjust("1 second")
      expect(yield* counter(M.evicted, { reason: "idleTimeout" })).toBe(1)
      expect(yield* idle).toBe(0)
      expect(yield* h.stats(key)).toEqual({
        key,
        size: 2,
        backlog: 0,
        declared: false,
        idle: 0,
        active: 1,
        waiting: 0,
        created: 2,
        reused: 0,
        backlogFull: 1,
        waitTimeouts: 0,
        evicted: { idleTimeout: 1, lru: 0, peerActivity: 0, shutdown: 0 }
      })
      yield* Effect.forEach([a, b, c], (x) => x.end)
      expect(yield* used).toBe(0)
      yield* h.shutdown
    }))

  it.effect("shutdown: idle closed, waiters fail with PoolClosed, later acquires fail, check-in refused, no fiber or timer left", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const opts = { poolSize: 2, backlog: 5 }
      const [a, b, c, d] = yield* Effect.all([h.client(), h.client(), h.client(), h.client()])
      yield* a.socket.connect(HOST, PORT, opts)
      yield* b.socket.connect(HOST, PORT, opts)
      yield* a.socket.setKeepalive("10 seconds")
      yield* c.socket.connect(HOST, PORT, opts) // takes a's connection
      const fd = yield* Effect.forkChild(Effect.flip(d.socket.connect(HOST, PORT, opts)))
      const idle = yield* h.client()
      yield* idle.socket.connect(HOST, PORT, { pool: "other" })
      yield* idle.socket.setKeepalive("10 seconds")
      for (let i = 0; i < 100; i++) {
        yield* h.run(
          Effect.flatMap(TcpSocket.connect(HOST, PORT, { pool: `many${i}` }), (s) => s.setKeepalive("1 hour"))
        )
      }
      yield* Harness.settle
      // the sweeper (plus the two short-lived sides of its sleep-or-poke race), whatever the idle count
      expect(yield* h.liveFibers).toBeLessThanOrEqual(3)
      expect(internalPool.pendingTimers(h.pool)).toBe(102) // idle timers and one timed wait
      yield* h.shutdown
      expect(yield* Effect.map(Fiber.join(fd), (e) => `${e._tag}: ${e.message}`)).toBe("PoolClosed: pool closed")
      expect(h.net.peers[2].destroyedByClient).toBe(true) // the idle ones
      expect(h.net.openCount()).toBe(2)
      expect(internalPool.pendingTimers(h.pool)).toBe(0)
      expect(yield* h.liveFibers).toBe(0)
      // held connections keep working until their holders finish
      expect(yield* c.socket.send("x")).toBe(1)
      // check-in after shutdown: setKeepalive succeeds but the connection is closed
      yield* c.socket.setKeepalive()
      expect(h.net.peers[0].destroyedByClient).toBe(true)
      yield* b.socket.close
      expect(h.net.openCount()).toBe(0)
      const e = yield* h.client()
      expect(yield* errorOf(e.socket.connect(HOST, PORT))).toBe("PoolClosed: pool closed")
      expect((yield* h.pool.stats).size).toBe(0)
      yield* Effect.forEach([a, b, c, d, e, idle], (x) => x.end)
    }))

  it.effect("TcpSocket.withKeepalive: pooled on success, closed on failure or refusal", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const ok = yield* h.run(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect(HOST, PORT)
        return yield* TcpSocket.withKeepalive(socket, Effect.succeed(42), "5 seconds")
      }))
      expect(ok).toBe(42)
      expect(yield* h.stats(KEY)).toMatchObject({ idle: 1 })
      // the idle time given is used
      yield* TestClock.adjust("5 seconds")
      expect(yield* h.stats(KEY)).toBeUndefined()
      const failed = yield* h.run(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect(HOST, PORT)
        return yield* Effect.result(TcpSocket.withKeepalive(socket, Effect.fail("boom")))
      }))
      expect(failed).toEqual(Result.fail("boom"))
      expect(h.net.peers[1].destroyedByClient).toBe(true)
      expect(yield* h.stats(KEY)).toBeUndefined()
      // refused (unread data): closed, use's value still returned
      const refused = yield* h.run(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect(HOST, PORT)
        h.net.lastPeer().send("unread")
        return yield* TcpSocket.withKeepalive(socket, Effect.succeed("value"))
      }))
      expect(refused).toBe("value")
      expect(h.net.peers[2].destroyedByClient).toBe(true)
      // interrupted: closed
      const fiber = yield* Effect.forkChild(h.run(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect(HOST, PORT)
        return yield* TcpSocket.withKeepalive(socket, Effect.never)
      })))
      yield* Harness.settle
      yield* Fiber.interrupt(fiber)
      expect(h.net.peers[3].destroyedByClient).toBe(true)
      expect(h.net.openCount()).toBe(0)
      yield* h.shutdown
    }))

  it.effect("a late reply after a read timeout never reaches the next borrower", () =>
    Effect.gen(function*() {
      yield* Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(FastCheck.integer({ min: 1, max: 200 }), FastCheck.boolean(), (late, force) =>
            Effect.runPromise(
              Effect.gen(function*() {
                const h = yield* Harness.make()
                const first = yield* h.client()
                yield* first.socket.setTimeouts(1000, 1000, 100)
                yield* first.socket.connect(HOST, PORT)
                yield* first.socket.send("GET a\n")
                const read = yield* Effect.forkChild(Effect.flip(first.socket.receive()))
                yield* Harness.settle
                yield* TestClock.adjust("100 millis")
                expect((yield* Fiber.join(read))._tag).toBe("SocketReadTimeout")
                // the reply comes `late` ms after the timeout: before or after the release
                const peer = h.net.peers[0]
                const released = yield* Effect.result(first.socket.setKeepalive(undefined, { force }))
                if (!force) {
                  expect(Result.isFailure(released) && released.failure._tag).toBe("DirtyConnection")
                }
                yield* TestClock.adjust(Duration.millis(late))
                peer.send("REPLY a\n")
                const second = yield* h.client()
                yield* second.socket.connect(HOST, PORT)
                yield* second.socket.send("GET b\n")
                const p = h.net.peers[(yield* second.socket.localAddressInfo).port]
                p.send("REPLY b\n")
                expect(text(yield* second.socket.receive())).toBe("REPLY b")
                expect(yield* second.socket.getReusedTimes).toBe(0)
                yield* Effect.forEach([first, second], (c) => c.end)
                yield* h.shutdown
              }).pipe(Effect.provide(TestClock.layer()))
            )),
          { numRuns: 30 }
        )
      )
    }))

  it.effect("unread bytes at release close the connection, the pool stays empty", () =>
    Effect.gen(function*() {
      yield* Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(
            FastCheck.integer({ min: 1, max: 64 }),
            FastCheck.integer({ min: 0, max: 64 }),
            (unread, consumed) =>
              Effect.runPromise(
                Effect.gen(function*() {
                  const h = yield* Harness.make()
                  const c = yield* h.client()
                  yield* c.socket.connect(HOST, PORT)
                  h.net.peers[0].send("x".repeat(consumed + unread))
                  if (consumed > 0) yield* c.socket.receive(consumed)
                  const error = yield* Effect.flip(c.socket.setKeepalive())
                  // bytes already pulled into our buffer, or still in the transport
                  expect(["UnreadDataInBuffer", "DubiousConnection"]).toContain(error._tag)
                  expect(h.net.peers[0].destroyedByClient).toBe(true)
                  expect(yield* h.stats(KEY)).toBeUndefined()
                  const next = yield* h.client()
                  yield* next.socket.connect(HOST, PORT)
                  expect(yield* next.socket.getReusedTimes).toBe(0)
                  yield* Effect.forEach([c, next], (x) => x.end)
                  yield* h.shutdown
                }).pipe(Effect.provide(TestClock.layer()))
              )
          ),
          { numRuns: 30 }
        )
      )
    }))

  it.effect("a stale handle after setKeepalive fails with SocketClosed and never touches the connection", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const old = yield* h.client()
      yield* old.socket.connect(HOST, PORT)
      yield* old.socket.setKeepalive()
      const next = yield* h.client()
      yield* next.socket.connect(HOST, PORT)
      expect(yield* next.socket.getReusedTimes).toBe(1)
      const peer = h.net.peers[0]
      peer.send("for next\n")
      const outcomes = yield* Effect.all([
        errorOf(old.socket.send("stale")),
        errorOf(old.socket.receive()),
        errorOf(old.socket.receiveAny(10)),
        errorOf(old.socket.close),
        errorOf(old.socket.setKeepalive()),
        errorOf(old.socket.getReusedTimes)
      ])
      expect(outcomes).toEqual(Array(6).fill("SocketClosed: closed"))
      expect(peer.writtenText()).toBe("")
      expect(peer.isOpen).toBe(true)
      expect(text(yield* next.socket.receive())).toBe("for next")
      // ending the stale handle's scope does not close the connection either
      yield* old.end
      expect(peer.isOpen).toBe(true)
      expect(yield* h.stats(KEY)).toMatchObject({ active: 1, idle: 0 })
      yield* next.end
      yield* h.shutdown
    }))

  it.effect("an idle connection costs at most 2 KB of JS heap", () =>
    Effect.gen(function*() {
      const gc = gcFunction()
      if (gc === undefined) return
      const h = yield* Harness.make()
      const n = 20_000
      const stubs: Array<StreamTransport> = []
      for (let i = 0; i < n; i++) stubs.push(minimalTransport())
      const leases = yield* Effect.forEach(stubs, () => h.pool.acquire("mem", { size: n }, Duration.seconds(1)))
      gc()
      const before = process.memoryUsage().heapUsed
      leases.forEach((lease, i) => lease.checkin({ transport: stubs[i], reusedTimes: 0 }, Duration.seconds(60)))
      leases.length = 0
      gc()
      const after = process.memoryUsage().heapUsed
      expect((yield* h.stats("mem"))?.idle).toBe(n)
      expect(internalPool.pendingTimers(h.pool)).toBe(n)
      const perConnection = (after - before) / n
      expect(perConnection).toBeLessThanOrEqual(2048)
      yield* h.shutdown
    }))
})

const gcFunction = (): (() => void) | undefined => {
  try {
    V8.setFlagsFromString("--expose-gc")
    return Vm.runInNewContext("gc") as () => void
  } catch {
    return undefined
  }
}

/** A transport that keeps its waker, as a real one does, so the measured heap holds it too. */
const minimalTransport = (): StreamTransport => {
  let waker: (() => void) | undefined
  return stubTransport({
    setWaker: (w) => {
      waker = w
      void waker
    }
  })
}
