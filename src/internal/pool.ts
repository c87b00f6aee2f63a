/**
 * The keyed keepalive pool (design section 8, spec A.11), on plain Effect primitives.
 *
 * Per key: an intrusive MRU list of idle connections (taken from the back, LRU evicted from the
 * front), a FIFO list of waiting acquires, and counters. Every deadline (idle timeouts and waits)
 * lives in one indexed min-heap served by a single sweeper fiber per pool that sleeps on Effect's
 * Clock until the earliest one, so TestClock drives it and an idle connection costs a few small
 * objects, not a fiber. A waker on each idle transport drops it on data, FIN or error.
 *
 * Everything here is synchronous and single-threaded: a slot that frees up (release, eviction,
 * check-in) is handed straight to the first waiter; a grant that races with the waiter's
 * interruption is given back.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as Api from "../ConnectionPool.js"
import { CosocketConfig } from "../CosocketConfig.js"
import { type InvalidArgument, PoolBacklogFull, PoolClosed, SocketTimeout } from "../CosocketError.js"
import type { StreamTransport } from "../Transport.js"
import * as validate from "./validate.js"

// -------------------------------------------------------------------------------------------------
// metrics

/** @internal */
export const metrics = {
  idle: Metric.gauge("effect_cosocket_pool_idle", { description: "Idle connections in the pool, per key" }),
  active: Metric.gauge("effect_cosocket_pool_active", {
    description: "Connections (or connects) of a pool key held outside the pool"
  }),
  waiting: Metric.gauge("effect_cosocket_pool_waiting", { description: "Connects waiting in a key's backlog" }),
  created: Metric.counter("effect_cosocket_pool_created_total", {
    description: "Fresh slots handed out (connect attempts), per key",
    incremental: true
  }),
  reused: Metric.counter("effect_cosocket_pool_reused_total", {
    description: "Idle connections handed out again, per key",
    incremental: true
  }),
  evicted: Metric.counter("effect_cosocket_pool_evicted_total", {
    description: "Idle connections closed by the pool, per key and reason",
    incremental: true
  }),
  backlogFull: Metric.counter("effect_cosocket_pool_backlog_full_total", {
    description: "Acquires rejected with PoolBacklogFull, per key",
    incremental: true
  }),
  waitTimeouts: Metric.counter("effect_cosocket_pool_wait_timeouts_total", {
    description: "Backlog waits that timed out, per key",
    incremental: true
  })
}

type EvictReason = "idleTimeout" | "lru" | "peerActivity" | "shutdown"

const gaugeWith = (base: Metric.Gauge<number>, attributes: Metric.Metric.AttributeSet): Metric.Gauge<number> =>
  Metric.gauge(base.id, { description: base.description, attributes })

const counterWith = (base: Metric.Counter<number>, attributes: Metric.Metric.AttributeSet): Metric.Counter<number> =>
  Metric.counter(base.id, { description: base.description, attributes, incremental: true })

/**
 * One key's series of the pool metrics. Each is made once with its attributes, so an update
 * finds its series without merging attributes again (`Metric.withAttributes` would merge them on
 * every update).
 */
class KeyMetrics {
  readonly idle: Metric.Gauge<number>
  readonly active: Metric.Gauge<number>
  readonly waiting: Metric.Gauge<number>
  readonly created: Metric.Counter<number>
  readonly reused: Metric.Counter<number>
  readonly backlogFull: Metric.Counter<number>
  readonly waitTimeouts: Metric.Counter<number>
  private readonly evictedBy: Partial<Record<EvictReason, Metric.Counter<number>>> = {}

  constructor(readonly key: string) {
    const attributes = { key }
    this.idle = gaugeWith(metrics.idle, attributes)
    this.active = gaugeWith(metrics.active, attributes)
    this.waiting = gaugeWith(metrics.waiting, attributes)
    this.created = counterWith(metrics.created, attributes)
    this.reused = counterWith(metrics.reused, attributes)
    this.backlogFull = counterWith(metrics.backlogFull, attributes)
    this.waitTimeouts = counterWith(metrics.waitTimeouts, attributes)
  }

  evicted(reason: EvictReason): Metric.Counter<number> {
    return this.evictedBy[reason] ??= counterWith(metrics.evicted, { key: this.key, reason })
  }
}

// -------------------------------------------------------------------------------------------------
// intrusive doubly linked list

interface Node<T> {
  prev: T | undefined
  next: T | undefined
  /** The list holding the node, if any. */
  list: object | undefined
}

class List<T extends Node<T>> {
  head: T | undefined = undefined
  tail: T | undefined = undefined
  length = 0

  pushBack(node: T): void {
    node.list = this
    node.prev = this.tail
    node.next = undefined
    if (this.tail === undefined) this.head = node
    else this.tail.next = node
    this.tail = node
    this.length++
  }

  remove(node: T): void {
    if (node.list !== this) return
    if (node.prev === undefined) this.head = node.next
    else node.prev.next = node.next
    if (node.next === undefined) this.tail = node.prev
    else node.next.prev = node.prev
    node.prev = undefined
    node.next = undefined
    node.list = undefined
    this.length--
  }

  popFront(): T | undefined {
    const node = this.head
    if (node !== undefined) this.remove(node)
    return node
  }

  popBack(): T | undefined {
    const node = this.tail
    if (node !== undefined) this.remove(node)
    return node
  }
}

// -------------------------------------------------------------------------------------------------
// deadlines: an indexed binary min-heap (O(log n) insert and removal, no stale entries)

abstract class Timed {
  deadline = Infinity
  heapIndex = -1
}

class Heap {
  private readonly items: Array<Timed> = []

  get size(): number {
    return this.items.length
  }

  peek(): Timed | undefined {
    return this.items[0]
  }

  push(item: Timed): void {
    item.heapIndex = this.items.length
    this.items.push(item)
    this.up(item.heapIndex)
  }

  remove(item: Timed): void {
    const i = item.heapIndex
    if (i < 0) return
    item.heapIndex = -1
    const last = this.items.pop()!
    if (last === item) return
    this.items[i] = last
    last.heapIndex = i
    this.up(i)
    this.down(last.heapIndex)
  }

  private up(i: number): void {
    const items = this.items
    const item = items[i]
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (items[parent].deadline <= item.deadline) break
      items[i] = items[parent]
      items[i].heapIndex = i
      i = parent
    }
    items[i] = item
    item.heapIndex = i
  }

  private down(i: number): void {
    const items = this.items
    const n = items.length
    const item = items[i]
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && items[right].deadline < items[left].deadline ? right : left
      if (items[child].deadline >= item.deadline) break
      items[i] = items[child]
      items[i].heapIndex = i
      i = child
    }
    items[i] = item
    item.heapIndex = i
  }
}

// -------------------------------------------------------------------------------------------------
// state

/** What a lease hands out for reuse; remembers the idle timeout so a give-back can re-pool it. */
class Reused implements Api.PooledConnection {
  constructor(
    readonly transport: StreamTransport,
    readonly reusedTimes: number,
    readonly idleTimeout: Duration.Duration
  ) {}
}

class IdleEntry extends Timed implements Node<IdleEntry> {
  prev: IdleEntry | undefined = undefined
  next: IdleEntry | undefined = undefined
  list: List<IdleEntry> | undefined = undefined
  constructor(
    readonly kp: KeyPool,
    readonly transport: StreamTransport,
    readonly reusedTimes: number,
    readonly idleTimeout: Duration.Duration
  ) {
    super()
  }
}

class Waiter extends Timed implements Node<Waiter> {
  prev: Waiter | undefined = undefined
  next: Waiter | undefined = undefined
  list: List<Waiter> | undefined = undefined
  resume: ((effect: Effect.Effect<Api.Lease, SocketTimeout | PoolClosed>) => void) | undefined = undefined
  /** Set when a slot or connection was granted; given back if the waiter never gets it. */
  lease: LeaseImpl | undefined = undefined
  constructor(readonly kp: KeyPool) {
    super()
  }
}

class KeyPool {
  active = 0
  readonly idle = new List<IdleEntry>()
  readonly waiters = new List<Waiter>()
  created = 0
  reused = 0
  backlogFull = 0
  waitTimeouts = 0
  readonly evicted = { idleTimeout: 0, lru: 0, peerActivity: 0, shutdown: 0 }
  /** The gauge values last published (-1: never), so `publish` sets only what changed. */
  readonly shown = { idle: -1, active: -1, waiting: -1 }
  readonly metrics: KeyMetrics

  constructor(
    readonly key: string,
    readonly size: number,
    readonly backlog: number | undefined,
    readonly declared: boolean
  ) {
    this.metrics = new KeyMetrics(key)
  }

  get isEmpty(): boolean {
    return this.active === 0 && this.idle.length === 0 && this.waiters.length === 0
  }
}

class LeaseImpl implements Api.Lease {
  done = false
  readonly key: string
  constructor(
    readonly pool: PoolImpl,
    readonly kp: KeyPool,
    readonly reused: Reused | undefined
  ) {
    this.key = kp.key
  }

  release(): void {
    if (this.done) return
    this.done = true
    this.kp.active--
    this.pool.slotFreed(this.kp)
  }

  checkin(connection: Api.PooledConnection, idleTimeout: Duration.Duration): boolean {
    if (this.done) return false
    this.done = true
    this.kp.active--
    return this.pool.checkin(this.kp, connection.transport, connection.reusedTimes, idleTimeout)
  }
}

/**
 * An idle timeout in milliseconds, `Infinity` for none (infinite or <= 0). The last answer is kept:
 * callers check in with the same few durations, and decoding one costs more than the rest of a
 * check-in's bookkeeping.
 */
const idleMillis = (d: Duration.Duration): number => {
  if (d === lastIdle) return lastIdleMillis
  const millis = Duration.isFinite(d) ? Duration.toMillis(d) : Infinity
  lastIdle = d
  lastIdleMillis = millis > 0 ? millis : Infinity
  return lastIdleMillis
}
let lastIdle: Duration.Duration | undefined = undefined
let lastIdleMillis = Infinity

/** A transport that must not be handed out or kept: data, EOF or an error is pending, or it is gone. */
const isStale = (t: StreamTransport): boolean =>
  t.isDestroyed() || t.failure() !== undefined || t.isEnded() || t.pendingBytes() > 0

class PoolImpl implements Api.ConnectionPool {
  private readonly keys = new Map<string, KeyPool>()
  private readonly heap = new Heap()
  private closed = false
  /** When the sweeper wakes next (Infinity: only when poked). */
  private sweepAt = Infinity
  private signal: (() => void) | undefined = undefined
  private poked = false

  constructor(
    private readonly clock: Clock.Clock,
    /** Where metric updates go: the context the pool was made in (its `MetricRegistry`). */
    private readonly context: Context.Context<never>,
    private readonly defaultSize: number,
    declared: ReadonlyArray<readonly [string, number, number | undefined]>
  ) {
    for (const [key, size, backlog] of declared) this.keys.set(key, new KeyPool(key, size, backlog, true))
  }

  // -----------------------------------------------------------------------------------------------
  // acquire

  readonly acquire = (
    key: string,
    limits: Api.PoolLimits,
    timeout: Duration.Duration
  ): Effect.Effect<Api.Lease, PoolBacklogFull | PoolClosed | SocketTimeout> =>
    Effect.suspend((): Effect.Effect<Api.Lease, PoolBacklogFull | PoolClosed | SocketTimeout> => {
      const r = this.tryAcquire(key, limits)
      if (r instanceof KeyPool) return this.wait(r, timeout)
      return r instanceof LeaseImpl ? Effect.succeed(r) : Effect.fail(r)
    })

  /** The synchronous part of `acquire`: a lease, a refusal, or the key's pool to wait on. */
  readonly tryAcquire = (key: string, limits: Api.PoolLimits): LeaseImpl | PoolBacklogFull | PoolClosed | KeyPool => {
    if (this.closed) return new PoolClosed({ key })
    let kp = this.keys.get(key)
    if (kp === undefined) {
      kp = new KeyPool(key, limits.size ?? this.defaultSize, limits.backlog, false)
      this.keys.set(key, kp)
    }
    const entry = this.takeIdle(kp)
    if (entry !== undefined) {
      kp.active++
      this.countReuse(kp)
      this.publish(kp)
      return new LeaseImpl(this, kp, new Reused(entry.transport, entry.reusedTimes + 1, entry.idleTimeout))
    }
    if (kp.backlog === undefined || kp.active < kp.size) {
      kp.active++
      this.countCreate(kp)
      this.publish(kp)
      return new LeaseImpl(this, kp, undefined)
    }
    if (kp.waiters.length >= kp.backlog) {
      kp.backlogFull++
      kp.metrics.backlogFull.updateUnsafe(1, this.context)
      return new PoolBacklogFull({ key, size: kp.size, backlog: kp.backlog })
    }
    return kp
  }

  /** `tryAcquire` for the engine: a lease or a refusal now, or `undefined` when the caller must wait. */
  readonly acquireNow = (key: string, limits: Api.PoolLimits): Api.Lease | PoolBacklogFull | PoolClosed | undefined => {
    const r = this.tryAcquire(key, limits)
    return r instanceof KeyPool ? undefined : r
  }

  /**
   * Queues a waiter. Only the wait itself is interruptible: run by a caller in an uninterruptible
   * region, a lease that comes out of here always reaches the caller, and one that does not is
   * given back.
   */
  private wait(kp: KeyPool, timeout: Duration.Duration): Effect.Effect<Api.Lease, SocketTimeout | PoolClosed> {
    const waiter = new Waiter(kp)
    return Effect.interruptible(
      Effect.callback<Api.Lease, SocketTimeout | PoolClosed>((resume) => {
        waiter.resume = resume
        kp.waiters.pushBack(waiter)
        if (Duration.isFinite(timeout)) {
          waiter.deadline = this.clock.currentTimeMillisUnsafe() + Duration.toMillis(timeout)
          this.schedule(waiter)
        }
        this.publish(kp)
        return Effect.sync(() => this.cancelWaiter(waiter))
      })
    ).pipe(Effect.onInterrupt(() => Effect.sync(() => this.giveBack(waiter))))
  }

  private cancelWaiter(waiter: Waiter): void {
    if (waiter.list === undefined) return
    const kp = waiter.kp
    kp.waiters.remove(waiter)
    this.heap.remove(waiter)
    this.publish(kp)
    this.cleanup(kp)
  }

  /** The waiter was interrupted after a grant it never received: the slot or connection goes back. */
  private giveBack(waiter: Waiter): void {
    const lease = waiter.lease
    waiter.lease = undefined
    if (lease === undefined || lease.done) return
    const reused = lease.reused
    if (reused === undefined) return lease.release()
    const transport = reused.transport
    if (!lease.checkin({ transport, reusedTimes: reused.reusedTimes - 1 }, reused.idleTimeout)) transport.destroy()
  }

  private grant(waiter: Waiter, lease: LeaseImpl): void {
    const kp = waiter.kp
    kp.waiters.remove(waiter)
    this.heap.remove(waiter)
    kp.active++
    waiter.lease = lease
    this.publish(kp)
    // Effect 4 resumes a fiber synchronously, inside the caller. The waiter goes on after the
    // granting fiber's current step instead, as OpenResty posts the resumption: the releasing
    // code finishes first, a chain of hand-overs does not nest on the stack, and an interruption
    // that arrives meanwhile gives the lease back (`giveBack`).
    waiter.resume!(Effect.as(Effect.yieldNow, lease))
  }

  // -----------------------------------------------------------------------------------------------
  // release and check-in

  /** A slot of `kp` was freed (its `active` or idle count already lowered). */
  slotFreed(kp: KeyPool): void {
    const waiter = this.closed ? undefined : kp.waiters.head
    if (waiter !== undefined) {
      this.countCreate(kp)
      this.grant(waiter, new LeaseImpl(this, kp, undefined))
      return
    }
    this.publish(kp)
    this.cleanup(kp)
  }

  checkin(kp: KeyPool, transport: StreamTransport, reusedTimes: number, idleTimeout: Duration.Duration): boolean {
    if (this.closed || isStale(transport)) {
      this.slotFreed(kp)
      return false
    }
    const waiter = kp.waiters.head
    if (waiter !== undefined) {
      this.countReuse(kp)
      this.grant(waiter, new LeaseImpl(this, kp, new Reused(transport, reusedTimes + 1, idleTimeout)))
      return true
    }
    if (kp.idle.length >= kp.size) {
      const lru = kp.idle.head
      if (lru !== undefined) this.evict(lru, "lru", false)
    }
    const entry = new IdleEntry(kp, transport, reusedTimes, idleTimeout)
    kp.idle.pushBack(entry)
    transport.setWaker(() => this.evict(entry, "peerActivity", true))
    const millis = idleMillis(idleTimeout)
    if (millis !== Infinity) {
      entry.deadline = this.clock.currentTimeMillisUnsafe() + millis
      this.schedule(entry)
    }
    this.publish(kp)
    return true
  }

  /** Closes an idle connection; `freed`: the slot goes to a waiter or the key may disappear. */
  private evict(entry: IdleEntry, reason: EvictReason, freed: boolean): void {
    const kp = entry.kp
    if (entry.list !== kp.idle) return
    kp.idle.remove(entry)
    this.heap.remove(entry)
    this.close(entry, reason)
    if (freed) this.slotFreed(kp)
  }

  private close(entry: IdleEntry, reason: EvictReason): void {
    const kp = entry.kp
    entry.transport.setWaker(undefined)
    entry.transport.destroy()
    kp.evicted[reason]++
    kp.metrics.evicted(reason).updateUnsafe(1, this.context)
  }

  /** Pops the most recently pooled idle connection still fit for use; closes stale ones on the way. */
  private takeIdle(kp: KeyPool): IdleEntry | undefined {
    let now = -1
    for (;;) {
      const entry = kp.idle.popBack()
      if (entry === undefined) return undefined
      this.heap.remove(entry)
      if (entry.deadline !== Infinity) {
        if (now < 0) now = this.clock.currentTimeMillisUnsafe()
        if (entry.deadline <= now) {
          this.close(entry, "idleTimeout")
          continue
        }
      }
      if (isStale(entry.transport)) {
        this.close(entry, "peerActivity")
        continue
      }
      entry.transport.setWaker(undefined)
      return entry
    }
  }

  private cleanup(kp: KeyPool): void {
    if (!kp.declared && kp.isEmpty && this.keys.get(kp.key) === kp) this.keys.delete(kp.key)
  }

  private countCreate(kp: KeyPool): void {
    kp.created++
    kp.metrics.created.updateUnsafe(1, this.context)
  }

  private countReuse(kp: KeyPool): void {
    kp.reused++
    kp.metrics.reused.updateUnsafe(1, this.context)
  }

  /** Sets the key's gauges; only those whose value changed (a check-out moves two of three). */
  private publish(kp: KeyPool): void {
    const shown = kp.shown
    const context = this.context
    if (shown.idle !== kp.idle.length) kp.metrics.idle.updateUnsafe(shown.idle = kp.idle.length, context)
    if (shown.active !== kp.active) kp.metrics.active.updateUnsafe(shown.active = kp.active, context)
    if (shown.waiting !== kp.waiters.length) {
      kp.metrics.waiting.updateUnsafe(shown.waiting = kp.waiters.length, context)
    }
  }

  // -----------------------------------------------------------------------------------------------
  // the sweeper: one fiber per pool, sleeping on the Clock until the earliest deadline

  private schedule(item: Timed): void {
    this.heap.push(item)
    if (item.deadline < this.sweepAt) this.poke()
  }

  private poke(): void {
    const signal = this.signal
    if (signal !== undefined) {
      this.signal = undefined
      signal()
    } else {
      this.poked = true
    }
  }

  private readonly awaitPoke: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.poked) return resume(Effect.void)
    this.signal = () => resume(Effect.void)
    return Effect.sync(() => {
      this.signal = undefined
    })
  })

  readonly sweeper: Effect.Effect<never> = Effect.suspend(() => {
    this.poked = false
    const now = this.clock.currentTimeMillisUnsafe()
    this.expire(now)
    const next = this.heap.peek()
    this.sweepAt = next === undefined ? Infinity : next.deadline
    if (next === undefined) return this.awaitPoke
    return Effect.raceFirst(this.awaitPoke, this.clock.sleep(Duration.millis(next.deadline - now)))
  }).pipe(Effect.forever)

  private expire(now: number): void {
    for (;;) {
      const item = this.heap.peek()
      if (item === undefined || item.deadline > now) return
      if (item instanceof IdleEntry) {
        this.evict(item, "idleTimeout", true)
      } else {
        const waiter = item as Waiter
        const kp = waiter.kp
        kp.waiters.remove(waiter)
        this.heap.remove(waiter)
        kp.waitTimeouts++
        kp.metrics.waitTimeouts.updateUnsafe(1, this.context)
        this.publish(kp)
        this.cleanup(kp)
        waiter.resume!(Effect.fail(new SocketTimeout({ operation: "pool" })))
      }
    }
  }

  // -----------------------------------------------------------------------------------------------
  // shutdown and stats

  readonly shutdown: Effect.Effect<void> = Effect.sync(() => {
    if (this.closed) return
    this.closed = true
    for (const kp of Array.from(this.keys.values())) {
      for (let entry = kp.idle.popFront(); entry !== undefined; entry = kp.idle.popFront()) {
        this.heap.remove(entry)
        this.close(entry, "shutdown")
      }
      for (let waiter = kp.waiters.popFront(); waiter !== undefined; waiter = kp.waiters.popFront()) {
        this.heap.remove(waiter)
        waiter.resume!(Effect.fail(new PoolClosed({ key: kp.key })))
      }
      this.publish(kp)
      this.cleanup(kp)
    }
  })

  readonly stats: Effect.Effect<ReadonlyMap<string, Api.KeyStats>> = Effect.sync(() => {
    const out = new Map<string, Api.KeyStats>()
    for (const kp of this.keys.values()) {
      out.set(kp.key, {
        key: kp.key,
        size: kp.size,
        backlog: kp.backlog,
        declared: kp.declared,
        idle: kp.idle.length,
        active: kp.active,
        waiting: kp.waiters.length,
        created: kp.created,
        reused: kp.reused,
        backlogFull: kp.backlogFull,
        waitTimeouts: kp.waitTimeouts,
        evicted: { ...kp.evicted }
      })
    }
    return out
  })

  /** For tests: pending deadlines (idle timers plus timed waits). */
  get timers(): number {
    return this.heap.size
  }
}

// -------------------------------------------------------------------------------------------------
// constructors

export const tag = Context.Service<Api.ConnectionPool>("effect-cosocket/ConnectionPool")

const declaredPools = (
  options: Api.Options | undefined,
  defaultSize: number
): ReadonlyArray<readonly [string, number, number | undefined]> | InvalidArgument => {
  const out: Array<readonly [string, number, number | undefined]> = []
  const pools = options?.pools
  if (pools === undefined) return out
  if (pools === null || typeof pools !== "object") {
    return validate.invalid("pools", `bad "pools" option type: ${validate.typeName(pools)}`)
  }
  for (const key of Object.keys(pools)) {
    const limits = pools[key] as Api.PoolLimits | undefined
    if (limits === null || typeof limits !== "object") {
      return validate.invalid("pools", `bad limits for pool "${key}": ${validate.typeName(limits)}`)
    }
    let size = defaultSize
    if (limits.size !== undefined) {
      const r = validate.positiveInteger("size", limits.size)
      if (validate.isInvalid(r)) return r
      size = r
    }
    let backlog: number | undefined
    if (limits.backlog !== undefined) {
      const r = validate.nonNegativeInteger("backlog", limits.backlog)
      if (validate.isInvalid(r)) return r
      backlog = r
    }
    out.push([key, size, backlog])
  }
  return out
}

export const make = (options?: Api.Options): Effect.Effect<Api.ConnectionPool, InvalidArgument, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* CosocketConfig
    const declared = declaredPools(options, config.poolSize)
    if (validate.isInvalid(declared)) return yield* Effect.fail(declared)
    const clock = yield* Clock.Clock
    const pool = new PoolImpl(clock, yield* Effect.context<never>(), config.poolSize, declared)
    const scope = yield* Effect.scope
    // Interrupted when the scope closes, after the shutdown finalizer below (finalizers run LIFO).
    yield* Effect.forkIn(Effect.interruptible(pool.sweeper), scope)
    yield* Effect.addFinalizer(() => pool.shutdown)
    return pool
  })

export const layer = (options?: Api.Options): Layer.Layer<Api.ConnectionPool, InvalidArgument> =>
  Layer.effect(tag, make(options))

export const stats: Effect.Effect<ReadonlyMap<string, Api.KeyStats>, never, Api.ConnectionPool> = Effect.flatMap(
  tag,
  (pool) => pool.stats
)

/** For tests: the number of pending deadlines of a pool made here. */
export const pendingTimers = (pool: Api.ConnectionPool): number => pool instanceof PoolImpl ? pool.timers : 0
