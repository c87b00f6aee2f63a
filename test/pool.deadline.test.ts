/**
 * The pool checks an idle connection's deadline itself when it hands one out, so a connection
 * whose idle time ran out is never reused even when the sweeper has not run yet (a busy event
 * loop, or a clock that jumped). The clock here never wakes the sweeper: only check-out sees the
 * deadline.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { ConnectionPool } from "../src/index.js"
import { stubTransport } from "./support/stubTransport.js"

/** A clock whose time the test sets and whose sleeps never end: the pool's sweeper never runs. */
const frozenSweeperClock = (now: { millis: number }): Clock.Clock => ({
  currentTimeMillisUnsafe: () => now.millis,
  currentTimeMillis: Effect.sync(() => now.millis),
  currentTimeNanosUnsafe: () => BigInt(now.millis) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => BigInt(now.millis) * 1_000_000n),
  monotonicTimeNanosUnsafe: () => BigInt(now.millis) * 1_000_000n,
  monotonicTimeNanos: Effect.sync(() => BigInt(now.millis) * 1_000_000n),
  sleep: () => Effect.never
})

/** An idle, healthy connection that records being closed. */
const connection = () => {
  const state = { destroyed: false }
  const transport = stubTransport({
    destroy: () => {
      state.destroyed = true
    },
    isDestroyed: () => state.destroyed
  })
  return { transport, state }
}

describe("ConnectionPool check-out and idle deadlines", () => {
  it.effect("an idle connection past its deadline is closed at check-out (idleTimeout), not handed out", () =>
    Effect.gen(function*() {
      const now = { millis: 1_000 }
      const pool = yield* ConnectionPool.make().pipe(Effect.provideService(Clock.Clock, frozenSweeperClock(now)))
      const key = "10.0.0.1:80"
      const { state, transport } = connection()

      const first = yield* pool.acquire(key, {}, Duration.infinity)
      expect(first.reused).toBeUndefined()
      expect(first.checkin({ transport, reusedTimes: 0 }, Duration.seconds(1))).toBe(true) // idle until 2,000

      now.millis = 1_999 // one millisecond before the deadline: still reusable
      const second = yield* pool.acquire(key, {}, Duration.infinity)
      expect(second.reused?.transport).toBe(transport)
      expect(second.reused?.reusedTimes).toBe(1)
      expect(second.checkin({ transport, reusedTimes: 1 }, Duration.seconds(1))).toBe(true) // idle until 2,999

      now.millis = 2_999 // exactly the deadline: expired
      const third = yield* pool.acquire(key, {}, Duration.infinity)
      expect(third.reused).toBeUndefined()
      expect(state.destroyed).toBe(true)
      const stats = (yield* pool.stats).get(key)
      expect([stats?.idle, stats?.active, stats?.created, stats?.reused, stats?.evicted.idleTimeout]).toEqual([
        0,
        1,
        2,
        1,
        1
      ])
      third.release()
    }))

  it.effect("an idle connection without a deadline (idle time 0: unlimited) is reused however late", () =>
    Effect.gen(function*() {
      const now = { millis: 0 }
      const pool = yield* ConnectionPool.make().pipe(Effect.provideService(Clock.Clock, frozenSweeperClock(now)))
      const { state, transport } = connection()
      const first = yield* pool.acquire("k", {}, Duration.infinity)
      expect(first.checkin({ transport, reusedTimes: 0 }, Duration.zero)).toBe(true)
      now.millis = 10 * 365 * 86_400_000
      const second = yield* pool.acquire("k", {}, Duration.infinity)
      expect([second.reused?.transport === transport, state.destroyed]).toEqual([true, false])
      second.release()
    }))
})
