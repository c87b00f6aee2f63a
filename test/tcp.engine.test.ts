/**
 * The TCP engine on an in-memory transport under TestClock: exact timeouts (inactivity timers
 * re-armed on progress), the whole busy matrix of OpenResty, half-close, interruption and scope
 * lifetime. No network, no real timers.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { TestClock } from "effect/testing"
import { ConnectionPool, TcpSocket } from "../src/index.js"
import * as MemoryTransport from "./support/memoryTransport.js"

const setup = MemoryTransport.harness

const describeExit = <A, E extends { readonly message: string; readonly _tag: string }>(exit: Exit.Exit<A, E>) =>
  Exit.match(exit, {
    onFailure: (cause) => {
      const failure = Option.getOrUndefined(Cause.findErrorOption(cause))
      if (failure === undefined) return `DIE/INTERRUPT`
      const partial = (failure as { partial?: Uint8Array }).partial
      return partial === undefined
        ? `${failure._tag}: ${failure.message}`
        : `${failure._tag}: ${failure.message} [${TcpSocket.text(partial)}]`
    },
    onSuccess: (value) => value instanceof Uint8Array ? TcpSocket.text(value) : String(value)
  })

const settle = <A, E extends { readonly message: string; readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.exit(effect), describeExit)

/** Whether a forked fiber is still waiting. */
const pending = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.sync(() => fiber.pollUnsafe() === undefined)

describe("engine timeouts (TestClock)", () => {
  it.effect("a read times out exactly at the read timeout, with the consumed partial", () => {
    const { net, provide } = setup({ readTimeout: "1 second" })
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      net.lastPeer().send("par")
      const fiber = yield* Effect.forkChild(settle(socket.receive(10)))
      yield* TestClock.adjust("999 millis")
      expect(yield* pending(fiber)).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe("SocketReadTimeout: timeout [par]")
      // Consumed, not re-delivered; the connection stays usable.
      net.lastPeer().send("0123456789")
      expect(yield* settle(socket.receive(10))).toBe("0123456789")
    }))
  })

  it.effect("TCP-TO-014 the read timer is re-armed on progress (inactivity, not a deadline)", () => {
    const { net, provide } = setup({ readTimeout: "1 second" })
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      const peer = net.lastPeer()
      const fiber = yield* Effect.forkChild(settle(socket.receive(3)))
      for (const byte of ["a", "b"]) {
        yield* TestClock.adjust("800 millis")
        peer.send(byte)
        yield* Effect.yieldNow
      }
      yield* TestClock.adjust("999 millis")
      expect(yield* pending(fiber)).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe("SocketReadTimeout: timeout [ab]")
    }))
  })

  it.effect("time spent by a slow consumer does not count: the timer only runs while waiting", () => {
    const { net, provide } = setup({ readTimeout: "1 second" })
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      net.lastPeer().send("line1\nline2\n")
      expect(yield* settle(socket.receive())).toBe("line1")
      yield* TestClock.adjust("5 seconds") // the application is busy elsewhere
      expect(yield* settle(socket.receive())).toBe("line2")
    }))
  })

  it.effect("a connect that hangs times out at the connect timeout; nothing stays open", () => {
    const { net, provide } = setup({ connectTimeout: "2 seconds" })
    net.setOnConnect(() => MemoryTransport.hang)
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const fiber = yield* Effect.forkChild(settle(socket.connect("10.0.0.1", 80)))
      yield* TestClock.adjust("1999 millis")
      expect(yield* pending(fiber)).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe("SocketTimeout: timeout")
      expect(net.openCount()).toBe(0)
      net.setOnConnect(() => MemoryTransport.accept)
      yield* socket.connect("10.0.0.1", 80)
      expect(yield* socket.getReusedTimes).toBe(0)
    }))
  })

  it.effect("a send times out when the peer takes nothing; progress re-arms it; the write half closes", () => {
    const { net, provide } = setup({ sendTimeout: "1 second" })
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      const peer = net.lastPeer()
      peer.setWriteMode("held")
      const payload = new Uint8Array(1024 * 1024)
      const fiber = yield* Effect.forkChild(settle(socket.send(payload)))
      yield* TestClock.adjust("900 millis")
      peer.completeWrites(300 * 1024)
      yield* Effect.yieldNow
      yield* TestClock.adjust("900 millis")
      expect(yield* pending(fiber)).toBe(true)
      yield* TestClock.adjust("100 millis")
      expect(yield* Fiber.join(fiber)).toBe("SocketTimeout: timeout")
      expect(yield* settle(socket.send("x"))).toBe("SocketClosed: closed")
      peer.send("still readable\n")
      expect(yield* settle(socket.receive())).toBe("still readable")
      expect(yield* settle(socket.close)).toBe("undefined")
    }))
  })

  it.effect("an infinite read timeout waits forever (no timer)", () => {
    const { net, provide } = setup({ readTimeout: "1 second" })
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      yield* socket.setTimeouts(0, 0, "Infinity" as never).pipe(Effect.catch(() => socket.setTimeout(2 ** 31 - 1)))
      const fiber = yield* Effect.forkChild(settle(socket.receive()))
      yield* TestClock.adjust("10 days")
      expect(yield* pending(fiber)).toBe(true)
      net.lastPeer().send("late\n")
      expect(yield* Fiber.join(fiber)).toBe("late")
    }))
  })
})

describe("engine busy matrix (OpenResty's busy rules)", () => {
  type InFlight = "connecting" | "reading" | "writing"

  const inFlight = (net: MemoryTransport.MemoryNetwork, socket: TcpSocket.TcpSocket, state: InFlight) =>
    Effect.gen(function*() {
      if (state === "connecting") {
        net.setOnConnect(() => MemoryTransport.hang)
        return yield* Effect.forkChild(Effect.asVoid(Effect.exit(socket.connect("10.0.0.2", 80))))
      }
      yield* socket.connect("10.0.0.1", 80)
      if (state === "reading") return yield* Effect.forkChild(Effect.asVoid(Effect.exit(socket.receive())))
      net.lastPeer().setWriteMode("held")
      return yield* Effect.forkChild(Effect.asVoid(Effect.exit(socket.send("GET / HTTP/1.0\r\n\r\n"))))
    })

  const expectations: Record<InFlight, Record<string, string>> = {
    connecting: {
      receive: "SocketBusyConnecting: socket busy connecting",
      send: "SocketBusyConnecting: socket busy connecting",
      close: "SocketBusyConnecting: socket busy connecting",
      setKeepalive: "SocketBusyConnecting: socket busy connecting",
      connect: "SocketBusyConnecting: socket busy connecting",
      getReusedTimes: "0"
    },
    reading: {
      receive: "SocketBusyReading: socket busy reading",
      send: "5",
      close: "SocketBusyReading: socket busy reading",
      setKeepalive: "SocketBusyReading: socket busy reading",
      connect: "SocketBusyReading: socket busy reading",
      getReusedTimes: "0"
    },
    writing: {
      receive: "x",
      send: "SocketBusyWriting: socket busy writing",
      close: "SocketBusyWriting: socket busy writing",
      setKeepalive: "SocketBusyWriting: socket busy writing",
      connect: "SocketBusyWriting: socket busy writing",
      getReusedTimes: "0"
    }
  }

  for (const state of ["connecting", "reading", "writing"] as const) {
    it.effect(`TCP-BUSY-001 / TCP-BUSY-002 while ${state}: every call answers per the matrix and changes nothing`, () => {
      const { net, provide } = setup()
      return provide(Effect.gen(function*() {
        const socket = yield* TcpSocket.make
        const fiber = yield* inFlight(net, socket, state)
        yield* Effect.yieldNow
        const calls: Record<string, Effect.Effect<string>> = {
          receive: Effect.suspend(() => {
            if (state === "writing") net.lastPeer().send("x")
            return settle(socket.receive(1))
          }),
          send: settle(socket.send("hello")),
          close: settle(socket.close),
          setKeepalive: settle(socket.setKeepalive()),
          connect: settle(socket.connect("10.0.0.1", 80)),
          getReusedTimes: settle(socket.getReusedTimes)
        }
        const results: Record<string, string> = {}
        for (const [name, call] of Object.entries(calls)) results[name] = yield* call
        expect(results).toEqual(expectations[state])
        // Nothing was consumed or closed by the refused calls.
        expect(yield* pending(fiber)).toBe(true)
        if (state !== "connecting") expect(net.lastPeer().isOpen).toBe(true)
        yield* Fiber.interrupt(fiber)
      }))
    })
  }

  it.effect("one reader and one writer at once; a second reader consumes nothing", () => {
    const { net, provide } = setup()
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      const peer = net.lastPeer()
      const reader = yield* Effect.forkChild(settle(socket.receive(6)))
      yield* Effect.yieldNow
      expect(yield* settle(socket.send("ping"))).toBe("4")
      expect(yield* settle(socket.receive(1))).toBe("SocketBusyReading: socket busy reading")
      peer.send("pong!\n")
      expect(yield* Fiber.join(reader)).toBe("pong!\n")
      expect(peer.takeText()).toBe("ping")
    }))
  })
})

describe("engine half-close, interruption and scope", () => {
  it.effect("peer FIN: reads fail closed with the partial, the write half still works, close succeeds", () => {
    const { net, provide } = setup()
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      const peer = net.lastPeer()
      peer.send("abc")
      peer.fin()
      expect(yield* settle(socket.receive(5))).toBe("SocketClosed: closed [abc]")
      expect(yield* settle(socket.receive())).toBe("SocketClosed: closed")
      expect(yield* settle(socket.send("bye"))).toBe("3")
      expect(yield* settle(socket.close)).toBe("undefined")
      expect(peer.destroyedByClient).toBe(true)
    }))
  })

  it.effect("EOF while waiting, after our own shutdown: the reader gets closed with its partial (no re-entry)", () => {
    const { net, provide } = setup()
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      const peer = net.lastPeer()
      yield* socket.shutdown("send")
      const fiber = yield* Effect.forkChild(settle(socket.receive(10)))
      yield* Effect.yieldNow
      peer.send("abc")
      peer.fin()
      expect(yield* Fiber.join(fiber)).toBe("SocketClosed: closed [abc]")
      expect(peer.destroyedByClient).toBe(true)
    }))
  })

  it.effect("a reset while reading: SocketIoError with the partial; then closed", () => {
    const { net, provide } = setup()
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      const peer = net.lastPeer()
      peer.send("ab")
      const fiber = yield* Effect.forkChild(settle(socket.receive(5)))
      yield* Effect.yieldNow
      peer.fail("ECONNRESET", "connection reset by peer")
      expect(yield* Fiber.join(fiber)).toBe("SocketIoError: connection reset by peer [ab]")
      expect(yield* settle(socket.receive())).toBe("SocketClosed: closed")
    }))
  })

  it.effect("interrupting a read consumes nothing and marks the connection dirty", () => {
    const { net, provide } = setup()
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      const peer = net.lastPeer()
      peer.send("ab")
      const fiber = yield* Effect.forkChild(socket.receive(4))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      peer.send("cd")
      expect(yield* settle(socket.receive(4))).toBe("abcd")
      expect(yield* settle(socket.setKeepalive())).toBe("DirtyConnection: dirty connection")
      expect(peer.destroyedByClient).toBe(true)
    }))
  })

  it.effect("interrupting a send that has not completed closes the connection", () => {
    const { net, provide } = setup()
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      const peer = net.lastPeer()
      peer.setWriteMode("held")
      const fiber = yield* Effect.forkChild(socket.send("request"))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      expect(peer.destroyedByClient).toBe(true)
      expect(yield* settle(socket.send("x"))).toBe("SocketClosed: closed")
    }))
  })

  it.effect("interrupting a connect leaves nothing open", () => {
    const { net, provide } = setup()
    net.setOnConnect(() => MemoryTransport.acceptAfter("1 second"))
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const fiber = yield* Effect.forkChild(socket.connect("10.0.0.1", 80))
      yield* TestClock.adjust("500 millis")
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 second")
      expect(net.openCount()).toBe(0)
      expect(yield* settle(socket.getReusedTimes)).toBe("SocketClosed: closed")
    }))
  })

  it.effect("closing the scope destroys the connection and wakes a blocked reader with closed", () => {
    const net = MemoryTransport.make()
    const layer = Layer.merge(net.layer, ConnectionPool.layer()).pipe(Layer.orDie)
    return Effect.gen(function*() {
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("10.0.0.1", 80)
        const fiber = yield* Effect.forkDetach(settle(socket.receive()))
        yield* Effect.yieldNow
        return fiber
      }))
      expect(yield* Fiber.join(result)).toBe("SocketClosed: closed")
      expect(net.peers[0].destroyedByClient).toBe(true)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a late reply after a read timeout never reaches the next borrower", () => {
    const { net, provide } = setup({ readTimeout: "1 second" })
    return provide(Effect.gen(function*() {
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("10.0.0.1", 80)
        yield* socket.send("GET A\n")
        const fiber = yield* Effect.forkChild(settle(socket.receive()))
        yield* TestClock.adjust("1 second")
        const timedOut = yield* Fiber.join(fiber)
        net.peers[0].send("reply A\n") // late
        return [timedOut, yield* settle(socket.setKeepalive())]
      }))
      // The late reply is pending below our buffer: the connection is closed, not pooled.
      expect(first).toEqual(["SocketReadTimeout: timeout []", "DubiousConnection: connection in dubious state"])
      const second = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("10.0.0.1", 80)
        const reused = yield* socket.getReusedTimes
        yield* socket.send("GET B\n")
        net.lastPeer().send("reply B\n")
        return [reused, yield* settle(socket.receive())]
      }))
      expect(second).toEqual([0, "reply B"])
    }))
  })

  it.effect("a read timeout with no late data: setKeepalive refuses a dirty connection unless forced", () => {
    const { net, provide } = setup({ readTimeout: "1 second" })
    return provide(Effect.gen(function*() {
      const dirty = yield* TcpSocket.connect("10.0.0.1", 80)
      const f1 = yield* Effect.forkChild(settle(dirty.receive()))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(f1)
      expect(yield* settle(dirty.setKeepalive())).toBe("DirtyConnection: dirty connection")
      const forced = yield* TcpSocket.connect("10.0.0.1", 80)
      const f2 = yield* Effect.forkChild(settle(forced.receive()))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(f2)
      expect(yield* settle(forced.setKeepalive(undefined, { force: true }))).toBe("undefined")
      const again = yield* TcpSocket.connect("10.0.0.1", 80)
      expect(yield* again.getReusedTimes).toBe(1)
      expect(net.peers.length).toBe(2)
    }))
  })

  it.effect("setKeepalive argument and busy errors change nothing (a reader keeps working)", () => {
    const { net, provide } = setup()
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      expect(yield* settle(socket.setKeepalive(-1))).toBe("InvalidArgument: bad timeout value")
      const reader = yield* Effect.forkChild(settle(socket.receive()))
      yield* Effect.yieldNow
      expect(yield* settle(socket.setKeepalive())).toBe("SocketBusyReading: socket busy reading")
      net.lastPeer().send("fine\n")
      expect(yield* Fiber.join(reader)).toBe("fine")
      expect(yield* settle(socket.setKeepalive())).toBe("undefined")
    }))
  })
})
