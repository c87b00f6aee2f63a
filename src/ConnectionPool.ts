/**
 * The keyed keepalive connection pool (OpenResty's per-worker cosocket pool) as an Effect
 * service. Provide its layer once, at the application root: a layer provided per request makes
 * a pool per request.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { InvalidArgument, PoolBacklogFull, PoolClosed, SocketTimeout } from "./CosocketError.js"
import * as credential from "./internal/credential.js"
import * as internal from "./internal/pool.js"
import type { StreamTransport } from "./Transport.js"

/**
 * Limits of one pool key. `size` caps idle connections (and, with a `backlog`, all open
 * connections of the key); `backlog` is how many connects may wait for a free slot.
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolLimits {
  readonly size?: number | undefined
  readonly backlog?: number | undefined
}

/**
 * A connection as the pool keeps it.
 *
 * @since 0.1.0
 * @category models
 */
export interface PooledConnection {
  readonly transport: StreamTransport
  /** How many times it was taken out of the pool before (0 for a fresh connection). */
  readonly reusedTimes: number
}

/**
 * One slot of a pool key, held while a connection of that key is open outside the pool.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lease {
  readonly key: string
  /** The idle connection handed out (its `reusedTimes` already counts this reuse), or `undefined`: connect anew. */
  readonly reused: PooledConnection | undefined
  /**
   * The connection closed, or its connect failed: frees the slot (handed to the first waiter, if
   * any). Idempotent. Call it as a method (`lease.release()`).
   */
  readonly release: () => void
  /**
   * Puts the connection back as idle for at most `idleTimeout` (zero or infinity: no limit), or
   * hands it straight to the first waiter. Returns `false` when the pool will not keep it (shut
   * down, or the transport already broke); the caller then closes it. Either way the slot is
   * freed; a second call (or one after `release`) returns `false`.
   */
  readonly checkin: (connection: PooledConnection, idleTimeout: Duration.Duration) => boolean
  /**
   * A fresh slot's connection is established (connect and TLS handshake done): the pool records
   * `db.client.connection.create_time` and starts the use time. Optional for other implementations.
   */
  readonly connected?: (() => void) | undefined
}

/**
 * Counters of one pool key.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyStats {
  readonly key: string
  /** Capacity: most idle connections kept (with a backlog: most connections open). */
  readonly size: number
  /** How many connects may wait; `undefined`: no backlog, connects never wait. */
  readonly backlog: number | undefined
  /** Declared in the layer's `Options.pools`: the key and its limits persist while empty. */
  readonly declared: boolean
  /** Idle connections in the pool. */
  readonly idle: number
  /** Slots held outside the pool: connected sockets and connects in progress. */
  readonly active: number
  /** Connects waiting in the backlog. */
  readonly waiting: number
  /** Fresh slots handed out (connect attempts, successful or not). */
  readonly created: number
  /** Idle connections handed out again. */
  readonly reused: number
  /** Acquires rejected at once with `PoolBacklogFull`. */
  readonly backlogFull: number
  /** Backlog waits that ended with `SocketTimeout` (operation `"pool"`). */
  readonly waitTimeouts: number
  /** Idle connections the pool closed, by reason (peer activity: data, FIN or an error while idle or at checkout). */
  readonly evicted: {
    readonly idleTimeout: number
    readonly lru: number
    readonly peerActivity: number
    readonly shutdown: number
  }
}

/**
 * The pool service.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionPool {
  /**
   * Takes the most recently pooled idle connection of `key`, or a slot to connect anew. With a
   * backlog and `size` connections open, waits (FIFO, at most `timeout`) or fails at once with
   * `PoolBacklogFull` when the backlog is full too. `limits` only apply when this call creates the
   * key's pool.
   *
   * Only the wait is interruptible. Run it in an uninterruptible region (`Effect.uninterruptibleMask`)
   * and register the lease's cleanup before restoring interruption, or a lease granted as the
   * caller is interrupted could be lost; the TCP engine does this.
   */
  readonly acquire: (
    key: string,
    limits: PoolLimits,
    timeout: Duration.Duration
  ) => Effect.Effect<Lease, PoolBacklogFull | PoolClosed | SocketTimeout>
  /** Counters per key (undeclared keys with nothing open, idle or waiting are absent). */
  readonly stats: Effect.Effect<ReadonlyMap<string, KeyStats>>
}

/**
 * The pool service tag.
 *
 * @since 0.1.0
 * @category tags
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectionPool } from "effect-cosocket"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.ConnectionPool
 *   const stats = yield* pool.stats
 *   return stats.get("127.0.0.1:6379")?.idle ?? 0
 * })
 * ```
 */
export const ConnectionPool: Context.Service<ConnectionPool, ConnectionPool> = internal.tag

/**
 * Options of the pool layer: limits per pool name or key (exactly as the socket computes it:
 * `host:port`, `unix:path` or the `pool` option, plus ` bind=<address>` after a `bind` and
 * ` tls=<identity>` for a TLS connect), declared
 * once and kept even while the key has no connection (OpenResty forgets them when the key empties). A
 * declared `size` defaults to `CosocketConfig`'s `poolSize`; limits passed to `connect` do not
 * change a declared key.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly pools?: { readonly [key: string]: PoolLimits } | undefined
}

/**
 * The pool's Effect metrics, named after OpenTelemetry's connection-pool conventions where they fit
 * (`db.client.connection.*`) and `cosocket.pool.*` for the rest. Every series has the attribute
 * `pool.name`: the pool key (`host:port`, `unix:path` or the `pool` option, with ` bind=` and
 * ` tls=` parts). Durations are histograms in seconds.
 *
 * | metric | instrument | attributes | `KeyStats` field |
 * |---|---|---|---|
 * | `db.client.connection.count` | up-down counter | `pool.name`, `state` (`idle` / `used`) | `idle` / `active` |
 * | `db.client.connection.max` | up-down counter | `pool.name` | `size` |
 * | `db.client.connection.pending_requests` | up-down counter | `pool.name` | `waiting` |
 * | `db.client.connection.timeouts` | counter | `pool.name` | `waitTimeouts` |
 * | `db.client.connection.create_time` | histogram (s) | `pool.name` | (connect and TLS handshake of a fresh connection) |
 * | `db.client.connection.wait_time` | histogram (s) | `pool.name` | (backlog waits that got a slot; immediate acquires record nothing) |
 * | `db.client.connection.use_time` | histogram (s) | `pool.name` | (taken until put back or closed) |
 * | `cosocket.pool.connection.created` | counter | `pool.name` | `created` |
 * | `cosocket.pool.connection.reused` | counter | `pool.name` | `reused` |
 * | `cosocket.pool.connection.evicted` | counter | `pool.name`, `reason` | `evicted` |
 * | `cosocket.pool.backlog_full` | counter | `pool.name` | `backlogFull` |
 *
 * The counts are up-down counters read when metrics are snapshotted (`Metric.registerUnsafe`),
 * summed over every pool of the registry: the pools of two layers in one process add up
 * (OpenTelemetry's semantics) instead of overwriting each other, a pool that shuts down takes its
 * capacity back (its connections still open count until released), and a check-out updates none
 * of them. `used` counts connects in progress too.
 *
 * @since 0.2.0
 * @category metrics
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { ConnectionPool } from "effect-cosocket"
 *
 * const idle = Metric.value(
 *   ConnectionPool.metrics.connectionCount.pipe(Metric.withAttributes({ "pool.name": "127.0.0.1:6379", state: "idle" }))
 * ).pipe(Effect.map((state) => state.count))
 * ```
 */
export const metrics: {
  readonly connectionCount: Metric.Counter<number>
  readonly connectionMax: Metric.Counter<number>
  readonly pendingRequests: Metric.Counter<number>
  readonly timeouts: Metric.Counter<number>
  readonly createTime: Metric.Histogram<number>
  readonly waitTime: Metric.Histogram<number>
  readonly useTime: Metric.Histogram<number>
  readonly created: Metric.Counter<number>
  readonly reused: Metric.Counter<number>
  readonly evicted: Metric.Counter<number>
  readonly backlogFull: Metric.Counter<number>
} = internal.metrics

/**
 * A pool bound to the scope: closing it closes idle connections, fails waiters with
 * `PoolClosed`, and leaves no fiber or timer behind; later acquires fail with `PoolClosed` and
 * connections checked in later are closed. One sweeper fiber per pool serves every idle timeout
 * and backlog deadline on Effect's `Clock` (so `TestClock` drives them).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectionPool } from "effect-cosocket"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.make({ pools: { redis: { size: 50, backlog: 200 } } })
 *   return yield* pool.stats
 * }))
 * ```
 */
export const make: (options?: Options) => Effect.Effect<ConnectionPool, InvalidArgument, Scope.Scope> = internal.make

/**
 * The pool as a scoped layer; defaults (size, idle timeout) come from `CosocketConfig`.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { ConnectionPool } from "effect-cosocket"
 *
 * const PoolLive = ConnectionPool.layer({ pools: { redis: { size: 100, backlog: 1000 } } })
 * ```
 */
export const layer: (options?: Options) => Layer.Layer<ConnectionPool, InvalidArgument> = internal.layer

/**
 * Reads the pool's counters.
 *
 * @since 0.1.0
 * @category accessors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectionPool } from "effect-cosocket"
 *
 * const idle = ConnectionPool.stats.pipe(Effect.map((stats) => stats.get("redis")?.idle ?? 0))
 * ```
 */
export const stats: Effect.Effect<ReadonlyMap<string, KeyStats>, never, ConnectionPool> = internal.stats

/**
 * An opaque id for a credential, to put into a pool key instead of anything derived from the
 * secret by a public function: `cred-` and 16 hex digits of an HMAC-SHA-256 under a random key made
 * once per process. Equal credentials get equal ids within the process (so connections
 * authenticated with one credential are only shared by its users); outside it the id cannot be
 * reversed, and a password guess cannot be tested against it offline. Pool keys appear in stats,
 * metric attributes (`pool.name`) and span attributes (`cosocket.pool.key`), so a key must hold no
 * secret and no unkeyed hash of one. Parts are length-prefixed (`("ab", "c")` differs from
 * `("a", "bc")`).
 *
 * @since 0.2.0
 * @category utils
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { ConnectionPool, TcpSocket } from "effect-cosocket"
 *
 * const password = Redacted.make("s3cret")
 * const pool = `redis://app@127.0.0.1:6379/0#${ConnectionPool.credentialId("app", password)}`
 * const connect = TcpSocket.connect("127.0.0.1", 6379, { pool })
 * ```
 */
export const credentialId: (
  ...parts: ReadonlyArray<string | Uint8Array | Redacted.Redacted<string> | Redacted.Redacted<Uint8Array>>
) => string = credential.credentialId
