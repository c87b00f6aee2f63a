/**
 * Pool checkout + checkin with no I/O: a stub connector and stub transports, so only the pool and
 * the socket object are measured. Two figures: the pool service alone (`acquire` + `checkin`) and
 * the user's path (`TcpSocket.connect` taking a pooled connection + `setKeepalive`). The
 * reference is a plain JS map of arrays doing the same bookkeeping.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { ConnectionPool as PoolApi, Transport as TransportApi } from "../../src/index.js"
import { ConnectionPool, TcpSocket, Transport } from "../lib/library.js"
import { VARIANT, WORKLOAD } from "../lib/names.js"
import type { Sample, Workload } from "../lib/types.js"

/** A transport that never does I/O. */
const stubTransport = (): TransportApi.StreamTransport => {
  let destroyed = false
  return {
    read: () => undefined,
    isEnded: () => false,
    failure: () => undefined,
    pendingBytes: () => 0,
    setWaker: () => {},
    write: () => true,
    shutdown: () => {},
    destroy: () => {
      destroyed = true
    },
    isDestroyed: () => destroyed,
    setNoDelay: () => {},
    setKeepAlive: () => {},
    localAddress: () => ({ address: "127.0.0.1", port: 40000 }),
    remoteAddress: () => ({ address: "127.0.0.1", port: 9 })
  }
}

const StubConnector = Layer.succeed(Transport.TcpConnector, {
  connect: () => Effect.sync(stubTransport)
})

const BATCH = 1000
const KEY = "127.0.0.1:9"
const IDLE = Duration.seconds(60)

/** Runs `batch` (BATCH operations) until the deadline: nanoseconds per operation. */
const perOp = <E, R>(batch: Effect.Effect<void, E, R>, durationMs: number): Effect.Effect<Sample, E, R> =>
  Effect.gen(function*() {
    yield* batch // warm
    let ops = 0
    const start = performance.now()
    let now = start
    while (now - start < durationMs) {
      yield* batch
      ops += BATCH
      now = performance.now()
    }
    return { value: ((now - start) * 1e6) / ops }
  })

const poolService = (durationMs: number) =>
  Effect.scoped(Effect.gen(function*() {
    const pool = yield* ConnectionPool.make()
    const connection: PoolApi.PooledConnection = { transport: stubTransport(), reusedTimes: 0 }
    const limits = { size: 100 }
    const batch = Effect.gen(function*() {
      for (let i = 0; i < BATCH; i++) {
        const lease = yield* pool.acquire(KEY, limits, IDLE)
        if (!lease.checkin(lease.reused ?? connection, IDLE)) return yield* Effect.die(new Error("checkin refused"))
      }
    })
    return yield* perOp(batch, durationMs)
  }))

const LIMITS = { poolSize: 100 }

/** The recommended per-request form: `withConnection` checks out, runs nothing, checks in. */
const exchange = TcpSocket.withConnection("127.0.0.1", 9, () => Effect.void, LIMITS)

/** The same in a scope of its own: `TcpSocket.make` + `connect` + `setKeepalive` inside `Effect.scoped`. */
const scoped = Effect.scoped(Effect.gen(function*() {
  const socket = yield* TcpSocket.make
  yield* socket.connect("127.0.0.1", 9, LIMITS)
  yield* socket.setKeepalive()
}))

const socketPath =
  (runtime: ManagedRuntime.ManagedRuntime<TransportApi.TcpConnector | PoolApi.ConnectionPool, unknown>) =>
  (one: Effect.Effect<void, unknown, TransportApi.TcpConnector | PoolApi.ConnectionPool>) =>
  (durationMs: number) => {
    const batch = Effect.gen(function*() {
      for (let i = 0; i < BATCH; i++) yield* one
    })
    return runtime.runPromise(perOp(batch, durationMs))
  }

/** The same bookkeeping in plain JS: a map of idle stacks and an active count. */
const plainJs = (durationMs: number): Promise<Sample> => {
  const idle = new Map<string, Array<{ transport: TransportApi.StreamTransport; reusedTimes: number }>>()
  const active = new Map<string, number>()
  let connection = { transport: stubTransport(), reusedTimes: 0 }
  const start = performance.now()
  let ops = 0
  let now = start
  while (now - start < durationMs) {
    for (let i = 0; i < BATCH; i++) {
      const stack = idle.get(KEY)
      const c = stack?.pop()
      if (c !== undefined && !c.transport.isDestroyed()) {
        connection = { transport: c.transport, reusedTimes: c.reusedTimes + 1 }
      }
      active.set(KEY, (active.get(KEY) ?? 0) + 1)
      active.set(KEY, active.get(KEY)! - 1)
      if (stack === undefined) idle.set(KEY, [connection])
      else stack.push(connection)
    }
    ops += BATCH
    now = performance.now()
  }
  return Promise.resolve({ value: ((now - start) * 1e6) / ops })
}

export const makeRuntime = () => ManagedRuntime.make(Layer.merge(StubConnector, ConnectionPool.layer()))

export const workloads = (
  runtime: ManagedRuntime.ManagedRuntime<TransportApi.TcpConnector | PoolApi.ConnectionPool, unknown>
): ReadonlyArray<Workload> => [
  {
    id: WORKLOAD.poolService,
    title: "Pool checkout + checkin, no I/O: ConnectionPool acquire + Lease.checkin",
    unit: "ns/op",
    higherIsBetter: false,
    variants: [
      { name: VARIANT.ours, role: "ours", measure: (ms) => Effect.runPromise(poolService(ms)) },
      { name: VARIANT.plainJs, role: "reference", measure: plainJs }
    ]
  },
  {
    id: WORKLOAD.poolSocket,
    title: "Pool checkout + checkin, no I/O: TcpSocket.withConnection (pooled, nothing sent)",
    unit: "ns/op",
    higherIsBetter: false,
    note: "OpenResty: about 123,000/s per worker for the same pair including an HTTP request (8.1 us)",
    variants: [
      { name: VARIANT.ours, role: "ours", measure: socketPath(runtime)(exchange) },
      { name: VARIANT.scoped, role: "baseline", measure: socketPath(runtime)(scoped) },
      { name: VARIANT.plainJs, role: "reference", measure: plainJs }
    ]
  }
]
