/**
 * The pool's metrics: OpenTelemetry's connection-pool conventions where they fit
 * (`db.client.connection.*`), ours (`cosocket.pool.*`) for the rest, every series with `pool.name`
 * (the pool key).
 *
 * The counts (`db.client.connection.count` by state, `.max`, `.pending_requests`) are up-down
 * counters read when metrics are snapshotted (`Metric.registerUnsafe`), not pushed on every
 * check-out: one registration per key and registry sums the counts of every pool of that registry,
 * so two pools (two layers) in one process add up instead of overwriting each other, and the
 * check-out path updates no series for them. The monotonic counts (created, reused) and the
 * durations (create, wait and use time) are kept in plain numbers per key and registry and read the
 * same way: a check-out and check-in, the hot path of every pooled request, touch no metric. The
 * rare events (evicted, backlog full, timeouts) are counters updated as they happen.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Metric from "effect/Metric"

/** Histogram buckets in seconds (OpenTelemetry's advice for the connection-pool durations). */
const secondsBoundaries: ReadonlyArray<number> = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]

/** @internal */
export const metrics = {
  connectionCount: Metric.counter("db.client.connection.count", {
    description: "Connections of a pool key by state: idle (in the pool) or used (held outside it, connecting included)"
  }),
  connectionMax: Metric.counter("db.client.connection.max", {
    description: "Capacity of a pool key (size)"
  }),
  pendingRequests: Metric.counter("db.client.connection.pending_requests", {
    description: "Connects waiting in a pool key's backlog"
  }),
  timeouts: Metric.counter("db.client.connection.timeouts", {
    description: "Backlog waits that timed out",
    incremental: true
  }),
  createTime: Metric.histogram("db.client.connection.create_time", {
    description: "Time to open a fresh connection (connect and TLS handshake), in seconds",
    boundaries: secondsBoundaries
  }),
  waitTime: Metric.histogram("db.client.connection.wait_time", {
    description: "Time a connect waited in the backlog for a slot or a connection, in seconds",
    boundaries: secondsBoundaries
  }),
  useTime: Metric.histogram("db.client.connection.use_time", {
    description: "Time between taking a connection and returning it (pooled or closed), in seconds",
    boundaries: secondsBoundaries
  }),
  created: Metric.counter("cosocket.pool.connection.created", {
    description: "Fresh slots handed out (connect attempts)",
    incremental: true
  }),
  reused: Metric.counter("cosocket.pool.connection.reused", {
    description: "Idle connections handed out again",
    incremental: true
  }),
  evicted: Metric.counter("cosocket.pool.connection.evicted", {
    description: "Idle connections closed by the pool, by reason",
    incremental: true
  }),
  backlogFull: Metric.counter("cosocket.pool.backlog_full", {
    description: "Acquires rejected with PoolBacklogFull",
    incremental: true
  })
}

export type EvictReason = "idleTimeout" | "lru" | "peerActivity" | "shutdown"

const counterWith = (base: Metric.Counter<number>, attributes: Metric.Metric.AttributeSet): Metric.Counter<number> =>
  Metric.counter(base.id, { description: base.description, attributes, incremental: isMonotonic(base) })

const isMonotonic = (base: Metric.Counter<number>): boolean =>
  base !== metrics.connectionCount && base !== metrics.connectionMax && base !== metrics.pendingRequests

const histogramWith = (
  base: Metric.Histogram<number>,
  attributes: Metric.Metric.AttributeSet
): Metric.Histogram<number> =>
  Metric.histogram(base.id, { description: base.description, attributes, boundaries: secondsBoundaries })

/**
 * One key's series. Each is made once with its attributes, so an update finds its series without
 * merging attributes again (`Metric.withAttributes` would merge them on every update).
 */
export class KeyMetrics {
  readonly idle: Metric.Counter<number>
  readonly used: Metric.Counter<number>
  readonly max: Metric.Counter<number>
  readonly pending: Metric.Counter<number>
  readonly timeouts: Metric.Counter<number>
  readonly createTime: Metric.Histogram<number>
  readonly waitTime: Metric.Histogram<number>
  readonly useTime: Metric.Histogram<number>
  readonly created: Metric.Counter<number>
  readonly reused: Metric.Counter<number>
  readonly backlogFull: Metric.Counter<number>
  private readonly evictedBy: Partial<Record<EvictReason, Metric.Counter<number>>> = {}

  constructor(readonly key: string) {
    const attributes = { "pool.name": key }
    this.idle = counterWith(metrics.connectionCount, { "pool.name": key, state: "idle" })
    this.used = counterWith(metrics.connectionCount, { "pool.name": key, state: "used" })
    this.max = counterWith(metrics.connectionMax, attributes)
    this.pending = counterWith(metrics.pendingRequests, attributes)
    this.timeouts = counterWith(metrics.timeouts, attributes)
    this.createTime = histogramWith(metrics.createTime, attributes)
    this.waitTime = histogramWith(metrics.waitTime, attributes)
    this.useTime = histogramWith(metrics.useTime, attributes)
    this.created = counterWith(metrics.created, attributes)
    this.reused = counterWith(metrics.reused, attributes)
    this.backlogFull = counterWith(metrics.backlogFull, attributes)
  }

  evicted(reason: EvictReason): Metric.Counter<number> {
    return this.evictedBy[reason] ??= counterWith(metrics.evicted, { "pool.name": this.key, reason })
  }
}

/**
 * The series of a key, made once per process: an undeclared key's pool comes and goes with its
 * connections, and making a dozen metric descriptors each time would cost more than a check-out.
 */
const keyMetricsCache = new Map<string, KeyMetrics>()
const MAX_CACHED_KEYS = 1024

export const keyMetrics = (key: string): KeyMetrics => {
  let m = keyMetricsCache.get(key)
  if (m === undefined) {
    if (keyMetricsCache.size >= MAX_CACHED_KEYS) keyMetricsCache.clear()
    m = new KeyMetrics(key)
    keyMetricsCache.set(key, m)
  }
  return m
}

// -------------------------------------------------------------------------------------------------
// counts read at snapshot time

/** What the count series read from one key's pool. */
export interface Counted {
  readonly key: string
  readonly metrics: KeyMetrics
  readonly active: number
  readonly size: number
  /** Its pool shut down: its capacity no longer counts (its open connections still do). */
  readonly retired: boolean
  readonly idle: { readonly length: number }
  readonly waiters: { readonly length: number }
  /** Fresh slots and idle connections handed out so far (monotonic). */
  readonly created: number
  readonly reused: number
}

const ignore = (): void => {}

/**
 * A duration histogram in plain numbers (seconds, `secondsBoundaries`), read at snapshot time as
 * the `HistogramState` Effect's own histogram would report: cumulative bucket counts, count, sum,
 * min and max.
 */
export class DurationHistogram {
  /** Observations per bucket; the last one counts those above every boundary. */
  private readonly counts = new Array<number>(secondsBoundaries.length + 1).fill(0)
  private count = 0
  private sum = 0
  private min = Number.MAX_VALUE
  private max = -Number.MAX_VALUE

  observe(seconds: number): void {
    let i = 0
    while (i < secondsBoundaries.length && seconds > secondsBoundaries[i]) i++
    this.counts[i]++
    this.count++
    this.sum += seconds
    if (seconds < this.min) this.min = seconds
    if (seconds > this.max) this.max = seconds
  }

  state(): Metric.HistogramState {
    let cumulated = 0
    const buckets = secondsBoundaries.map((boundary, i): [number, number] => [boundary, cumulated += this.counts[i]])
    return { buckets, count: this.count, sum: this.sum, min: this.min, max: this.max }
  }
}

/**
 * The count series of one key in one registry: the sums over the pools that have the key. The
 * monotonic counters (created, reused) also keep what pools that went away had counted, so they
 * never go down; reading them at snapshot time keeps the per-request path free of metric updates.
 */
export class KeySeries {
  readonly members = new Set<Counted>()
  private createdByGone = 0
  private reusedByGone = 0
  /** The key's durations, shared by its pools in this registry: they outlive every pool. */
  readonly createTime = new DurationHistogram()
  readonly waitTime = new DurationHistogram()
  readonly useTime = new DurationHistogram()

  constructor(m: KeyMetrics, context: Context.Context<never>) {
    this.register(m.idle, context, false, (c) => c.idle.length)
    this.register(m.used, context, false, (c) => c.active)
    this.register(m.max, context, false, (c) => c.retired ? 0 : c.size)
    this.register(m.pending, context, false, (c) => c.waiters.length)
    this.register(m.created, context, true, (c) => c.created, () => this.createdByGone)
    this.register(m.reused, context, true, (c) => c.reused, () => this.reusedByGone)
    for (
      const [metric, histogram] of [[m.createTime, this.createTime], [m.waitTime, this.waitTime], [
        m.useTime,
        this.useTime
      ]] as const
    ) {
      Metric.registerUnsafe(metric, context, { get: () => histogram.state(), update: ignore, modify: ignore })
    }
  }

  /** A pool leaves the key: its monotonic counts stay in the series. */
  leave(counted: Counted): void {
    if (!this.members.delete(counted)) return
    this.createdByGone += counted.created
    this.reusedByGone += counted.reused
  }

  private register(
    metric: Metric.Counter<number>,
    context: Context.Context<never>,
    incremental: boolean,
    f: (c: Counted) => number,
    gone: () => number = zero
  ): void {
    Metric.registerUnsafe(metric, context, {
      get: () => {
        let count = gone()
        for (const c of this.members) count += f(c)
        return { count, incremental }
      },
      update: ignore,
      modify: ignore
    })
  }
}

const zero = (): number => 0

/** The count series of every key in one registry (with one set of context attributes). */
export class Series {
  private readonly keys = new Map<string, KeySeries>()

  constructor(private readonly context: Context.Context<never>) {}

  /** A key's pool is made: its counts join the key's series (registered on first use), which it records its durations into. */
  add(counted: Counted): KeySeries {
    let series = this.keys.get(counted.key)
    if (series === undefined) {
      series = new KeySeries(counted.metrics, this.context)
      this.keys.set(counted.key, series)
    }
    series.members.add(counted)
    return series
  }

  /** A key's pool is gone. The series stay registered (at zero), as updated series would. */
  remove(counted: Counted): void {
    this.keys.get(counted.key)?.leave(counted)
  }
}

const byRegistry = new WeakMap<Metric.MetricRegistry, Map<string, Series>>()

/**
 * The `Series` of a context's registry and metric attributes, shared by every pool made there: a
 * registration replaces any series with the same identity, so there must be one per identity.
 */
export const seriesFor = (context: Context.Context<never>): Series => {
  const registry = Context.get(context, Metric.MetricRegistry)
  let byAttributes = byRegistry.get(registry)
  if (byAttributes === undefined) {
    byAttributes = new Map()
    byRegistry.set(registry, byAttributes)
  }
  const attributes = Context.get(context, Metric.CurrentMetricAttributes)
  const id = JSON.stringify(Object.entries(attributes).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
  let series = byAttributes.get(id)
  if (series === undefined) {
    series = new Series(context)
    byAttributes.set(id, series)
  }
  return series
}
