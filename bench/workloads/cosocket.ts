/**
 * effect-cosocket's side of each workload, written the way a user writes it: through the public
 * API (`TcpSocket.connect`, `send`, `receive`, `receiveUntil`, `setKeepalive`), inside one
 * `ManagedRuntime` built from `NodeCosocket.layer` at the root.
 */
import * as Effect from "effect/Effect"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import type { ConnectionPool, TcpSocket, Transport } from "../../src/index.js"
import { type Sample, timedRequests } from "../lib/index.js"
import { TcpSocket as Socket } from "../lib/library.js"
import { VARIANT } from "../lib/names.js"

export type Runtime = ManagedRuntime.ManagedRuntime<Transport.TcpConnector | ConnectionPool.ConnectionPool, unknown>

export interface Runtimes {
  /** `NodeCosocket.layer` with the default configuration. */
  readonly main: Runtime
  /** The same with every timeout (connect, send, read) infinite: a diagnostic of the timers' cost. */
  readonly noTimeouts: Runtime
}

export const NO_TIMEOUTS = VARIANT.noTimeouts

/** The pool limits of the Redis workloads: 100 connections, up to 500 callers beyond that wait. */
export const REDIS_POOL = { poolSize: 100, backlog: 500 } as const

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/**
 * One pooled request the recommended way: `withConnection` checks out, runs, checks in. The
 * exchange is made once (`Effect.fnUntraced`): a generator function created per call costs V8 a
 * new closure and prototype, and the run loop a new shape, every time.
 */
export const pooledRequest = <E>(
  host: string,
  port: number,
  request: Uint8Array,
  readReply: (socket: TcpSocket.TcpSocket) => Effect.Effect<void, E>
) => Socket.withConnection(host, port, exchangeOf(request, readReply), REDIS_POOL)

/** The caller's side of one request: send it, read the reply. */
export const exchangeOf = <E>(
  request: Uint8Array,
  readReply: (socket: TcpSocket.TcpSocket) => Effect.Effect<void, E>
) =>
  Effect.fnUntraced(function*(socket: TcpSocket.TcpSocket) {
    yield* socket.send(request)
    yield* readReply(socket)
  })

export const SCOPED = VARIANT.scoped

/**
 * The same request in a scope of its own, as OpenResty code reads (`ngx.socket.tcp()`,
 * `connect`, ..., `setkeepalive`): `Effect.scoped` around `make`, `connect`, the exchange and
 * `setKeepalive`. The generator function is made once, as in `pooledRequest`.
 */
export const scopedRequest = <E>(
  host: string,
  port: number,
  request: Uint8Array,
  readReply: (socket: TcpSocket.TcpSocket) => Effect.Effect<void, E>
) => {
  const exchange = Effect.fnUntraced(function*() {
    const socket = yield* Socket.make
    yield* socket.connect(host, port, REDIS_POOL)
    yield* socket.send(request)
    yield* readReply(socket)
    yield* socket.setKeepalive()
  })
  return Effect.scoped(exchange())
}

const expectStatus = (line: Uint8Array) =>
  line[0] === 43 /* + */ ? Effect.void : Effect.die(new Error(`unexpected reply ${Buffer.from(line).toString()}`))

export const readPong = (socket: TcpSocket.TcpSocket) => Effect.flatMap(socket.receive(), expectStatus)

// The readers below are generator functions made once (`Effect.fnUntraced`), as `pooledRequest`'s
// exchange: `(socket) => Effect.gen(function*() {...})` would make a new generator function, with
// a prototype of its own, per reply.

export const readPongs = (depth: number) =>
  Effect.fnUntraced(function*(socket: TcpSocket.TcpSocket) {
    for (let i = 0; i < depth; i++) yield* expectStatus(yield* socket.receive())
  })

/** A RESP bulk reply: `$n` line, then n bytes and CRLF. */
export const readBulk = Effect.fnUntraced(function*(socket: TcpSocket.TcpSocket) {
  const head = yield* socket.receive()
  if (head[0] !== 36) return yield* Effect.die(new Error("expected a bulk reply"))
  let n = 0
  for (let i = 1; i < head.length; i++) n = n * 10 + head[i] - 48
  const body = yield* socket.receive(n + 2)
  if (body.length !== n + 2) return yield* Effect.die(new Error("short bulk reply"))
})

/** N concurrent callers, each repeating `op` until the deadline. */
export const closedLoop = <E, R>(
  op: Effect.Effect<void, E, R>,
  options: { readonly concurrency: number; readonly opsPerRequest: number; readonly latency: boolean },
  durationMs: number
): Effect.Effect<Sample, E, R> => {
  const callers = range(options.concurrency).map(() => op)
  // Untimed: every caller once, so the pool holds warm connections.
  return Effect.andThen(
    Effect.forEach(callers, (caller) => caller, { concurrency: "unbounded", discard: true }),
    timedRequests(callers, options, durationMs)
  )
}

/**
 * The small receiveUntil workload: `connections` sockets, each sending `M\n` and reading the
 * response's parts with one `receiveUntil` reader.
 */
export const untilRequestResponse = (
  host: string,
  port: number,
  options: { readonly connections: number; readonly delimiter: string; readonly parts: number },
  durationMs: number
) =>
  Effect.scoped(Effect.gen(function*() {
    const request = Buffer.from("M\n")
    const readers = yield* Effect.forEach(range(options.connections), () =>
      Effect.gen(function*() {
        const socket = yield* Socket.connect(host, port)
        const reader = yield* socket.receiveUntil(options.delimiter)
        yield* socket.send("until-small\nM\n")
        for (let i = 0; i < options.parts; i++) yield* reader.read
        return { socket, reader }
      }), { concurrency: "unbounded" })
    let messages = 0
    const start = performance.now()
    const deadline = start + durationMs
    yield* Effect.forEach(readers, ({ reader, socket }) =>
      Effect.gen(function*() {
        for (;;) {
          yield* socket.send(request)
          for (let i = 0; i < options.parts; i++) yield* reader.read
          messages++
          if (performance.now() >= deadline) return
        }
      }), { concurrency: "unbounded", discard: true })
    const elapsed = performance.now() - start
    return { value: (messages / elapsed) * 1000 } satisfies Sample
  }))

/**
 * One socket reading an endless stream with `read` (receive("*l"), receive(n), reader.read, or a
 * batched read): units per second, or MB/s when `bytesPerUnit` is set. A read returns one unit
 * (bytes) or a batch of units (an array); the clock is checked about every `checkEvery` units.
 */
export const streaming = <E>(
  host: string,
  port: number,
  options: {
    readonly hello: string
    readonly bytesPerUnit: number
    readonly checkEvery: number
    readonly read: (
      socket: TcpSocket.TcpSocket
    ) => Effect.Effect<Effect.Effect<Uint8Array | ReadonlyArray<Uint8Array>, E>, E>
  },
  durationMs: number
) =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* Socket.connect(host, port)
    const read = yield* options.read(socket)
    const every = options.checkEvery
    const start = performance.now()
    yield* socket.send(options.hello)
    const deadline = start + durationMs
    let units = 0
    let nextCheck = every
    let now = start
    for (;;) {
      const got = yield* read
      units += Array.isArray(got) ? got.length : 1
      if (units >= nextCheck) {
        nextCheck = units + every
        if ((now = performance.now()) >= deadline) break
      }
    }
    const perSecond = (units / (now - start)) * 1000
    yield* socket.close
    return { value: options.bytesPerUnit > 0 ? (perSecond * options.bytesPerUnit) / 1e6 : perSecond } satisfies Sample
  }))
