/**
 * The keyed keepalive pool (OpenResty's `setkeepalive` pool), on plain Effect primitives.
 *
 * Per key: an intrusive MRU list of idle connections (taken from the back, LRU evicted from the
 * front), a FIFO list of waiting acquires, and counters. Every deadline (idle timeouts and waits)
 * lives in one indexed min-heap with one timer per pool, armed for the earliest on the engine's
 * schedule (./timer.ts), so TestClock drives it and an idle connection costs a few small objects,
 * not a fiber. A waker on each idle transport drops it on data, FIN or error.
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
import type * as Scope from "effect/Scope"
import type * as Api from "../ConnectionPool.js"
import { CosocketConfig } from "../CosocketConfig.js"
import { type InvalidArgument, PoolBacklogFull, PoolClosed, SocketTimeout } from "../CosocketError.js"
import type { StreamTransport } from "../Transport.js"
import { DeadlineHeap, Timed } from "./deadlineHeap.js"
import { List, type Node } from "./intrusiveList.js"
import { type EvictReason, type KeyMetrics, keyMetrics, type KeySeries, type Series, seriesFor } from "./poolMetrics.js"
import * as timer from "./timer.js"
import * as validate from "./validate.js"

export { metrics } from "./poolMetrics.js"

// -------------------------------------------------------------------------------------------------
// state

/**
 * A connection the pool keeps: idle in its key's list, or handed out as a lease's `reused` (its
 * `reusedTimes` then already counts that reuse; its idle timeout lets a give-back re-pool it).
 * One record for the connection's whole life in the pool, with its peer-activity waker made once:
 * a pooled request cycle allocates neither.
 */
class PoolEntry extends Timed implements Node<PoolEntry>, Api.PooledConnection {
  prev: PoolEntry | undefined = undefined
  next: PoolEntry | undefined = undefined
  list: List<PoolEntry> | undefined = undefined
  /** The transport's waker while idle: the peer sent or closed, so the connection goes. */
  readonly onPeerActivity: () => void
  constructor(
    readonly keyPool: KeyPool,
    readonly transport: StreamTransport,
    public reusedTimes: number,
    public idleTimeout: Duration.Duration,
    pool: PoolImpl
  ) {
    super()
    this.onPeerActivity = () => pool.evict(this, "peerActivity", true)
  }
}

/**
 * Who holds a waiter's grant from the step that frees the slot until the waiting fiber runs again
 * (the engine's sockets): when the fiber is interrupted first, the owner gives the grant back
 * (`giveBack`), so the pool keeps nothing per waiter.
 */
export interface GrantOwner {
  granted(lease: Api.Lease): void
}

class Waiter extends Timed implements Node<Waiter> {
  prev: Waiter | undefined = undefined
  next: Waiter | undefined = undefined
  list: List<Waiter> | undefined = undefined
  /** When it joined the backlog, on the pool's clock. */
  since = 0
  resume: ((effect: Effect.Effect<Api.Lease, SocketTimeout | PoolClosed>) => void) | undefined = undefined
  /** Set when a slot or connection was granted to a waiter with no owner; given back if it never gets it. */
  lease: LeaseImpl | undefined = undefined
  constructor(readonly keyPool: KeyPool, readonly owner: GrantOwner | undefined) {
    super()
  }
}

/** A wait in a key's backlog, for `acquireFor`'s caller to run (a class: told apart from a lease or a refusal). */
export class Backlogged {
  constructor(readonly wait: Effect.Effect<Api.Lease, SocketTimeout | PoolClosed>) {}
}

class KeyPool {
  active = 0
  readonly idle = new List<PoolEntry>()
  readonly waiters = new List<Waiter>()
  created = 0
  reused = 0
  backlogFull = 0
  waitTimeouts = 0
  readonly evicted = { idleTimeout: 0, lru: 0, peerActivity: 0, shutdown: 0 }
  /** Its pool shut down: its capacity no longer counts in `db.client.connection.max`. */
  retired = false
  readonly metrics: KeyMetrics
  /** Where its durations go (set when the pool registers the key). */
  durations!: KeySeries

  constructor(
    readonly key: string,
    readonly size: number,
    readonly backlog: number | undefined,
    readonly declared: boolean
  ) {
    this.metrics = keyMetrics(key)
  }

  get isEmpty(): boolean {
    // A key has waiters only while every slot (at least one) is in use: `active` covers them.
    return this.active === 0 && this.idle.length === 0
  }
}

class LeaseImpl implements Api.Lease {
  done = false
  readonly key: string
  /** When the connection was taken (reused) or the slot handed out (fresh), on the pool's clock. */
  private since: number
  /** `since` is when the connection went into use (false: a fresh slot still connecting). */
  private inUse: boolean
  constructor(
    readonly pool: PoolImpl,
    readonly keyPool: KeyPool,
    readonly reused: PoolEntry | undefined,
    /** The pool's clock now (a reading the caller already made, so a check-out reads it once). */
    now: number
  ) {
    this.key = keyPool.key
    this.since = now
    this.inUse = reused !== undefined
  }

  connected(): void {
    if (this.inUse || this.done) return
    const now = this.pool.now()
    this.keyPool.durations.createTime.observe((now - this.since) / 1000)
    this.since = now
    this.inUse = true
  }

  release(): void {
    if (this.done) return
    this.done = true
    this.returned(this.pool.now())
    this.keyPool.active--
    this.pool.slotFreed(this.keyPool)
  }

  checkin(connection: Api.PooledConnection, idleTimeout: Duration.Duration): boolean {
    if (this.done) return false
    this.done = true
    const now = this.pool.now()
    this.returned(now)
    this.keyPool.active--
    const transport = connection.transport
    // The record it was handed out with serves again, unless the transport changed meanwhile.
    const entry = this.reused !== undefined && this.reused.transport === transport ? this.reused : undefined
    return this.pool.checkin(this.keyPool, transport, connection.reusedTimes, idleTimeout, now, entry)
  }

  private returned(now: number): void {
    if (this.inUse) this.keyPool.durations.useTime.observe((now - this.since) / 1000)
  }
}

/** An idle timeout in milliseconds, `Infinity` for none (infinite or <= 0). */
const idleMillis = (d: Duration.Duration): number => {
  const millis = Duration.isFinite(d) ? Duration.toMillis(d) : Infinity
  return millis > 0 ? millis : Infinity
}

/** A transport that must not be handed out or kept: data, EOF or an error is pending, or it is gone. */
const isStale = (t: StreamTransport): boolean =>
  t.isDestroyed() || t.failure() !== undefined || t.isEnded() || t.pendingBytes() > 0

class PoolImpl implements Api.ConnectionPool, timer.TimerTarget {
  private readonly keys = new Map<string, KeyPool>()
  private readonly heap = new DeadlineHeap()
  private closed = false
  /** The one timer of the pool, armed for the earliest deadline; `timerAt` is when it fires (Infinity: none). */
  private timer: unknown = undefined
  private timerAt = Infinity

  constructor(
    private readonly schedule: timer.Schedule,
    /** Where metric updates go: the context the pool was made in (its `MetricRegistry`). */
    private readonly context: Context.Context<never>,
    private readonly defaultSize: number,
    declared: ReadonlyArray<readonly [string, number, number | undefined]>
  ) {
    this.series = seriesFor(context)
    for (const [key, size, backlog] of declared) {
      const keyPool = new KeyPool(key, size, backlog, true)
      this.keys.set(key, keyPool)
      keyPool.durations = this.series.add(keyPool)
    }
  }

  /** The count series (idle, used, max, pending) of the pool's registry, read at snapshot time. */
  private readonly series: Series

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
    let keyPool = this.keys.get(key)
    if (keyPool === undefined) {
      keyPool = new KeyPool(key, limits.size ?? this.defaultSize, limits.backlog, false)
      this.keys.set(key, keyPool)
      keyPool.durations = this.series.add(keyPool)
    }
    const now = this.now()
    const reused = this.reuse(keyPool, now)
    if (reused !== undefined) return reused
    if (keyPool.backlog === undefined || keyPool.active < keyPool.size) {
      keyPool.active++
      this.countCreate(keyPool)
      return new LeaseImpl(this, keyPool, undefined, now)
    }
    if (keyPool.waiters.length >= keyPool.backlog) {
      keyPool.backlogFull++
      keyPool.metrics.backlogFull.updateUnsafe(1, this.context)
      return new PoolBacklogFull({ key, size: keyPool.size, backlog: keyPool.backlog })
    }
    return keyPool
  }

  /** An idle connection of `key` now, or `undefined` (nothing taken; a closed pool has no idle connection). */
  readonly reuseNow = (key: string): LeaseImpl | undefined => {
    const keyPool = this.keys.get(key)
    return keyPool === undefined ? undefined : this.reuse(keyPool, this.now())
  }

  /** Hands out the most recent idle connection of `keyPool` still fit for use, if any. */
  private reuse(keyPool: KeyPool, now: number): LeaseImpl | undefined {
    const entry = this.takeIdle(keyPool, now)
    if (entry === undefined) return undefined
    keyPool.active++
    this.countReuse(keyPool)
    entry.reusedTimes++
    return new LeaseImpl(this, keyPool, entry, now)
  }

  /** `acquire` for the engine: a lease or a refusal now, or the wait, whose grant goes to `owner`. */
  readonly acquireFor = (
    key: string,
    limits: Api.PoolLimits,
    timeout: Duration.Duration,
    owner: GrantOwner
  ): Api.Lease | PoolBacklogFull | PoolClosed | Backlogged => {
    const r = this.tryAcquire(key, limits)
    return r instanceof KeyPool ? new Backlogged(this.wait(r, timeout, owner)) : r
  }

  /**
   * Queues a waiter. Without an owner, only the wait itself is interruptible: run by a caller in an
   * uninterruptible region, a lease that comes out of here always reaches the caller, and one that
   * does not is given back. With one, the owner has the grant before the waiter runs again.
   */
  private wait(
    keyPool: KeyPool,
    timeout: Duration.Duration,
    owner?: GrantOwner
  ): Effect.Effect<Api.Lease, SocketTimeout | PoolClosed> {
    const waiter = new Waiter(keyPool, owner)
    const waiting = Effect.callback<Api.Lease, SocketTimeout | PoolClosed>((resume) => {
      waiter.resume = resume
      keyPool.waiters.pushBack(waiter)
      waiter.since = this.now()
      if (Duration.isFinite(timeout)) {
        waiter.deadline = waiter.since + Duration.toMillis(timeout)
        this.addDeadline(waiter)
      }
      return Effect.sync(() => this.cancelWaiter(waiter))
    })
    if (owner !== undefined) return waiting
    return Effect.interruptible(waiting).pipe(Effect.onInterrupt(() => Effect.sync(() => this.returnGrant(waiter))))
  }

  private cancelWaiter(waiter: Waiter): void {
    if (waiter.list === undefined) return
    const keyPool = waiter.keyPool
    keyPool.waiters.remove(waiter)
    this.heap.remove(waiter)
  }

  /** The waiter was interrupted after a grant it never received: the slot or connection goes back. */
  private returnGrant(waiter: Waiter): void {
    const lease = waiter.lease
    waiter.lease = undefined
    if (lease !== undefined) giveBack(lease)
  }

  private grant(waiter: Waiter, lease: LeaseImpl): void {
    const keyPool = waiter.keyPool
    keyPool.waiters.remove(waiter)
    this.heap.remove(waiter)
    keyPool.active++
    if (waiter.owner !== undefined) waiter.owner.granted(lease)
    else waiter.lease = lease
    keyPool.durations.waitTime.observe((this.now() - waiter.since) / 1000)
    // Effect 4 resumes a fiber synchronously, inside the caller. The waiter goes on once the
    // granting code has run to its end instead (a microtask), as OpenResty posts the resumption:
    // the releasing code finishes first, a chain of hand-overs does not nest on the stack, and an
    // interruption that arrives meanwhile gives the grant back (`giveBack`). A microtask, not
    // Effect's `yieldNow`: that waits for the event loop's next check phase, behind every other
    // reply of the current one, and a backlog of hundreds of callers then pays that on every
    // request.
    const resume = waiter.resume!
    queueMicrotask(() => resume(Effect.succeed(lease)))
  }

  // -----------------------------------------------------------------------------------------------
  // release and check-in

  /** A slot of `keyPool` was freed (its `active` or idle count already lowered). */
  slotFreed(keyPool: KeyPool): void {
    const waiter = this.closed ? undefined : keyPool.waiters.head
    if (waiter !== undefined) {
      this.countCreate(keyPool)
      this.grant(waiter, new LeaseImpl(this, keyPool, undefined, this.now()))
      return
    }
    this.cleanup(keyPool)
  }

  checkin(
    keyPool: KeyPool,
    transport: StreamTransport,
    reusedTimes: number,
    idleTimeout: Duration.Duration,
    now: number,
    known: PoolEntry | undefined
  ): boolean {
    if (this.closed || isStale(transport)) {
      this.slotFreed(keyPool)
      return false
    }
    const entry = known ?? new PoolEntry(keyPool, transport, reusedTimes, idleTimeout, this)
    entry.idleTimeout = idleTimeout
    const waiter = keyPool.waiters.head
    if (waiter !== undefined) {
      this.countReuse(keyPool)
      entry.reusedTimes = reusedTimes + 1
      this.grant(waiter, new LeaseImpl(this, keyPool, entry, now))
      return true
    }
    if (keyPool.idle.length >= keyPool.size) {
      const lru = keyPool.idle.head
      if (lru !== undefined) this.evict(lru, "lru", false)
    }
    entry.reusedTimes = reusedTimes
    keyPool.idle.pushBack(entry)
    transport.setWaker(entry.onPeerActivity)
    const millis = idleMillis(idleTimeout)
    entry.deadline = now + millis
    if (millis !== Infinity) this.addDeadline(entry)
    return true
  }

  /** Closes an idle connection; `freed`: the slot goes to a waiter or the key may disappear. */
  evict(entry: PoolEntry, reason: EvictReason, freed: boolean): void {
    const keyPool = entry.keyPool
    if (entry.list !== keyPool.idle) return
    keyPool.idle.remove(entry)
    this.heap.remove(entry)
    this.close(entry, reason)
    if (freed) this.slotFreed(keyPool)
  }

  private close(entry: PoolEntry, reason: EvictReason): void {
    const keyPool = entry.keyPool
    entry.transport.setWaker(undefined)
    entry.transport.destroy()
    keyPool.evicted[reason]++
    keyPool.metrics.evicted(reason).updateUnsafe(1, this.context)
  }

  /** Pops the most recently pooled idle connection still fit for use; closes stale ones on the way. */
  private takeIdle(keyPool: KeyPool, now: number): PoolEntry | undefined {
    for (;;) {
      const entry = keyPool.idle.popBack()
      if (entry === undefined) return undefined
      this.heap.remove(entry)
      if (entry.deadline <= now) {
        this.close(entry, "idleTimeout")
        continue
      }
      if (isStale(entry.transport)) {
        this.close(entry, "peerActivity")
        continue
      }
      entry.transport.setWaker(undefined)
      return entry
    }
  }

  private cleanup(keyPool: KeyPool): void {
    if (!keyPool.isEmpty) return
    if (!keyPool.declared) {
      this.keys.delete(keyPool.key)
      this.series.remove(keyPool)
    } else if (this.closed) {
      // After shutdown a key's pool counts until its last connection is released.
      this.series.remove(keyPool)
    }
  }

  /** The pool's clock, in milliseconds. */
  now(): number {
    return this.schedule.now()
  }

  private countCreate(keyPool: KeyPool): void {
    keyPool.created++
  }

  private countReuse(keyPool: KeyPool): void {
    keyPool.reused++
  }

  // -----------------------------------------------------------------------------------------------
  // deadlines: one timer per pool, armed for the earliest

  private addDeadline(item: Timed): void {
    this.heap.push(item)
    if (item.deadline < this.timerAt) this.arm(item.deadline)
  }

  /** Arms the pool's timer for `deadline` (a removed deadline just makes it fire early, harmlessly). */
  private arm(deadline: number): void {
    this.schedule.cancel(this.timer)
    this.timerAt = deadline
    this.timer = this.schedule.start(Math.max(0, deadline - this.now()), this)
  }

  /** @internal the timer fired: expire what is due, then wait for the next deadline. */
  onTimer(): void {
    this.timer = undefined
    this.timerAt = Infinity
    this.expire(this.now())
    const next = this.heap.peek()
    if (next !== undefined) this.arm(next.deadline)
  }

  private expire(now: number): void {
    for (;;) {
      const item = this.heap.peek()
      if (item === undefined || item.deadline > now) return
      if (item instanceof PoolEntry) {
        this.evict(item, "idleTimeout", true)
      } else {
        const waiter = item as Waiter
        const keyPool = waiter.keyPool
        keyPool.waiters.remove(waiter)
        this.heap.remove(waiter)
        keyPool.waitTimeouts++
        keyPool.metrics.timeouts.updateUnsafe(1, this.context)
        waiter.resume!(Effect.fail(new SocketTimeout({ operation: "pool" })))
      }
    }
  }

  // -----------------------------------------------------------------------------------------------
  // shutdown and stats

  readonly shutdown: Effect.Effect<void> = Effect.sync(() => {
    if (this.closed) return
    this.closed = true
    this.schedule.cancel(this.timer)
    this.timer = undefined
    for (const keyPool of Array.from(this.keys.values())) {
      for (let entry = keyPool.idle.popFront(); entry !== undefined; entry = keyPool.idle.popFront()) {
        this.heap.remove(entry)
        this.close(entry, "shutdown")
      }
      for (let waiter = keyPool.waiters.popFront(); waiter !== undefined; waiter = keyPool.waiters.popFront()) {
        this.heap.remove(waiter)
        waiter.resume!(Effect.fail(new PoolClosed({ key: keyPool.key })))
      }
      keyPool.retired = true
      this.cleanup(keyPool)
    }
  })

  readonly stats: Effect.Effect<ReadonlyMap<string, Api.KeyStats>> = Effect.sync(() => {
    const out = new Map<string, Api.KeyStats>()
    for (const keyPool of this.keys.values()) {
      out.set(keyPool.key, {
        key: keyPool.key,
        size: keyPool.size,
        backlog: keyPool.backlog,
        declared: keyPool.declared,
        idle: keyPool.idle.length,
        active: keyPool.active,
        waiting: keyPool.waiters.length,
        created: keyPool.created,
        reused: keyPool.reused,
        backlogFull: keyPool.backlogFull,
        waitTimeouts: keyPool.waitTimeouts,
        evicted: { ...keyPool.evicted }
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
): ReadonlyArray<readonly [string, number, number | undefined]> | InvalidArgument =>
  validate.guard("options", () => declaredPoolsUnguarded(options, defaultSize))

const declaredPoolsUnguarded = (
  options: Api.Options | undefined,
  defaultSize: number
): ReadonlyArray<readonly [string, number, number | undefined]> | InvalidArgument => {
  const out: Array<readonly [string, number, number | undefined]> = []
  const o = validate.snapshot("options", options, ["pools"])
  if (validate.isInvalid(o)) return o
  const pools = o.pools
  if (pools === undefined) return out
  if (pools === null || typeof pools !== "object") {
    return validate.invalid("pools", `bad "pools" option type: ${validate.typeName(pools)}`)
  }
  for (const key of Object.keys(pools)) {
    const given = (pools as Record<string, unknown>)[key]
    if (given === null || typeof given !== "object") {
      return validate.invalid("pools", `bad limits for pool "${validate.quote(key)}": ${validate.typeName(given)}`)
    }
    const limits = validate.snapshot("pools", given, ["size", "backlog"])
    if (validate.isInvalid(limits)) return limits
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
    const schedule = timer.forClock(yield* Clock.Clock)
    const pool = new PoolImpl(schedule, yield* Effect.context<never>(), config.poolSize, declared)
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
/**
 * Gives back a grant its waiter never used (it was interrupted first): a fresh slot is released, an
 * idle connection goes back into the pool (or is closed when the pool will not keep it).
 */
export const giveBack = (lease: Api.Lease): void => {
  if (!(lease instanceof LeaseImpl) || lease.done) return
  const reused = lease.reused
  if (reused === undefined) return lease.release()
  const transport = reused.transport
  if (!lease.checkin({ transport, reusedTimes: reused.reusedTimes - 1 }, reused.idleTimeout)) transport.destroy()
}

/**
 * `acquire` for the engine's sockets (`undefined`: the pool is not ours): a lease or a refusal now,
 * or the wait in the backlog, whose grant goes to `owner` at once.
 */
export const acquireFor = (
  pool: Api.ConnectionPool,
  key: string,
  limits: Api.PoolLimits,
  timeout: Duration.Duration,
  owner: GrantOwner
): Api.Lease | PoolBacklogFull | PoolClosed | Backlogged | undefined =>
  pool instanceof PoolImpl ? pool.acquireFor(key, limits, timeout, owner) : undefined

/**
 * Only the idle part of `acquireFor`: an idle connection of `key` handed out now, or `undefined`
 * with nothing taken (no slot, no wait), so the caller has nothing to give back.
 */
export const reuseNow = (pool: Api.ConnectionPool, key: string): Api.Lease | undefined =>
  pool instanceof PoolImpl ? pool.reuseNow(key) : undefined

export const pendingTimers = (pool: Api.ConnectionPool): number => pool instanceof PoolImpl ? pool.timers : 0
