/**
 * PROVISIONAL pool: one idle stack per key, no backlog waiting, no idle timers yet.
 * (Replaced by the full implementation of the keepalive-pool issue.)
 *
 * @internal
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Api from "../ConnectionPool.js"
import { CosocketConfig } from "../CosocketConfig.js"
import { PoolBacklogFull } from "../CosocketError.js"

interface KeyState {
  size: number
  backlog: number | undefined
  active: number
  idle: Array<Api.PooledConnection>
}

export const tag = Context.GenericTag<Api.ConnectionPool>("effect-cosocket/ConnectionPool")

export const make = (_options?: Api.Options): Effect.Effect<Api.ConnectionPool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* CosocketConfig
    const keys = new Map<string, KeyState>()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const state of keys.values()) for (const c of state.idle) c.transport.destroy()
        keys.clear()
      })
    )
    const acquire = (key: string, limits: Api.PoolLimits, _timeout: Duration.Duration) =>
      Effect.suspend(() => {
        let state = keys.get(key)
        if (state === undefined) {
          state = { size: limits.size ?? config.poolSize, backlog: limits.backlog, active: 0, idle: [] }
          keys.set(key, state)
        }
        const s = state
        let reused: Api.PooledConnection | undefined
        while (s.idle.length > 0) {
          const c = s.idle.pop()!
          c.transport.setWaker(undefined)
          if (c.transport.isDestroyed() || c.transport.pendingBytes() > 0 || c.transport.isEnded()) {
            c.transport.destroy()
            continue
          }
          reused = { transport: c.transport, reusedTimes: c.reusedTimes + 1 }
          break
        }
        if (reused === undefined && s.backlog !== undefined && s.active >= s.size) {
          return Effect.fail(new PoolBacklogFull({ key, size: s.size, backlog: s.backlog }))
        }
        s.active++
        let released = false
        const lease: Api.Lease = {
          key,
          reused,
          release: () => {
            if (released) return
            released = true
            s.active--
          },
          checkin: (connection) => {
            if (released) return false
            released = true
            s.active--
            if (s.idle.length >= s.size) s.idle.shift()!.transport.destroy()
            s.idle.push(connection)
            const drop = () => {
              const i = s.idle.indexOf(connection)
              if (i >= 0) s.idle.splice(i, 1)
              connection.transport.destroy()
            }
            connection.transport.setWaker(drop)
            return true
          }
        }
        return Effect.succeed(lease)
      })
    const stats = Effect.sync(() => new Map<string, Api.KeyStats>())
    return { acquire, stats }
  })

export const layer = (options?: Api.Options): Layer.Layer<Api.ConnectionPool> => Layer.scoped(tag, make(options))

export const stats: Effect.Effect<ReadonlyMap<string, Api.KeyStats>, never, Api.ConnectionPool> = Effect.flatMap(
  tag,
  (pool) => pool.stats
)
