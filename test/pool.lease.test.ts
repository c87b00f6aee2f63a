/**
 * The pool through its own API (acquire, leases, stats, metrics) with stand-in transports and
 * TestClock: what a lease records (create, use and wait times), idempotent release and check-in,
 * the transport's waker while idle and after, the deadline heap under arbitrary removals, the
 * count series of declared, undeclared and shut-down keys, and the validation of declared pools.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import * as FastCheck from "fast-check"
import { ConnectionPool } from "../src/index.js"
import * as internalPool from "../src/internal/pool.js"
import * as Harness from "./support/poolHarness.js"
import { stubTransport } from "./support/stubTransport.js"

/** A stand-in transport: records being closed and the waker the pool leaves on it. */
const connection = () => {
  const state = {
    destroyed: false,
    pendingBytes: 0,
    waker: undefined as (() => void) | undefined,
    wakerCalls: 0
  }
  const transport = stubTransport({
    pendingBytes: () => state.pendingBytes,
    setWaker: (waker) => {
      state.wakerCalls++
      state.waker = waker
    },
    destroy: () => {
      state.destroyed = true
    },
    isDestroyed: () => state.destroyed
  })
  return { transport, state }
}

/** A pool in a scope of its own, so a test can shut it down. */
const makePool = (options?: ConnectionPool.Options) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const pool = yield* ConnectionPool.make(options).pipe(Scope.provide(scope), Effect.orDie)
    return { pool, shutdown: Scope.close(scope, Exit.void) }
  })

const M = ConnectionPool.metrics

const histogram = (metric: Metric.Histogram<number>, key: string) =>
  Effect.map(Metric.value(metric.pipe(Metric.withAttributes({ "pool.name": key }))), (s) => ({
    count: s.count,
    sum: Math.round(s.sum * 1e6) / 1e6
  }))

const counter = (metric: Metric.Counter<number>, key: string, extra?: Record<string, string>) =>
  Effect.map(Metric.value(metric.pipe(Metric.withAttributes({ "pool.name": key, ...extra }))), (s) => s.count)

const forever = Duration.infinity

describe("ConnectionPool leases: what they record", () => {
  it.effect("create time: from the slot to connected(), once; use time: from connected() or the check-out to the return", () =>
    Effect.gen(function*() {
      const key = "lease-times"
      const { pool, shutdown } = yield* makePool()
      const { transport } = connection()
      yield* TestClock.adjust("1 second") // durations are differences: not from the clock's zero

      const fresh = yield* pool.acquire(key, {}, forever)
      yield* TestClock.adjust("250 millis")
      fresh.connected!()
      yield* TestClock.adjust("500 millis")
      fresh.connected!() // already connected: nothing more is recorded
      expect(yield* histogram(M.createTime, key)).toEqual({ count: 1, sum: 0.25 })
      expect(yield* histogram(M.useTime, key)).toEqual({ count: 0, sum: 0 })
      expect(fresh.checkin({ transport, reusedTimes: 0 }, forever)).toBe(true)
      expect(yield* histogram(M.useTime, key)).toEqual({ count: 1, sum: 0.5 })

      // a reused connection is in use from its check-out: connected() records no create time
      yield* TestClock.adjust("1 second")
      const reused = yield* pool.acquire(key, {}, forever)
      expect(reused.reused?.transport).toBe(transport)
      reused.connected!()
      yield* TestClock.adjust("2 seconds")
      reused.release()
      expect(yield* histogram(M.createTime, key)).toEqual({ count: 1, sum: 0.25 })
      expect(yield* histogram(M.useTime, key)).toEqual({ count: 2, sum: 2.5 })

      // a slot whose connect never completed: no use time; connected() after the release records nothing
      const failed = yield* pool.acquire(key, {}, forever)
      yield* TestClock.adjust("100 millis")
      failed.release()
      failed.connected!()
      expect(yield* histogram(M.createTime, key)).toEqual({ count: 1, sum: 0.25 })
      expect(yield* histogram(M.useTime, key)).toEqual({ count: 2, sum: 2.5 })
      yield* shutdown
    }))

  it.effect("wait time: from joining the backlog to the grant", () =>
    Effect.gen(function*() {
      const key = "lease-wait"
      const { pool, shutdown } = yield* makePool()
      yield* TestClock.adjust("1 second") // durations are differences: not from the clock's zero
      const holder = yield* pool.acquire(key, { size: 1, backlog: 1 }, forever)
      const waiter = yield* Effect.forkChild(pool.acquire(key, {}, forever))
      yield* Harness.settle
      yield* TestClock.adjust("300 millis")
      holder.release()
      const lease = yield* Fiber.join(waiter)
      expect(lease.reused).toBeUndefined()
      expect(yield* histogram(M.waitTime, key)).toEqual({ count: 1, sum: 0.3 })
      lease.release()
      yield* shutdown
    }))

  it.effect("release and check-in are idempotent, and a check-in after a release is refused", () =>
    Effect.gen(function*() {
      const key = "lease-once"
      const { pool, shutdown } = yield* makePool()
      const stats = Effect.map(pool.stats, (m) => {
        const s = m.get(key)
        return s === undefined ? undefined : { active: s.active, idle: s.idle }
      })
      const a = yield* pool.acquire(key, {}, forever)
      const b = yield* pool.acquire(key, {}, forever)
      a.release()
      a.release()
      expect(yield* stats).toEqual({ active: 1, idle: 0 })
      const first = connection()
      expect(a.checkin({ transport: first.transport, reusedTimes: 0 }, forever)).toBe(false)
      expect(yield* stats).toEqual({ active: 1, idle: 0 })
      expect(first.state.destroyed).toBe(false) // refused: closing it is the caller's business

      const second = connection()
      expect(b.checkin({ transport: second.transport, reusedTimes: 0 }, forever)).toBe(true)
      expect(b.checkin({ transport: second.transport, reusedTimes: 0 }, forever)).toBe(false)
      b.release()
      expect(yield* stats).toEqual({ active: 0, idle: 1 })
      yield* shutdown
    }))

  it.effect("an idle time of zero means no deadline: no timer, kept however long", () =>
    Effect.gen(function*() {
      const key = "lease-zero"
      const { pool, shutdown } = yield* makePool()
      const { state, transport } = connection()
      const lease = yield* pool.acquire(key, {}, forever)
      expect(lease.checkin({ transport, reusedTimes: 0 }, Duration.zero)).toBe(true)
      expect(internalPool.pendingTimers(pool)).toBe(0)
      yield* TestClock.adjust("1 day")
      const again = yield* pool.acquire(key, {}, forever)
      expect([again.reused?.transport === transport, state.destroyed]).toEqual([true, false])
      again.release()
      yield* shutdown
    }))

  it.effect("one record per pooled connection: checked in again without an idle time, its old deadline is gone", () =>
    Effect.gen(function*() {
      const key = "lease-record"
      const { pool, shutdown } = yield* makePool()
      const { state, transport } = connection()
      const fresh = yield* pool.acquire(key, {}, forever)
      expect(fresh.checkin({ transport, reusedTimes: 0 }, Duration.seconds(1))).toBe(true)
      const first = yield* pool.acquire(key, {}, forever)
      expect(first.reused?.reusedTimes).toBe(1)
      expect(first.checkin({ transport, reusedTimes: 1 }, forever)).toBe(true)
      expect(internalPool.pendingTimers(pool)).toBe(0)
      yield* TestClock.adjust("1 day")
      const second = yield* pool.acquire(key, {}, forever)
      expect([second.reused?.transport === transport, second.reused?.reusedTimes, state.destroyed]).toEqual([
        true,
        2,
        false
      ])
      // a different transport checked in on the same lease gets a record of its own
      const other = connection()
      expect(second.checkin({ transport: other.transport, reusedTimes: 5 }, forever)).toBe(true)
      const third = yield* pool.acquire(key, {}, forever)
      expect([third.reused?.transport === other.transport, third.reused?.reusedTimes]).toEqual([true, 6])
      third.release()
      yield* shutdown
    }))

  it.effect("a wait without a timeout sets no timer", () =>
    Effect.gen(function*() {
      const key = "lease-untimed-wait"
      const { pool, shutdown } = yield* makePool()
      const holder = yield* pool.acquire(key, { size: 1, backlog: 1 }, forever)
      const waiter = yield* Effect.forkChild(pool.acquire(key, {}, forever))
      yield* Harness.settle
      expect((yield* pool.stats).get(key)?.waiting).toBe(1)
      expect(internalPool.pendingTimers(pool)).toBe(0)
      holder.release()
      ;(yield* Fiber.join(waiter)).release()
      yield* shutdown
    }))

  it.effect("a check-in of a connection with unread bytes is refused and its slot goes to the next waiter", () =>
    Effect.gen(function*() {
      const key = "lease-stale-checkin"
      const { pool, shutdown } = yield* makePool()
      const holder = yield* pool.acquire(key, { size: 1, backlog: 1 }, forever)
      const waiter = yield* Effect.forkChild(pool.acquire(key, {}, forever))
      yield* Harness.settle
      const { state, transport } = connection()
      state.pendingBytes = 3
      expect(holder.checkin({ transport, reusedTimes: 0 }, forever)).toBe(false)
      const lease = yield* Fiber.join(waiter)
      expect(lease.reused).toBeUndefined() // a fresh slot, not the stale connection
      expect((yield* pool.stats).get(key)).toMatchObject({ active: 1, idle: 0, waiting: 0, created: 2, reused: 0 })
      lease.release()
      yield* shutdown
    }))
})

describe("ConnectionPool and the transport's waker", () => {
  it.effect("set while idle; cleared when the connection is handed out, and when the pool closes it", () =>
    Effect.gen(function*() {
      const key = "waker"
      const { pool, shutdown } = yield* makePool()
      const { state, transport } = connection()
      const lease = yield* pool.acquire(key, {}, forever)
      expect(lease.checkin({ transport, reusedTimes: 0 }, forever)).toBe(true)
      expect(state.waker).toBeTypeOf("function")
      const reused = yield* pool.acquire(key, {}, forever)
      expect(reused.reused?.transport).toBe(transport)
      expect(state.waker).toBeUndefined()

      expect(reused.checkin({ transport, reusedTimes: 1 }, Duration.seconds(1))).toBe(true)
      expect(state.waker).toBeTypeOf("function")
      yield* TestClock.adjust("1 second") // the idle timeout closes it
      expect([state.destroyed, state.waker]).toEqual([true, undefined])
      expect((yield* pool.stats).get(key)).toBeUndefined()
      yield* shutdown
    }))

  it.effect("a waker call (data, FIN or an error while idle) closes the connection and clears the waker", () =>
    Effect.gen(function*() {
      const key = "waker-activity"
      const { pool, shutdown } = yield* makePool()
      const { state, transport } = connection()
      const lease = yield* pool.acquire(key, {}, forever)
      expect(lease.checkin({ transport, reusedTimes: 0 }, Duration.seconds(5))).toBe(true)
      state.pendingBytes = 1
      state.waker!()
      expect([state.destroyed, state.waker]).toEqual([true, undefined])
      expect(internalPool.pendingTimers(pool)).toBe(0)
      expect(yield* counter(M.evicted, key, { reason: "peerActivity" })).toBe(1)
      yield* shutdown
    }))
  it.effect("a waker that fires after the connection was handed out (an event already queued) does nothing", () =>
    Effect.gen(function*() {
      const key = "waker-late"
      const { pool, shutdown } = yield* makePool()
      const { state, transport } = connection()
      const lease = yield* pool.acquire(key, {}, forever)
      expect(lease.checkin({ transport, reusedTimes: 0 }, Duration.seconds(5))).toBe(true)
      const idleWaker = state.waker!
      const reused = yield* pool.acquire(key, {}, forever)
      expect(reused.reused?.transport).toBe(transport)
      idleWaker()
      expect(state.destroyed).toBe(false)
      expect((yield* pool.stats).get(key)).toMatchObject({ active: 1, idle: 0, evicted: { peerActivity: 0 } })
      reused.release()
      yield* shutdown
    }))
})

describe("ConnectionPool idle deadlines under arbitrary removals", () => {
  /**
   * One idle connection per key with the given idle times (ms), then the keys in `taken` checked
   * out (their deadlines leave the heap from anywhere in it); then, millisecond by millisecond,
   * exactly the idle connections whose deadline passed are closed.
   */
  const scenario = (idleMillis: ReadonlyArray<number>, taken: ReadonlyArray<number>) =>
    Effect.gen(function*() {
      const { pool, shutdown } = yield* makePool()
      const conns = idleMillis.map(() => connection())
      for (const [i, ms] of idleMillis.entries()) {
        const lease = yield* pool.acquire(`heap-${i}`, {}, forever)
        expect(lease.checkin({ transport: conns[i].transport, reusedTimes: 0 }, Duration.millis(ms))).toBe(true)
      }
      const leases = []
      for (const i of new Set(taken)) {
        const lease = yield* pool.acquire(`heap-${i}`, {}, forever)
        expect(lease.reused?.transport).toBe(conns[i].transport)
        leases.push(lease)
      }
      const takenSet = new Set(taken)
      const horizon = Math.max(0, ...idleMillis) + 1
      for (let t = 1; t <= horizon; t++) {
        yield* TestClock.adjust(Duration.millis(1))
        const closed = conns.flatMap((c, i) => c.state.destroyed ? [i] : [])
        const expected = idleMillis.flatMap((ms, i) => !takenSet.has(i) && ms <= t ? [i] : [])
        expect(closed, `${JSON.stringify({ idleMillis, taken })} at ${t} ms`).toEqual(expected)
      }
      expect(internalPool.pendingTimers(pool)).toBe(0)
      for (const lease of leases) lease.release()
      yield* shutdown
    })

  it.effect("a deadline moved up to fill a removed one's place still expires on time", () =>
    // heap after the check-ins: their order (each at least its parent); taking the 21 moves the 8
    // (the last) under the 20, where the earlier deadlines' removals never reach it
    scenario([1, 20, 2, 21, 22, 3, 4, 23, 24, 25, 26, 5, 6, 7, 8], [3]))

  it.effect("any idle times, any check-outs: exactly the deadlines passed are closed, each on time", () =>
    Effect.gen(function*() {
      const cases = FastCheck.sample(
        FastCheck.record({
          idleMillis: FastCheck.array(FastCheck.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 16 }),
          taken: FastCheck.array(FastCheck.nat(15), { maxLength: 8 })
        }),
        60
      )
      for (const { idleMillis, taken } of cases) {
        yield* scenario(idleMillis, taken.filter((i) => i < idleMillis.length))
      }
    }))
})

describe("ConnectionPool's sweeper", () => {
  it.effect("sleeps again only for a deadline earlier than the one it sleeps until", () =>
    Effect.gen(function*() {
      // A clock whose sleeps never end and are counted: every sleep is one wake-up of the sweeper.
      const clock = { millis: 1_000, sleeps: [] as Array<number> }
      const counting: Clock.Clock = {
        currentTimeMillisUnsafe: () => clock.millis,
        currentTimeMillis: Effect.sync(() => clock.millis),
        currentTimeNanosUnsafe: () => BigInt(clock.millis) * 1_000_000n,
        currentTimeNanos: Effect.sync(() => BigInt(clock.millis) * 1_000_000n),
        monotonicTimeNanosUnsafe: () => BigInt(clock.millis) * 1_000_000n,
        monotonicTimeNanos: Effect.sync(() => BigInt(clock.millis) * 1_000_000n),
        sleep: (duration) => {
          clock.sleeps.push(Duration.toMillis(duration))
          return Effect.never
        }
      }
      const { pool, shutdown } = yield* makePool().pipe(Effect.provideService(Clock.Clock, counting))
      const idle = (key: string, idleTime: Duration.Duration) =>
        Effect.gen(function*() {
          const lease = yield* pool.acquire(key, {}, forever)
          expect(lease.checkin({ transport: connection().transport, reusedTimes: 0 }, idleTime)).toBe(true)
          yield* Harness.settle
        })
      yield* Harness.settle
      expect(clock.sleeps).toEqual([]) // nothing to wait for: no sleep at all
      yield* idle("sweeper-a", Duration.seconds(5))
      expect(clock.sleeps).toEqual([5_000])
      yield* idle("sweeper-b", Duration.seconds(5)) // the same deadline
      yield* idle("sweeper-c", Duration.seconds(9)) // a later one
      yield* idle("sweeper-d", Duration.infinity) // none
      expect(clock.sleeps).toEqual([5_000])
      yield* idle("sweeper-e", Duration.seconds(2)) // an earlier one: the sweeper wakes and sleeps less
      expect(clock.sleeps).toEqual([5_000, 2_000])
      expect(internalPool.pendingTimers(pool)).toBe(4)
      yield* shutdown
    }))
})

describe("ConnectionPool grants given back", () => {
  it.effect("a connection granted to a waiter interrupted meanwhile goes back to the pool, open", () =>
    Effect.gen(function*() {
      const key = "give-back"
      const { pool, shutdown } = yield* makePool()
      const holder = yield* pool.acquire(key, { size: 1, backlog: 1 }, forever)
      const waiter = yield* Effect.forkChild(pool.acquire(key, {}, forever))
      yield* Harness.settle
      const { state, transport } = connection()
      expect(holder.checkin({ transport, reusedTimes: 4 }, forever)).toBe(true) // granted to the waiter
      waiter.interruptUnsafe()
      yield* Harness.settle
      expect(Exit.hasInterrupts(yield* Fiber.await(waiter))).toBe(true)
      expect(state.destroyed).toBe(false)
      expect((yield* pool.stats).get(key)).toMatchObject({ active: 0, idle: 1, waiting: 0 })
      const next = yield* pool.acquire(key, {}, forever)
      expect([next.reused?.transport === transport, next.reused?.reusedTimes]).toEqual([true, 5])
      next.release()
      yield* shutdown
    }))

  it.effect("given back after the pool shut down, the granted connection is closed", () =>
    Effect.gen(function*() {
      const key = "give-back-closed"
      const { pool, shutdown } = yield* makePool()
      const holder = yield* pool.acquire(key, { size: 1, backlog: 1 }, forever)
      const waiter = yield* Effect.forkChild(pool.acquire(key, {}, forever))
      yield* Harness.settle
      const { state, transport } = connection()
      expect(holder.checkin({ transport, reusedTimes: 0 }, forever)).toBe(true) // granted to the waiter
      waiter.interruptUnsafe()
      yield* shutdown
      yield* Harness.settle
      expect(Exit.hasInterrupts(yield* Fiber.await(waiter))).toBe(true)
      expect(state.destroyed).toBe(true)
    }))
})

describe("ConnectionPool count series and event counters", () => {
  it.effect("a declared key's capacity counts from the start and while it is empty; an undeclared one's until it is gone", () =>
    Effect.gen(function*() {
      const declared = "series-declared"
      const undeclared = "series-undeclared"
      const { pool, shutdown } = yield* makePool({ pools: { [declared]: { size: 3 } } })
      expect(yield* counter(M.connectionMax, declared)).toBe(3)
      const a = yield* pool.acquire(declared, {}, forever)
      a.release()
      expect(yield* counter(M.connectionMax, declared)).toBe(3)

      const b = yield* pool.acquire(undeclared, { size: 2 }, forever)
      expect(yield* counter(M.connectionMax, undeclared)).toBe(2)
      b.release()
      expect((yield* pool.stats).get(undeclared)).toBeUndefined()
      expect(yield* counter(M.connectionMax, undeclared)).toBe(0)
      yield* shutdown
    }))

  it.effect("after shutdown a key's capacity no longer counts; its held connections do until released", () =>
    Effect.gen(function*() {
      const key = "series-retired"
      const { pool, shutdown } = yield* makePool({ pools: { [key]: { size: 2 } } })
      const held = yield* pool.acquire(key, {}, forever)
      yield* shutdown
      expect(yield* counter(M.connectionMax, key)).toBe(0)
      expect(yield* counter(M.connectionCount, key, { state: "used" })).toBe(1)
      held.release()
      expect(yield* counter(M.connectionCount, key, { state: "used" })).toBe(0)
    }))

  it.effect("reuses and backlog timeouts are counted", () =>
    Effect.gen(function*() {
      const key = "series-events"
      const { pool, shutdown } = yield* makePool()
      const lease = yield* pool.acquire(key, { size: 1, backlog: 1 }, forever)
      expect(lease.checkin({ transport: connection().transport, reusedTimes: 0 }, forever)).toBe(true)
      const reused = yield* pool.acquire(key, {}, forever)
      expect(reused.reused).toBeDefined()
      expect(yield* counter(M.reused, key)).toBe(1)
      const waiter = yield* Effect.forkChild(Effect.flip(pool.acquire(key, {}, Duration.millis(100))))
      yield* Harness.settle
      yield* TestClock.adjust("100 millis")
      expect((yield* Fiber.join(waiter))._tag).toBe("SocketTimeout")
      expect(yield* counter(M.timeouts, key)).toBe(1)
      expect((yield* pool.stats).get(key)?.waitTimeouts).toBe(1)
      reused.release()
      yield* shutdown
    }))
})

describe("ConnectionPool options", () => {
  const failure = (options: unknown) =>
    Effect.scoped(ConnectionPool.make(options as ConnectionPool.Options)).pipe(
      Effect.flip,
      Effect.map((e) => ({ tag: e._tag, argument: e.argument, message: e.message }))
    )
  const bad = (argument: string, message: string) => ({ tag: "InvalidArgument", argument, message })
  const throwing = () => {
    throw new Error("boom")
  }

  it.effect("options and pools must be objects, each pool's limits too", () =>
    Effect.gen(function*() {
      expect(yield* failure(5)).toEqual(bad("options", "options must be an object, got number"))
      expect(yield* failure({ pools: 5 })).toEqual(bad("pools", "bad \"pools\" option type: number"))
      expect(yield* failure({ pools: null })).toEqual(bad("pools", "bad \"pools\" option type: null"))
      expect(yield* failure({ pools: { k: 5 } })).toEqual(bad("pools", "bad limits for pool \"k\": number"))
      expect(yield* failure({ pools: { k: null } })).toEqual(bad("pools", "bad limits for pool \"k\": null"))
      expect(yield* failure({ pools: { ["k".repeat(70)]: "x" } })).toEqual(
        bad("pools", `bad limits for pool "${"k".repeat(64)}... (70 characters)": string`)
      )
    }))

  it.effect("options whose own code throws are InvalidArgument naming what threw, not a defect", () =>
    Effect.gen(function*() {
      expect(yield* failure(Object.defineProperty({}, "pools", { get: throwing }))).toEqual(
        bad("options", "bad \"options\" argument: reading it threw")
      )
      expect(yield* failure({ pools: new Proxy({}, { ownKeys: throwing }) })).toEqual(
        bad("options", "bad \"options\" argument: reading it threw")
      )
      expect(yield* failure({ pools: { k: Object.defineProperty({}, "size", { get: throwing }) } })).toEqual(
        bad("pools", "bad \"pools\" argument: reading it threw")
      )
    }))

  it("the service's key", () => {
    expect(ConnectionPool.ConnectionPool.key).toBe("effect-cosocket/ConnectionPool")
  })
})
