/**
 * Every public entry point called with arbitrary JavaScript values, including values
 * whose own code throws (getters, Proxy traps, `toString`), values that answer differently on
 * every read, revoked Proxies and Proxies posing as `Uint8Array`s. Each call must return an
 * Effect without throwing, and the Effect must succeed or fail with a typed cosocket error: never
 * a defect, never a crash. After a call rejected with `InvalidArgument` on a connected socket, the
 * next valid exchange on it works. Real sockets: a loopback echo server, UDP on 127.0.0.1, and a
 * resolver that sends every host name to 127.0.0.1 (so arbitrary names stay on this machine).
 * Bounded: a fixed number of runs, short timeouts, and a time limit per property.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import type * as Net from "node:net"
import { ConnectionPool, CosocketConfig, CosocketError, TcpSocket, type Transport, UdpSocket } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"
import { server, text } from "./support/loopback.js"

// -------------------------------------------------------------------------------------------------
// hostile values

const boom = () => {
  throw new Error("hostile")
}

/** Values whose own code throws, lies or is otherwise unusual; made fresh for every use. */
const specials: ReadonlyArray<() => unknown> = [
  // every trap throws
  () =>
    new Proxy({}, {
      get: boom,
      has: boom,
      ownKeys: boom,
      getPrototypeOf: boom,
      getOwnPropertyDescriptor: boom
    }),
  // an array whose elements throw
  () => new Proxy(["a", "b"], { get: (_target, key) => key === "length" ? 2 : boom() }),
  // a Proxy posing as a Uint8Array (instanceof passes, Node refuses it)
  () => new Proxy(new Uint8Array([1, 2, 3]), {}),
  () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    return proxy
  },
  () => {
    const { proxy, revoke } = Proxy.revocable([], {})
    revoke()
    return proxy
  },
  // getters that throw for every option name this library reads
  () => {
    const o: Record<string, unknown> = {}
    for (const key of optionKeys) Object.defineProperty(o, key, { enumerable: true, get: boom })
    return o
  },
  // getters answering a valid-looking value first, then something else
  () => {
    const o: Record<string, unknown> = {}
    for (const key of optionKeys) {
      let reads = 0
      Object.defineProperty(o, key, {
        enumerable: true,
        get: () => (reads++ % 2 === 0 ? (key === "pool" || key === "serverName" ? "x" : 1) : { toString: boom })
      })
    }
    return o
  },
  () => ({ toString: boom, valueOf: boom, [Symbol.toPrimitive]: boom }),
  () => [{ toString: boom }],
  () => Symbol("hostile"),
  () => Object.create(null),
  () => Object.assign(Object.create(null), { tls: Object.create(null), pool: Object.create(null) }),
  () => new String("send"),
  () => 10n,
  () => () => Effect.void,
  () => "x".repeat(100_000),
  () => "127.0.0.1\0evil",
  () => "unix:/tmp/x\0y",
  () => "unix:",
  () => "",
  () => "localhost",
  () => "[::1]",
  () => "*l",
  () => "*a",
  () => "*x",
  () => " 80 ",
  () => "send",
  () => "keepalive",
  () => "tcp-nodelay",
  () => -0,
  () => NaN,
  () => Infinity,
  () => -Infinity,
  () => 0.5,
  () => 65536,
  () => 2 ** 53,
  () => [1, [2, [3, ["x", new Uint8Array([1])]]]],
  () => {
    let deep: unknown = ["x"]
    for (let i = 0; i < 200; i++) deep = [deep]
    return deep
  },
  // eslint-disable-next-line no-sparse-arrays
  () => [1, , 3],
  () => ({ tls: { serverName: "a\0b", verify: "yes", ca: [1], alpnProtocols: [""] } }),
  () => ({ tls: { cert: "x" } }),
  () => ({ seconds: -1 }),
  () => ({ pools: { k: { size: 0 } } }),
  () => ({ pools: new Proxy({ k: {} }, { ownKeys: boom }) })
]

const optionKeys = [
  "pool",
  "poolSize",
  "backlog",
  "tls",
  "timeout",
  "idleTimeout",
  "inclusive",
  "force",
  "serverName",
  "verify",
  "ca",
  "cert",
  "key",
  "alpnProtocols",
  "session",
  "keepSession",
  "minVersion",
  "maxVersion",
  "connectTimeout",
  "sendTimeout",
  "readTimeout",
  "keepaliveTimeout",
  "maxLineLength",
  "maxReceiveSize",
  "noDelay",
  "udpQueueSize",
  "pools",
  "size",
  "seconds",
  "millis"
]

/**
 * How to build an argument. fast-check inspects the values it generates (and a hostile value
 * throws at it), so the arbitraries generate recipes and the property builds the values.
 */
type Recipe =
  | { readonly _tag: "special"; readonly index: number }
  | { readonly _tag: "plain"; readonly value: unknown }
  | { readonly _tag: "options"; readonly entries: ReadonlyArray<readonly [string, Recipe]> }

const build = (recipe: Recipe): unknown => {
  switch (recipe._tag) {
    case "special":
      return specials[recipe.index]()
    case "plain":
      return recipe.value
    case "options":
      return Object.fromEntries(recipe.entries.map(([key, value]) => [key, build(value)]))
  }
}

const special: fc.Arbitrary<Recipe> = fc.integer({ min: 0, max: specials.length - 1 }).map((index) => ({
  _tag: "special",
  index
}))

const plain = (arbitrary: fc.Arbitrary<unknown>): fc.Arbitrary<Recipe> =>
  arbitrary.map((value) => ({ _tag: "plain", value }))

const leaf: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 3, arbitrary: special },
  {
    weight: 3,
    arbitrary: plain(fc.anything({
      maxDepth: 2,
      withBigInt: true,
      withBoxedValues: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withTypedArray: true,
      withSparseArray: true,
      withDate: true
    }))
  },
  { weight: 1, arbitrary: plain(fc.integer({ min: -2, max: 70_000 })) },
  { weight: 1, arbitrary: plain(fc.double()) },
  { weight: 1, arbitrary: plain(fc.string({ maxLength: 12 })) }
)

/** An options-shaped object: some of the option names this library reads, hostile values in them. */
const optionsLike: fc.Arbitrary<Recipe> = fc.array(fc.tuple(fc.constantFrom(...optionKeys), leaf), { maxLength: 4 })
  .map((entries) => ({ _tag: "options", entries }))

/** Any argument. */
const hostile: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 4, arbitrary: leaf },
  { weight: 2, arbitrary: optionsLike },
  { weight: 1, arbitrary: plain(fc.constant(undefined)) }
)

const args = fc.tuple(hostile, hostile, hostile, hostile)
const built = (recipes: ReadonlyArray<Recipe>): ReadonlyArray<unknown> => recipes.map(build)

// -------------------------------------------------------------------------------------------------
// the checks

/** Why an exit is not acceptable (a defect, an interruption, an error of no known type), if so. */
const problem = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  if (exit.cause.reasons.length === 0) return "an empty cause"
  for (const reason of exit.cause.reasons) {
    if (!Cause.isFailReason(reason)) return `not a typed failure: ${Cause.pretty(exit.cause)}`
    if (!CosocketError.isCosocketError(reason.error)) return `an error of no cosocket type: ${String(reason.error)}`
  }
  return undefined
}

const isInvalidArgument = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) &&
  exit.cause.reasons.some((r) => Cause.isFailReason(r) && r.error instanceof CosocketError.InvalidArgument)

/** Makes the effect (a synchronous throw is a problem), runs it, checks its exit. */
const attempt = <R>(
  label: string,
  make: () => Effect.Effect<unknown, unknown, R>
): Effect.Effect<Exit.Exit<unknown, unknown>, never, R> =>
  Effect.suspend(() => {
    let effect: Effect.Effect<unknown, unknown, R>
    try {
      effect = make()
    } catch (error) {
      return Effect.die(new Error(`${label}: threw synchronously: ${String(error)}`))
    }
    return Effect.exit(effect).pipe(
      Effect.timeout(5_000),
      Effect.orDie,
      Effect.tap((exit) => {
        const p = problem(exit)
        return p === undefined ? Effect.void : Effect.die(new Error(`${label}: ${p}`))
      })
    )
  })

/** A resolver that sends every name to 127.0.0.1: arbitrary host names never leave the machine. */
const localLookup: Net.LookupFunction = (_hostname, options, callback) => {
  if ((options as { all?: boolean }).all === true) {
    ;(callback as unknown as (e: null, a: ReadonlyArray<{ address: string; family: number }>) => void)(null, [
      { address: "127.0.0.1", family: 4 }
    ])
  } else callback(null, "127.0.0.1", 4)
}

const cosocketLayer = Layer.mergeAll(
  NodeCosocket.tcpConnectorWith({ lookup: localLookup }),
  NodeCosocket.udpConnector,
  ConnectionPool.layer()
).pipe(
  Layer.provideMerge(CosocketConfig.layer({ connectTimeout: 300, sendTimeout: 300, readTimeout: 60 })),
  Layer.orDie
)

type Services = Transport.TcpConnector | Transport.UdpConnector | ConnectionPool.ConnectionPool

/** Runs a property's effect with the services and a scope of its own. */
const runWith =
  (context: Context.Context<Services>) => <A>(effect: Effect.Effect<A, never, Services | Scope.Scope>): Promise<A> =>
    Effect.runPromise(effect.pipe(Effect.scoped, Effect.provide(context)))

const echo = server((socket) => {
  socket.on("data", (chunk) => socket.write(chunk))
  socket.on("end", () => socket.end())
})

type AnyFn = (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown, unknown>
const call = (f: unknown, ...xs: ReadonlyArray<unknown>) =>
  (f as AnyFn)(...xs) as Effect.Effect<unknown, unknown, never>

/** The socket methods, each with up to four arbitrary arguments. */
const socketCalls: ReadonlyArray<
  readonly [string, (socket: TcpSocket.TcpSocket, a: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>]
> = [
  ["connect", (s, a) => call(s.connect.bind(s), a[0], a[1], a[2])],
  ["connect(echo port, options)", (s, a) => call(s.connect.bind(s), "127.0.0.1", echoPort, a[0])],
  ["bind", (s, a) => call(s.bind.bind(s), a[0])],
  ["sslHandshake", (s, a) => call(s.sslHandshake.bind(s), a[0])],
  ["send", (s, a) => call(s.send.bind(s), a[0])],
  ["receive", (s, a) => call(s.receive.bind(s), a[0])],
  ["receiveAny", (s, a) => call(s.receiveAny.bind(s), a[0])],
  ["receiveUntil", (s, a) => call(s.receiveUntil.bind(s), a[0], a[1])],
  [
    "receiveUntil reader",
    (s, a) =>
      Effect.flatMap(s.receiveUntil("\n"), (reader) =>
        Effect.all([
          Effect.exit(call(reader.readChunk, a[0])),
          Effect.exit(Stream.runCollect(Stream.take(reader.stream(a[1] as number), 1))),
          Effect.exit(reader.read)
        ]))
  ],
  ["setTimeout", (s, a) => call(s.setTimeout.bind(s), a[0])],
  ["setTimeouts", (s, a) => call(s.setTimeouts.bind(s), a[0], a[1], a[2])],
  ["setOption", (s, a) => call(s.setOption.bind(s), a[0], a[1])],
  ["getOption", (s, a) => call(s.getOption.bind(s), a[0])],
  ["shutdown", (s, a) => call(s.shutdown.bind(s), a[0])],
  ["setKeepalive", (s, a) => call(s.setKeepalive.bind(s), a[0], a[1])]
]

let echoPort = 0
/** Valid exchanges that worked after a rejected call (the property must have made some). */
let checkedAfterRejection = 0

/** The reads that succeeded or failed on their own must not be followed by an exchange check. */
const exchange = (socket: TcpSocket.TcpSocket) =>
  Effect.gen(function*() {
    yield* socket.setTimeout(2_000)
    yield* socket.send("after\n")
    return text(yield* socket.receive())
  })

describe("every entry point, any arguments: typed outcomes only", () => {
  it.live(
    "TcpSocket methods on a connected socket; after an InvalidArgument the socket still works",
    () =>
      Effect.gen(function*() {
        const peer = yield* echo
        echoPort = peer.port
        const context = yield* Effect.context<Services>()
        const run = runWith(context)
        const property = fc.asyncProperty(
          fc.integer({ min: 0, max: socketCalls.length - 1 }),
          args,
          (index, recipes) =>
            run(Effect.gen(function*() {
              const a = built(recipes)
              const [label, f] = socketCalls[index]
              const socket = yield* TcpSocket.connect("127.0.0.1", peer.port).pipe(Effect.orDie)
              const exit = yield* attempt(label, () => f(socket, a))
              if (isInvalidArgument(exit)) {
                const after = yield* Effect.exit(exchange(socket))
                if (!(Exit.isSuccess(after) && after.value === "after")) {
                  return yield* Effect.die(new Error(`${label}: the socket is broken after InvalidArgument`))
                }
                checkedAfterRejection++
              }
            }))
        )
        yield* Effect.promise(() => fc.assert(property, { numRuns: 400, interruptAfterTimeLimit: 25_000 }))
        expect(checkedAfterRejection).toBeGreaterThan(20)
        checkedAfterRejection = 0
      }).pipe(Effect.provide(cosocketLayer)),
    { timeout: 60_000 }
  )

  it.live(
    "TcpSocket.connect / withConnection / withSocket, CosocketConfig, the pool layer",
    () =>
      Effect.gen(function*() {
        const peer = yield* echo
        const context = yield* Effect.context<Services>()
        const run = runWith(context)
        const use = (socket: TcpSocket.TcpSocket) => Effect.as(socket.send("x\n"), "used")
        const calls: ReadonlyArray<
          readonly [string, (a: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown, Scope.Scope | Services>]
        > = [
          ["TcpSocket.connect", (a) => call(TcpSocket.connect, a[0], a[1], a[2])],
          ["TcpSocket.connect(echo, options)", (a) => call(TcpSocket.connect, "127.0.0.1", peer.port, a[0])],
          ["withConnection", (a) => call(TcpSocket.withConnection, a[0], a[1], a[2], a[3])],
          ["withConnection(host, port, use, options)", (a) => call(TcpSocket.withConnection, a[0], a[1], use, a[2])],
          [
            "withConnection(echo, use, options)",
            (a) => call(TcpSocket.withConnection, "127.0.0.1", peer.port, use, a[0])
          ],
          ["withConnection(unix, use, options)", (a) => call(TcpSocket.withConnection, a[0], use, a[1])],
          ["withSocket", (a) => call(TcpSocket.withSocket, a[0])],
          ["CosocketConfig.make", (a) => call(CosocketConfig.make, a[0])],
          ["CosocketConfig.make(options, base)", (a) => call(CosocketConfig.make, a[0], a[1])],
          ["CosocketConfig.layer", (a) => Layer.build(call(CosocketConfig.layer, a[0]) as never)],
          ["ConnectionPool.make", (a) => call(ConnectionPool.make, a[0])],
          ["ConnectionPool.layer", (a) => Layer.build(call(ConnectionPool.layer, a[0]) as never)],
          ["NodeCosocket.layerWith", (a) => Layer.build(call(NodeCosocket.layerWith, a[0]) as never)],
          [
            "NodeCosocket.tcpConnectorWith, then a connect by name",
            (a) =>
              TcpSocket.connect("localhost", peer.port).pipe(
                Effect.provide(
                  (NodeCosocket.tcpConnectorWith as (o: unknown) => Layer.Layer<Transport.TcpConnector>)(a[0])
                )
              )
          ]
        ]
        const property = fc.asyncProperty(
          fc.integer({ min: 0, max: calls.length - 1 }),
          args,
          (index, recipes) => run(Effect.asVoid(attempt(calls[index][0], () => calls[index][1](built(recipes)))))
        )
        yield* Effect.promise(() => fc.assert(property, { numRuns: 400, interruptAfterTimeLimit: 25_000 }))
      }).pipe(Effect.provide(cosocketLayer)),
    { timeout: 60_000 }
  )

  it.live("UdpSocket methods; after an InvalidArgument the socket still works", () =>
    Effect.gen(function*() {
      const context = yield* Effect.context<Services>()
      const run = runWith(context)
      // a UDP echo peer
      const dgram = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const Dgram = await import("node:dgram")
          const socket = Dgram.createSocket("udp4")
          socket.on("error", () => {})
          socket.on("message", (message, rinfo) => socket.send(message, rinfo.port, rinfo.address))
          await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve))
          return socket
        }),
        (socket) => Effect.promise(() => new Promise<void>((resolve) => socket.close(() => resolve())))
      )
      const port = dgram.address().port
      const calls: ReadonlyArray<
        readonly [string, (socket: UdpSocket.UdpSocket, a: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>]
      > = [
        ["setPeername", (s, a) => call(s.setPeername.bind(s), a[0], a[1])],
        ["setPeername(127.0.0.1, port)", (s, a) => call(s.setPeername.bind(s), "127.0.0.1", a[0])],
        ["bind", (s, a) => call(s.bind.bind(s), a[0])],
        ["send", (s, a) => call(s.send.bind(s), a[0])],
        ["receive", (s, a) => call(s.receive.bind(s), a[0])],
        ["setTimeout", (s, a) => call(s.setTimeout.bind(s), a[0])]
      ]
      const property = fc.asyncProperty(
        fc.integer({ min: 0, max: calls.length - 1 }),
        args,
        (index, recipes) =>
          run(Effect.gen(function*() {
            const a = built(recipes)
            const [label, f] = calls[index]
            const socket = yield* UdpSocket.make
            yield* Effect.orDie(socket.setPeername("127.0.0.1", port))
            const exit = yield* attempt(label, () => f(socket, a))
            if (isInvalidArgument(exit)) {
              const after = yield* Effect.exit(Effect.gen(function*() {
                yield* socket.setTimeout(2_000)
                yield* socket.send("after")
                return text(yield* socket.receive())
              }))
              if (!(Exit.isSuccess(after) && after.value === "after")) {
                return yield* Effect.die(new Error(`${label}: the socket is broken after InvalidArgument`))
              }
              checkedAfterRejection++
            }
          }))
      )
      yield* Effect.promise(() => fc.assert(property, { numRuns: 300, interruptAfterTimeLimit: 20_000 }))
      expect(checkedAfterRejection).toBeGreaterThan(20)
    }).pipe(Effect.provide(cosocketLayer)), { timeout: 60_000 })
})
