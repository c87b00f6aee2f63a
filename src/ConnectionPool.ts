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
import type * as Scope from "effect/Scope"
import type { InvalidArgument, PoolBacklogFull, PoolClosed, SocketTimeout } from "./CosocketError.js"
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
  /** The connection closed, or its connect failed: frees the slot and wakes a waiter. Idempotent. */
  readonly release: () => void
  /**
   * Puts the connection back as idle for at most `idleTimeout` (infinity: no limit). Returns
   * `false` when the pool will not keep it (shut down); the caller then closes it.
   */
  readonly checkin: (connection: PooledConnection, idleTimeout: Duration.Duration) => boolean
}

/**
 * Counters of one pool key.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyStats {
  readonly key: string
  readonly size: number
  readonly backlog: number | undefined
  readonly idle: number
  readonly active: number
  readonly waiting: number
  readonly created: number
  readonly reused: number
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
   * `PoolBacklogFull` when the backlog is full too.
   */
  readonly acquire: (
    key: string,
    limits: PoolLimits,
    timeout: Duration.Duration
  ) => Effect.Effect<Lease, PoolBacklogFull | PoolClosed | SocketTimeout>
  /** Counters per key (keys with nothing open or waiting are absent). */
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
export const ConnectionPool: Context.Tag<ConnectionPool, ConnectionPool> = internal.tag

/**
 * Options of the pool layer: limits per pool name or key, declared once and kept even while the
 * key has no connection (OpenResty forgets them, pitfall 10).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly pools?: { readonly [key: string]: PoolLimits } | undefined
}

/**
 * A pool bound to the scope: closing it closes idle connections, fails waiters with
 * `PoolClosed` and starts nothing new.
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
