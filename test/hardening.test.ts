/**
 * Defects found by hardening the entry points, one regression test each (each failed, crashed or threw before the fix):
 * UDP peers on port 0 (a process crash from inside node:dgram's callbacks), typed errors where a
 * TypeError escaped, withConnection's synchronous throw, unbounded messages, NUL in host names.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Dgram from "node:dgram"
import { ConnectionPool, CosocketConfig, TcpSocket, UdpSocket } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"
import * as datagramTransport from "../src/node/internal/datagramTransport.js"
import { layer, server } from "./support/loopback.js"

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1")

/** An exit as its failure's tag and message; a defect or success is shown as such. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) return { success: exit.value }
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") return { defect: Cause.pretty(exit.cause) }
  const e = error.value as { readonly _tag: string; readonly message: string }
  return { _tag: e._tag, message: e.message }
}

const invalid = (message: string) => ({ _tag: "InvalidArgument", message })

/** A UDP echo peer on 127.0.0.1, closed by the scope. */
const echoPeer: Effect.Effect<number, never, Scope.Scope> = Effect.acquireRelease(
  Effect.callback<Dgram.Socket>((resume) => {
    const socket = Dgram.createSocket("udp4")
    socket.on("error", () => {})
    socket.on("message", (message, rinfo) => socket.send(message, rinfo.port, rinfo.address))
    socket.bind(0, "127.0.0.1", () => resume(Effect.succeed(socket)))
  }),
  (socket) =>
    Effect.callback<void>((done) => {
      socket.close(() => done(Effect.void))
    })
).pipe(Effect.map((socket) => socket.address().port))

const udpLayer = Layer.mergeAll(
  NodeCosocket.udpConnector,
  CosocketConfig.layer({ readTimeout: 2_000 }).pipe(Layer.orDie)
)

describe("UDP peers need a port 1..65535, checked before any state changes", () => {
  it.live("setPeername(host name, 0) is InvalidArgument (it crashed the process in the lookup callback)", () =>
    Effect.gen(function*() {
      const port = yield* echoPeer
      const socket = yield* UdpSocket.make
      yield* socket.setPeername("127.0.0.1", port)
      for (const bad of [0, 0.5, "0", -0.5]) {
        expect(failureOf(yield* Effect.exit(socket.setPeername("localhost", bad as number)))).toEqual(
          invalid("bad port number: 0")
        )
      }
      // the previous peer is untouched
      yield* socket.send("still here")
      expect(latin1(yield* socket.receive())).toBe("still here")
    }).pipe(Effect.scoped, Effect.provide(udpLayer)))

  it.live("setPeername(IP literal, 0) is InvalidArgument, not a defect, and the previous peer stays open", () =>
    Effect.gen(function*() {
      const port = yield* echoPeer
      const socket = yield* UdpSocket.make
      yield* socket.setPeername("127.0.0.1", port)
      expect(failureOf(yield* Effect.exit(socket.setPeername("127.0.0.1", 0)))).toEqual(
        invalid("bad port number: 0")
      )
      yield* socket.send("ping")
      expect(latin1(yield* socket.receive())).toBe("ping")
    }).pipe(Effect.scoped, Effect.provide(udpLayer)))

  it.live("after bind(), setPeername(.., 0) is InvalidArgument (it crashed the process in the bind callback)", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make
      yield* socket.bind("127.0.0.1")
      expect(failureOf(yield* Effect.exit(socket.setPeername("127.0.0.1", 0)))).toEqual(
        invalid("bad port number: 0")
      )
      expect(failureOf(yield* Effect.exit(socket.setPeername("localhost", 0.9)))).toEqual(
        invalid("bad port number: 0")
      )
      const port = yield* echoPeer
      yield* socket.setPeername("127.0.0.1", port)
      expect((yield* socket.localAddressInfo).address).toBe("127.0.0.1")
      yield* socket.send("bound")
      expect(latin1(yield* socket.receive())).toBe("bound")
    }).pipe(Effect.scoped, Effect.provide(udpLayer)))

  it.live("the datagram transport turns node:dgram's throws inside its callbacks into ConnectError", () =>
    Effect.gen(function*() {
      const handlers = { onDatagram: () => {}, onError: () => {} }
      // A name (the throw came from the lookup callback) and a bind address (the bind callback).
      const byName = yield* Effect.exit(datagramTransport.open({ _tag: "Inet", host: "localhost", port: 0 }, {
        localAddress: undefined,
        handlers
      }))
      const afterBind = yield* Effect.exit(datagramTransport.open({ _tag: "Inet", host: "127.0.0.1", port: 0 }, {
        localAddress: "127.0.0.1",
        handlers
      }))
      const literal = yield* Effect.exit(datagramTransport.open({ _tag: "Inet", host: "127.0.0.1", port: 0 }, {
        localAddress: undefined,
        handlers
      }))
      for (const exit of [byName, afterBind, literal]) {
        const f = failureOf(exit)
        expect(f._tag).toBe("ConnectError")
        expect(Exit.isFailure(exit) && Cause.findErrorOption(exit.cause)._tag === "Some").toBe(true)
      }
      const codes = [byName, afterBind, literal].map((exit) =>
        Exit.isFailure(exit) ? (Cause.findErrorOption(exit.cause) as { value: { code: string } }).value.code : "none"
      )
      expect(codes).toEqual(["ERR_SOCKET_BAD_PORT", "ERR_SOCKET_BAD_PORT", "ERR_SOCKET_BAD_PORT"])
    }))
})

describe("typed InvalidArgument instead of a TypeError defect", () => {
  it.effect("CosocketConfig.make(undefined | null) and CosocketConfig.layer(null)", () =>
    Effect.gen(function*() {
      const make = CosocketConfig.make as (options: unknown) => Effect.Effect<CosocketConfig.Settings, unknown>
      expect(failureOf(yield* Effect.exit(make(undefined)))).toEqual(
        invalid("options must be an object, got undefined")
      )
      expect(failureOf(yield* Effect.exit(make(null)))).toEqual(invalid("options must be an object, got null"))
      const layerOf = CosocketConfig.layer as (options: unknown) => Layer.Layer<never, unknown>
      const viaLayer = yield* Effect.exit(Effect.provide(Effect.void, layerOf(null)))
      expect(failureOf(viaLayer)).toEqual(invalid("options must be an object, got null"))
      // a getter that throws is the options' own problem: typed too
      const throwing = Object.defineProperty({}, "readTimeout", {
        enumerable: true,
        get: () => {
          throw new Error("boom")
        }
      })
      expect(failureOf(yield* Effect.exit(make(throwing)))).toEqual(
        invalid("bad \"options\" argument: reading it threw")
      )
    }))

  it.live("shutdown(x) and getOption(x) with a Symbol or a null-prototype object", () =>
    Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const shutdown = socket.shutdown as (direction: unknown) => Effect.Effect<void, unknown>
      const getOption = socket.getOption as (option: unknown) => Effect.Effect<number, unknown>
      const nullProto = Object.create(null)
      expect(failureOf(yield* Effect.exit(shutdown(Symbol("send"))))).toEqual(invalid("bad direction: symbol"))
      expect(failureOf(yield* Effect.exit(shutdown(nullProto)))).toEqual(invalid("bad direction: object"))
      expect(failureOf(yield* Effect.exit(getOption(Symbol("keepalive"))))).toEqual(
        invalid("unsupported option symbol")
      )
      expect(failureOf(yield* Effect.exit(getOption(nullProto)))).toEqual(invalid("unsupported option object"))
      // strings are still quoted as before
      expect(failureOf(yield* Effect.exit(shutdown("recv")))).toEqual(invalid("bad direction: recv"))
    }).pipe(Effect.scoped, Effect.provide(layer())))
})

describe("withConnection validates inside the Effect", () => {
  it.live("an options getter that throws is a failed Effect, never a synchronous throw", () =>
    Effect.gen(function*() {
      let reads = 0
      const options = Object.defineProperty({}, "timeout", {
        enumerable: true,
        get: () => {
          reads++
          throw new Error("getter")
        }
      })
      const use = () => Effect.succeed("used")
      let made: Effect.Effect<string, unknown, never> | undefined
      expect(() => {
        made = TcpSocket.withConnection("127.0.0.1", 1, use, options).pipe(Effect.provide(layer()))
      }).not.toThrow()
      expect(reads).toBe(0)
      expect(failureOf(yield* Effect.exit(made!))).toEqual(invalid("bad \"options\" argument: reading it threw"))
      // validated once: a second run reads nothing again
      expect(failureOf(yield* Effect.exit(made!))).toEqual(invalid("bad \"options\" argument: reading it threw"))
      expect(reads).toBe(1)
      // the unix form, and connect's own options
      const tlsGetter = Object.defineProperty({}, "tls", {
        get: () => {
          throw new Error("tls getter")
        }
      })
      const unix = TcpSocket.withConnection("unix:/nowhere", use, tlsGetter)
      expect(failureOf(yield* Effect.exit(unix.pipe(Effect.provide(layer()))))).toEqual(
        invalid("bad \"options\" argument: reading it threw")
      )
    }))
})

describe("InvalidArgument messages quote at most 64 characters of the input", () => {
  const big = "x".repeat(2 * 1024 * 1024)
  const capped = `${"x".repeat(64)}... (${big.length} characters)`

  it.live("a 2 MB pattern, option name, TLS server name and pool name give short messages", () =>
    Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const receive = socket.receive as (pattern: unknown) => Effect.Effect<Uint8Array, unknown>
      const setOption = socket.setOption as (option: unknown, value: unknown) => Effect.Effect<void, unknown>
      const getOption = socket.getOption as (option: unknown) => Effect.Effect<number, unknown>
      const shutdown = socket.shutdown as (direction: unknown) => Effect.Effect<void, unknown>
      expect(failureOf(yield* Effect.exit(receive(big)))).toEqual(invalid(`bad pattern argument: ${capped}`))
      expect(failureOf(yield* Effect.exit(setOption(big, 1)))).toEqual(invalid(`unsupported option ${capped}`))
      expect(failureOf(yield* Effect.exit(getOption(big)))).toEqual(invalid(`unsupported option ${capped}`))
      expect(failureOf(yield* Effect.exit(shutdown(big)))).toEqual(invalid(`bad direction: ${capped}`))
      const tls = yield* Effect.exit(socket.connect("127.0.0.1", 1, { tls: { serverName: `${big}\t` } }))
      expect(failureOf(tls)).toEqual(
        invalid(`bad "serverName" option: ${JSON.stringify(`${"x".repeat(64)}... (${big.length + 1} characters)`)}`)
      )
      const pool = yield* Effect.exit(
        Effect.scoped(ConnectionPool.make({ pools: { [big]: 5 as unknown as ConnectionPool.PoolLimits } }))
      )
      expect(failureOf(pool)).toEqual({ _tag: "InvalidArgument", message: `bad limits for pool "${capped}": number` })
    }).pipe(Effect.scoped, Effect.provide(layer())))
})

describe("a host name with a NUL byte is refused", () => {
  it.live("TCP connect: InvalidArgument (node:net threw it as a defect; getaddrinfo would stop at the NUL)", () =>
    Effect.gen(function*() {
      const srv = yield* server(() => {})
      const socket = yield* TcpSocket.make
      for (const host of ["127.0.0.1\0.evil.example", "localhost\0", "\0"]) {
        expect(failureOf(yield* Effect.exit(socket.connect(host, srv.port)))).toEqual(
          invalid("failed to parse host name: contains a NUL byte")
        )
      }
      expect(failureOf(yield* Effect.exit(socket.connect("unix:/tmp/a\0b")))).toEqual(
        invalid("failed to parse host name: contains a NUL byte")
      )
      expect(srv.sockets.length).toBe(0)
      // the socket is still usable
      yield* socket.connect("127.0.0.1", srv.port)
      expect((yield* socket.remoteAddressInfo).port).toBe(srv.port)
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live("UDP setPeername: InvalidArgument", () =>
    Effect.gen(function*() {
      const port = yield* echoPeer
      const socket = yield* UdpSocket.make
      expect(failureOf(yield* Effect.exit(socket.setPeername("127.0.0.1\0.evil.example", port)))).toEqual(
        invalid("failed to parse host name: contains a NUL byte")
      )
      expect(failureOf(yield* Effect.exit(socket.send("x")))).toEqual({ _tag: "SocketClosed", message: "closed" })
    }).pipe(Effect.scoped, Effect.provide(udpLayer)))
})

describe("values whose own code throws are typed InvalidArgument", () => {
  const boom = () => {
    throw new Error("hostile")
  }
  const trap = () =>
    new Proxy({}, { get: boom, has: boom, ownKeys: boom, getPrototypeOf: boom, getOwnPropertyDescriptor: boom })

  it.live("Proxy traps and getters that throw, on every kind of argument", () =>
    Effect.gen(function*() {
      const srv = yield* server((socket) => socket.on("data", (chunk) => socket.write(chunk)))
      const socket = yield* TcpSocket.connect("127.0.0.1", srv.port)
      const any = socket as unknown as Record<
        string,
        (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>
      >
      const calls: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> = [
        ["receiveUntil(pattern)", any.receiveUntil(trap())],
        ["receiveUntil(options)", any.receiveUntil("x", trap())],
        ["send", any.send([trap()])],
        ["send(array proxy)", any.send(new Proxy(["a"], { get: boom }))],
        ["setTimeout", any.setTimeout(trap())],
        ["setKeepalive(options)", any.setKeepalive(0, trap())],
        ["sslHandshake", any.sslHandshake(trap())],
        ["connect(options)", any.connect("127.0.0.1", srv.port, trap())],
        ["CosocketConfig.make", (CosocketConfig.make as (o: unknown) => Effect.Effect<unknown, unknown>)(trap())],
        [
          "ConnectionPool.make",
          Effect.scoped((ConnectionPool.make as (o: unknown) => Effect.Effect<unknown, unknown, Scope.Scope>)(trap()))
        ]
      ]
      const outcomes = []
      for (const [label, effect] of calls) outcomes.push([label, failureOf(yield* Effect.exit(effect))._tag])
      expect(outcomes).toEqual(calls.map(([label]) => [label, "InvalidArgument"]))
      // nothing changed: the connection still works
      yield* socket.send("ok\n")
      expect(latin1(yield* socket.receive())).toBe("ok")
    }).pipe(Effect.scoped, Effect.provide(layer())))
})

describe("the caller's name resolution cannot throw out of our control", () => {
  it.live("a lookup that throws, a lookup getter that throws, a lookup that is not a function: ConnectError", () =>
    Effect.gen(function*() {
      const throwing = NodeCosocket.tcpConnectorWith({
        lookup: () => {
          throw Object.assign(new Error("resolver exploded"), { code: "EAI_FAIL" })
        }
      })
      const getter = NodeCosocket.tcpConnectorWith(Object.defineProperty({}, "lookup", {
        get: () => {
          throw new Error("getter exploded")
        }
      }))
      const notAFunction = NodeCosocket.tcpConnectorWith({ lookup: 42 as unknown as undefined })
      const outcomes = []
      for (const connector of [throwing, getter, notAFunction]) {
        const exit = yield* Effect.exit(
          Effect.scoped(TcpSocket.connect("name.invalid", 80)).pipe(
            Effect.provide(Layer.merge(connector, ConnectionPool.layer()))
          )
        )
        const f = failureOf(exit)
        outcomes.push([
          f._tag,
          Exit.isFailure(exit)
            ? (Cause.findErrorOption(exit.cause) as { value: { address?: string } }).value.address
            : ""
        ])
      }
      expect(outcomes).toEqual([
        ["ConnectError", "name.invalid:80"],
        ["ConnectError", "name.invalid:80"],
        ["ConnectError", "name.invalid:80"]
      ])
    }))
})
