/**
 * The UDP engine on an in-memory datagram connector, driven by TestClock: timeouts, the busy
 * rule, the bounded queue and its drop counter, never-truncate, scope and interruption.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import { CosocketConfig, Transport, UdpSocket } from "../src/index.js"

const encoder = new TextEncoder()
const bytes = (s: string) => encoder.encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

interface MemoryPeer {
  readonly target: Transport.DatagramTarget
  readonly localAddress: string | undefined
  readonly handlers: Transport.DatagramHandlers
  readonly sent: Array<string>
  closed: boolean
  /** The failure the next send reports. */
  sendFailure: Transport.TransportFailure | undefined
}

interface Memory {
  readonly connector: Transport.DatagramConnector
  readonly peers: Array<MemoryPeer>
  /** Opens that never finish (to test the connect timeout) and whether they were interrupted. */
  hang: boolean
  interruptedOpens: number
}

const memory = (): Memory => {
  const m: Memory = {
    peers: [],
    hang: false,
    interruptedOpens: 0,
    connector: {
      open: (target, options) => {
        if (m.hang) {
          return Effect.never.pipe(Effect.onInterrupt(() =>
            Effect.sync(() => {
              m.interruptedOpens++
            })
          ))
        }
        return Effect.sync(() => {
          const peer: MemoryPeer = {
            target,
            localAddress: options.localAddress,
            handlers: options.handlers,
            sent: [],
            closed: false,
            sendFailure: undefined
          }
          m.peers.push(peer)
          const transport: Transport.DatagramTransport = {
            send: (data, done) => {
              const failure = peer.sendFailure
              peer.sendFailure = undefined
              if (failure === undefined) peer.sent.push(text(data))
              done(failure)
            },
            close: () => {
              peer.closed = true
            },
            localAddress: () => ({ address: options.localAddress ?? "127.0.0.1", port: 40000 }),
            remoteAddress: () => target._tag === "Inet" ? { address: target.host, port: target.port } : undefined
          }
          return transport
        })
      }
    }
  }
  return m
}

const last = (m: Memory): MemoryPeer => m.peers[m.peers.length - 1]!

/** Runs a program with the in-memory connector and a config over the defaults. */
const withMemory = <A, E>(
  f: (m: Memory) => Effect.Effect<A, E, Scope.Scope | Transport.UdpConnector>,
  config: Partial<CosocketConfig.Settings> = {}
) => {
  const m = memory()
  return f(m).pipe(
    Effect.scoped,
    Effect.provideService(Transport.UdpConnector, m.connector),
    Effect.provideService(CosocketConfig.CosocketConfig, { ...CosocketConfig.defaults, ...config })
  )
}

/** Lets forked fibers run until they block. */
const settle = Effect.repeat(Effect.yieldNow, { times: 20 })

const failure = <A, E extends { readonly _tag: string; readonly message: string }, R>(self: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(self), (e) => ({ tag: e._tag, message: e.message }))

const refused: Transport.TransportFailure = { code: "ECONNREFUSED", reason: "connection refused" }

describe("UdpSocket engine (in-memory transport, TestClock)", () => {
  it.effect("UDP-006 read timeout is recoverable: SocketReadTimeout with an empty partial, then a datagram", () =>
    withMemory((m) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        yield* socket.setTimeout("100 millis")
        yield* socket.setPeername("127.0.0.1", 5353)
        const fiber = yield* Effect.forkChild(Effect.flip(socket.receive()))
        yield* settle
        yield* TestClock.adjust("99 millis")
        expect(fiber.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("1 millis")
        const error = yield* Fiber.join(fiber)
        expect(error._tag).toBe("SocketReadTimeout")
        expect(error.message).toBe("timeout")
        expect(error).toMatchObject({ operation: "receive", partial: new Uint8Array(0) })
        last(m).handlers.onDatagram(bytes("late"))
        expect(text(yield* socket.receive())).toBe("late")
      })
    ))

  it.effect("UDP-006 setTimeout(0) falls back to CosocketConfig.readTimeout; bad values are InvalidArgument", () =>
    withMemory(
      () =>
        Effect.gen(function*() {
          const socket = yield* UdpSocket.make
          yield* socket.setPeername("127.0.0.1", 5353)
          yield* socket.setTimeout(0)
          const fiber = yield* Effect.forkChild(Effect.flip(socket.receive()))
          yield* settle
          yield* TestClock.adjust("249 millis")
          expect(fiber.pollUnsafe()).toBeUndefined()
          yield* TestClock.adjust("1 millis")
          expect((yield* Fiber.join(fiber))._tag).toBe("SocketReadTimeout")
          expect(yield* failure(socket.setTimeout(-1))).toEqual({
            tag: "InvalidArgument",
            message: "bad timeout value"
          })
          expect(yield* failure(socket.setTimeout("soon" as never))).toEqual({
            tag: "InvalidArgument",
            message: "bad timeout value"
          })
        }),
      { readTimeout: Duration.millis(250) }
    ))

  it.effect("UDP-017 one busy flag: send, close, setPeername, receive during a receive fail with SocketBusy", () =>
    withMemory((m) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        yield* socket.setPeername("127.0.0.1", 5353)
        const reader = yield* Effect.forkChild(socket.receive())
        yield* settle
        const busy = { tag: "SocketBusy", message: "socket busy" }
        expect(yield* failure(socket.send("x"))).toEqual(busy)
        expect(yield* failure(socket.close)).toEqual(busy)
        expect(yield* failure(socket.setPeername("127.0.0.1", 5354))).toEqual(busy)
        expect(yield* failure(socket.receive())).toEqual(busy)
        // Nothing changed: the peer got nothing, only one endpoint was opened, the reader still waits.
        expect(m.peers.length).toBe(1)
        expect(last(m).sent).toEqual([])
        expect(last(m).closed).toBe(false)
        last(m).handlers.onDatagram(bytes("reply"))
        expect(text(yield* Fiber.join(reader))).toBe("reply")
        // Not busy any more.
        yield* socket.send("x")
        expect(last(m).sent).toEqual(["x"])
      })
    ))

  it.effect("UDP-017 setPeername in flight makes the socket busy too; its connect timeout is SocketTimeout", () =>
    withMemory(
      (m) =>
        Effect.gen(function*() {
          const socket = yield* UdpSocket.make
          m.hang = true
          const opening = yield* Effect.forkChild(Effect.flip(socket.setPeername("example.test", 53)))
          yield* settle
          expect(yield* failure(socket.send("x"))).toEqual({ tag: "SocketBusy", message: "socket busy" })
          expect(yield* failure(socket.receive())).toEqual({ tag: "SocketBusy", message: "socket busy" })
          yield* TestClock.adjust("2 seconds")
          const error = yield* Fiber.join(opening)
          expect(error._tag).toBe("SocketTimeout")
          expect(error).toMatchObject({ operation: "connect" })
          expect(m.interruptedOpens).toBe(1)
          expect(yield* failure(socket.send("x"))).toEqual({ tag: "SocketClosed", message: "closed" })
        }),
      { connectTimeout: Duration.seconds(2) }
    ))

  it.effect("bounded queue: datagrams beyond udpQueueSize are dropped and counted in `dropped`", () =>
    withMemory(
      (m) =>
        Effect.gen(function*() {
          const socket = yield* UdpSocket.make
          yield* socket.setPeername("127.0.0.1", 5353)
          for (let i = 1; i <= 5; i++) last(m).handlers.onDatagram(bytes(`d${i}`))
          expect(yield* socket.dropped).toBe(3)
          expect(text(yield* socket.receive())).toBe("d1")
          last(m).handlers.onDatagram(bytes("d6"))
          expect(text(yield* socket.receive())).toBe("d2")
          expect(text(yield* socket.receive())).toBe("d6")
          expect(yield* socket.dropped).toBe(3)
          // The count belongs to the socket object: it survives setPeername.
          yield* socket.setPeername("127.0.0.1", 5354)
          for (let i = 1; i <= 3; i++) last(m).handlers.onDatagram(bytes(`e${i}`))
          expect(yield* socket.dropped).toBe(4)
        }),
      { udpQueueSize: 2 }
    ))

  it.effect("never truncate: a longer datagram fails DatagramTooLarge with its real length and is consumed", () =>
    withMemory((m) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        yield* socket.setPeername("127.0.0.1", 5353)
        last(m).handlers.onDatagram(bytes("0123456789AB"))
        last(m).handlers.onDatagram(bytes("next"))
        const error = yield* Effect.flip(socket.receive(8))
        expect(error._tag).toBe("DatagramTooLarge")
        expect(error.message).toBe("buffer too small")
        expect(error).toMatchObject({ size: 8, length: 12 })
        expect(text(yield* socket.receive(8))).toBe("next")
        // Exactly the size fits.
        last(m).handlers.onDatagram(bytes("12345678"))
        expect(text(yield* socket.receive(8))).toBe("12345678")
      })
    ))

  it.effect("UDP-003 ICMP unreachable on receive is ConnectError \"connection refused\"; the socket stays usable", () =>
    withMemory((m) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        yield* socket.setPeername("127.0.0.1", 65432)
        yield* socket.send("q")
        const reader = yield* Effect.forkChild(Effect.flip(socket.receive()))
        yield* settle
        last(m).handlers.onError(refused)
        const error = yield* Fiber.join(reader)
        expect(error._tag).toBe("ConnectError")
        expect(error.message).toBe("connection refused")
        expect(error).toMatchObject({ code: "ECONNREFUSED", address: "127.0.0.1:65432" })
        // Queue order is kept: a datagram, then an error, then a datagram.
        last(m).handlers.onDatagram(bytes("a"))
        last(m).handlers.onError(refused)
        last(m).handlers.onDatagram(bytes("b"))
        expect(text(yield* socket.receive())).toBe("a")
        expect((yield* Effect.flip(socket.receive()))._tag).toBe("ConnectError")
        expect(text(yield* socket.receive())).toBe("b")
        yield* socket.send("again")
        expect(last(m).sent).toEqual(["q", "again"])
      })
    ))

  it.effect("send failures: ECONNREFUSED from the kernel is ConnectError, others SocketIoError notSent; still usable", () =>
    withMemory((m) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        yield* socket.setPeername("127.0.0.1", 65432)
        last(m).sendFailure = refused
        expect(yield* failure(socket.send("a"))).toEqual({ tag: "ConnectError", message: "connection refused" })
        last(m).sendFailure = { code: "EMSGSIZE", reason: "message too long" }
        const error = yield* Effect.flip(socket.send("b"))
        expect(error._tag).toBe("SocketIoError")
        expect(error.message).toBe("message too long")
        expect(error).toMatchObject({ operation: "send", delivery: "notSent" })
        yield* socket.send("c")
        expect(last(m).sent).toEqual(["c"])
      })
    ))

  it.effect("interrupting a blocked receive consumes nothing and keeps the socket usable", () =>
    withMemory((m) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        yield* socket.setPeername("127.0.0.1", 5353)
        const reader = yield* Effect.forkChild(socket.receive())
        yield* settle
        yield* Fiber.interrupt(reader)
        expect(last(m).closed).toBe(false)
        last(m).handlers.onDatagram(bytes("kept"))
        expect(text(yield* socket.receive())).toBe("kept")
        yield* socket.send("x")
      })
    ))

  it.effect("closing the scope closes the endpoint and wakes a blocked receive with SocketClosed", () =>
    Effect.gen(function*() {
      const m = memory()
      const scope = yield* Scope.make()
      const socket = yield* UdpSocket.make.pipe(
        Scope.provide(scope),
        Effect.provideService(Transport.UdpConnector, m.connector)
      )
      yield* socket.setPeername("127.0.0.1", 5353)
      const reader = yield* Effect.forkChild(Effect.flip(socket.receive()))
      yield* settle
      yield* Scope.close(scope, Exit.void)
      const error = yield* Fiber.join(reader)
      expect(error._tag).toBe("SocketClosed")
      expect(error).toMatchObject({ operation: "receive" })
      expect(last(m).closed).toBe(true)
      expect(yield* failure(socket.send("x"))).toEqual({ tag: "SocketClosed", message: "closed" })
      expect(yield* failure(socket.setPeername("127.0.0.1", 5353))).toEqual({ tag: "SocketClosed", message: "closed" })
      expect(m.peers.length).toBe(1)
    }))

  it.effect("UDP-005 setPeername again closes the previous endpoint and drops its queue", () =>
    withMemory((m) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        yield* socket.setPeername("127.0.0.1", 5353)
        const first = last(m)
        first.handlers.onDatagram(bytes("old"))
        yield* socket.setPeername("[::1]", 5354)
        expect(first.closed).toBe(true)
        expect(last(m).target).toEqual({ _tag: "Inet", host: "::1", port: 5354 })
        // A late datagram of the old endpoint goes nowhere.
        first.handlers.onDatagram(bytes("stale"))
        last(m).handlers.onDatagram(bytes("new"))
        expect(text(yield* socket.receive())).toBe("new")
        yield* socket.close
        expect(last(m).closed).toBe(true)
      })
    ))

  it.effect("UDP-015 bind applies to the next setPeername; a non-IP address is InvalidArgument \"bad address\"", () =>
    withMemory((m) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        expect(yield* failure(socket.bind("127.0.0.1000"))).toEqual({ tag: "InvalidArgument", message: "bad address" })
        expect(yield* failure(socket.bind("localhost"))).toEqual({ tag: "InvalidArgument", message: "bad address" })
        yield* socket.bind("127.0.0.10")
        yield* socket.setPeername("127.0.0.1", 5353)
        expect(last(m).localAddress).toBe("127.0.0.10")
        yield* socket.bind("[::1]")
        yield* socket.setPeername("::1", 5353)
        expect(last(m).localAddress).toBe("::1")
      })
    ))

  it.effect("UDP-013 port 65536 is InvalidArgument \"bad port number: 65536\"; nothing is opened", () =>
    withMemory((m) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        expect(yield* failure(socket.setPeername("127.0.0.1", 65536))).toEqual({
          tag: "InvalidArgument",
          message: "bad port number: 65536"
        })
        expect(m.peers.length).toBe(0)
      })
    ))

  it.effect("UDP-011 (differs: no unix datagram sockets on Node) setPeername(\"unix:...\") is InvalidArgument", () =>
    withMemory((m) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        expect(yield* failure(socket.setPeername("unix:/tmp/dgram.sock"))).toEqual({
          tag: "InvalidArgument",
          message: "datagram unix domain sockets are not supported"
        })
        expect(m.peers.length).toBe(0)
      })
    ))

  it.effect("UDP-018 close twice: the second is SocketClosed; never-connected send/receive/close are closed", () =>
    withMemory(() =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        const closed = { tag: "SocketClosed", message: "closed" }
        expect(yield* failure(socket.send("x"))).toEqual(closed)
        expect(yield* failure(socket.receive())).toEqual(closed)
        expect(yield* failure(socket.close)).toEqual(closed)
        yield* socket.setPeername("127.0.0.1", 5353)
        yield* socket.close
        expect(yield* failure(socket.close)).toEqual(closed)
        expect(yield* failure(socket.localAddressInfo)).toEqual(closed)
      })
    ))

  it.effect("UDP-019 (typed API; runtime equivalents) argument errors are InvalidArgument and change nothing", () =>
    withMemory((m) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        const invalid = (message: string) => ({ tag: "InvalidArgument", message })
        expect(yield* failure(socket.setPeername("127.0.0.1", "x" as never))).toEqual(
          invalid("missing the port number")
        )
        expect(
          yield* failure((socket.setPeername as (h: unknown) => Effect.Effect<void, UdpSocket.PeernameError>)(
            "127.0.0.1"
          ))
        ).toEqual(invalid("missing the port number"))
        expect(yield* failure(socket.setPeername(undefined as never, 53))).toEqual(
          invalid("string expected, got undefined")
        )
        expect(yield* failure(socket.setPeername("", 53))).toEqual(invalid("failed to parse host name \"\": no host"))
        yield* socket.setPeername("127.0.0.1", 5353)
        expect(yield* failure(socket.send(undefined as never))).toEqual(
          invalid("string, Uint8Array, number, boolean, or array expected, got undefined")
        )
        expect(yield* failure(socket.receive("x" as never))).toEqual(invalid("bad size argument"))
        expect(yield* failure(socket.receive(0))).toEqual(invalid("bad size argument"))
        expect(yield* failure(socket.receive(-1))).toEqual(invalid("bad size argument"))
        expect(yield* failure(socket.bind(undefined as never))).toEqual(invalid("bad address"))
        expect(last(m).sent).toEqual([])
        expect(m.peers.length).toBe(1)
        expect(last(m).closed).toBe(false)
      })
    ))
})
