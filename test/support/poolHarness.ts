/**
 * A pool plus an in-memory network for TestClock tests: the pool lives in its own scope (so a
 * test can shut it down), sockets in scopes the test opens and closes.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { ConnectionPool, TcpSocket, Transport } from "../../src/index.js"
import * as MemoryTransport from "./memoryTransport.js"

export type Services = Transport.TcpConnector | ConnectionPool.ConnectionPool

export interface Harness {
  readonly net: MemoryTransport.MemoryNetwork
  readonly pool: ConnectionPool.ConnectionPool
  readonly context: Context.Context<Services>
  /** Closes the pool's scope (shutdown). */
  readonly shutdown: Effect.Effect<void>
  /** Fibers the pool forked into its scope that are still running. */
  readonly liveFibers: Effect.Effect<number>
  /** Runs a scoped program against this network and pool. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Services>) => Effect.Effect<A, E>
  /** A socket living in its own scope (closed by `Client.end`). */
  readonly client: () => Effect.Effect<Client>
  /** The stats of one key (undefined when the key has no pool). */
  readonly stats: (key: string) => Effect.Effect<ConnectionPool.KeyStats | undefined>
}

export interface Client {
  readonly socket: TcpSocket.TcpSocket
  readonly scope: Scope.Closeable
  /** Closes the client's scope (the socket's finalizer closes what is still open). */
  readonly end: Effect.Effect<void>
}

/**
 * The fibers attached to a scope (`Effect.forkIn` / `Effect.forkScoped` register each one as a
 * finalizer keyed by the fiber, and remove it when the fiber ends).
 */
const attachedFibers = (scope: Scope.Scope): ReadonlyArray<Fiber.Fiber<unknown, unknown>> => {
  const state = scope.state
  if (state._tag !== "Open") return []
  const keys: Iterable<unknown> = state.finalizers?.keys() ?? [state.finalizerKey]
  return Array.from(keys).filter((key): key is Fiber.Fiber<unknown, unknown> => Fiber.isFiber(key))
}

export const make = (
  options: ConnectionPool.Options = {},
  netOptions: MemoryTransport.MemoryNetworkOptions = {}
): Effect.Effect<Harness, never, never> =>
  Effect.gen(function*() {
    const net = MemoryTransport.make(netOptions)
    const poolScope = yield* Scope.make()
    const pool = yield* ConnectionPool.make(options).pipe(Scope.provide(poolScope), Effect.orDie)
    const context = Context.make(Transport.TcpConnector, net.connector).pipe(
      Context.add(ConnectionPool.ConnectionPool, pool)
    )
    const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Services>) =>
      effect.pipe(Effect.scoped, Effect.provide(context))
    const client = () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const socket = yield* TcpSocket.make.pipe(Scope.provide(scope), Effect.provide(context))
        return { socket, scope, end: Scope.close(scope, Exit.void) }
      })
    return {
      net,
      pool,
      context,
      shutdown: Scope.close(poolScope, Exit.void),
      liveFibers: Effect.sync(() =>
        attachedFibers(poolScope).filter((fiber) => fiber.pollUnsafe() === undefined).length
      ),
      run,
      client,
      stats: (key) => Effect.map(pool.stats, (m) => m.get(key))
    }
  })

/** Lets forked fibers run (no clock movement). */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

/** Polls a fiber: its exit if done. */
export const poll = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<Option.Option<Exit.Exit<A, E>>> =>
  Effect.sync(() => Option.fromUndefinedOr(fiber.pollUnsafe()))
