/**
 * A pool plus an in-memory network for TestClock tests: the pool lives in its own scope (so a
 * test can shut it down), sockets in scopes the test opens and closes.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Supervisor from "effect/Supervisor"
import { ConnectionPool, TcpSocket, Transport } from "../../src/index.js"
import * as MemoryTransport from "./memoryTransport.js"

export type Services = Transport.TcpConnector | ConnectionPool.ConnectionPool

export interface Harness {
  readonly net: MemoryTransport.MemoryNetwork
  readonly pool: ConnectionPool.ConnectionPool
  readonly context: Context.Context<Services>
  /** Closes the pool's scope (shutdown). */
  readonly shutdown: Effect.Effect<void>
  /** Fibers the pool forked that are still running. */
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
  readonly scope: Scope.CloseableScope
  /** Closes the client's scope (the socket's finalizer closes what is still open). */
  readonly end: Effect.Effect<void>
}

export const make = (
  options: ConnectionPool.Options = {},
  netOptions: MemoryTransport.MemoryNetworkOptions = {}
): Effect.Effect<Harness, never, never> =>
  Effect.gen(function*() {
    const net = MemoryTransport.make(netOptions)
    const poolScope = yield* Scope.make()
    const supervisor = yield* Supervisor.track
    const pool = yield* ConnectionPool.make(options).pipe(
      Scope.extend(poolScope),
      Effect.supervised(supervisor),
      Effect.orDie
    )
    const context = Context.make(Transport.TcpConnector, net.connector).pipe(
      Context.add(ConnectionPool.ConnectionPool, pool)
    )
    const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Services>) =>
      effect.pipe(Effect.scoped, Effect.provide(context))
    const client = () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const socket = yield* TcpSocket.make.pipe(Scope.extend(scope), Effect.provide(context))
        return { socket, scope, end: Scope.close(scope, Exit.void) }
      })
    return {
      net,
      pool,
      context,
      shutdown: Scope.close(poolScope, Exit.void),
      liveFibers: Effect.flatMap(supervisor.value, (fibers) =>
        Effect.map(
          Effect.forEach(fibers, (f) => f.status),
          (statuses) => statuses.filter((s) => s._tag !== "Done").length
        )),
      run,
      client,
      stats: (key) => Effect.map(pool.stats, (m) => m.get(key))
    }
  })

/** Lets forked fibers run (no clock movement). */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
})

/** Polls a fiber: its exit if done. */
export const poll = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) => Effect.map(Fiber.poll(fiber), (o) => o)
