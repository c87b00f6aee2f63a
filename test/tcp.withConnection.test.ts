/**
 * `TcpSocket.withSocket` and `TcpSocket.withConnection`: per-request sockets whose lifetime is an
 * effect instead of a `Scope`. Engine cases on the in-memory transport under TestClock, then the
 * same contract on real loopback sockets (inet and unix).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import { TestClock } from "effect/testing"
import type * as Net from "node:net"
import type { InvalidArgument } from "../src/CosocketError.js"
import { ConnectionPool, TcpSocket } from "../src/index.js"
import { memcachedPeer, run, server } from "./support/loopback.js"
import * as MemoryTransport from "./support/memoryTransport.js"
import * as Harness from "./support/poolHarness.js"

const HOST = "10.0.0.1"
const PORT = 80
const KEY = `${HOST}:${PORT}`
const text = TcpSocket.text

const errorOf = <A, E extends { readonly _tag: string; readonly message: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(effect), (e) => `${e._tag}: ${e.message}`)

/** `InvalidArgument(<argument>): <message>`, or the tag of any other error. */
const invalidOf = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(
    Effect.flip(effect),
    (e) =>
      e._tag === "InvalidArgument"
        ? `InvalidArgument(${(e as unknown as InvalidArgument).argument}): ${(e as unknown as InvalidArgument).message}`
        : e._tag
  )

/** Answers every `ping` line with `+PONG`. */
const answerPings = (peer: { onWrite: (f: (bytes: Uint8Array, p: { send: (s: string) => void }) => void) => void }) =>
  peer.onWrite((bytes, p) => {
    for (const line of Buffer.from(bytes).toString("latin1").split("\r\n")) if (line === "ping") p.send("+PONG\r\n")
  })

const ping = (socket: TcpSocket.TcpSocket) =>
  Effect.andThen(socket.send("ping\r\n"), Effect.map(socket.receive(), text))

describe("TcpSocket.withConnection on the memory transport", () => {
  it.effect("pools the connection after use succeeds; the next exchange reuses it (TCP-POOL-001)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make({}, { onAccept: answerPings })
      const exchange = TcpSocket.withConnection(HOST, PORT, (socket) =>
        Effect.gen(function*() {
          const reply = yield* ping(socket)
          return `${reply} ${yield* socket.getReusedTimes}`
        }))
      const results: Array<string> = []
      for (let i = 0; i < 3; i++) results.push(yield* Effect.provide(exchange, h.context))
      expect(results).toEqual(["+PONG 0", "+PONG 1", "+PONG 2"])
      expect(h.net.attempts()).toBe(1)
      expect(yield* h.stats(KEY)).toMatchObject({ idle: 1, active: 0, created: 1, reused: 2 })
      yield* h.shutdown
    }))

  it.effect("each run uses the pool and connector of its own context: two pools used alternately stay apart", () =>
    Effect.gen(function*() {
      const [a, b] = [
        yield* Harness.make({}, { onAccept: answerPings }),
        yield* Harness.make({}, { onAccept: answerPings })
      ]
      const exchange = TcpSocket.withConnection(HOST, PORT, (socket) =>
        Effect.gen(function*() {
          const reply = yield* ping(socket)
          return `${reply} ${yield* socket.getReusedTimes}`
        }))
      const results: Array<string> = []
      for (const h of [a, b, b, a, b, a]) results.push(yield* Effect.provide(exchange, h.context))
      expect(results).toEqual(["+PONG 0", "+PONG 0", "+PONG 1", "+PONG 1", "+PONG 2", "+PONG 2"])
      expect([a.net.attempts(), b.net.attempts()]).toEqual([1, 1])
      expect(yield* a.stats(KEY)).toMatchObject({ idle: 1, active: 0, created: 1, reused: 2 })
      expect(yield* b.stats(KEY)).toMatchObject({ idle: 1, active: 0, created: 1, reused: 2 })
      yield* a.shutdown
      yield* b.shutdown
    }))

  it.effect("closes the connection when use fails, and returns use's own error", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make({}, { onAccept: answerPings })
      const failed = yield* Effect.result(Effect.provide(
        TcpSocket.withConnection(
          HOST,
          PORT,
          (socket) => Effect.andThen(ping(socket), Effect.fail("bad reply" as const))
        ),
        h.context
      ))
      expect(failed).toEqual(Result.fail("bad reply"))
      expect(h.net.peers[0].destroyedByClient).toBe(true)
      expect(yield* h.stats(KEY)).toBeUndefined()
      yield* h.shutdown
    }))

  it.effect("closes the connection when interrupted mid-read; the slot is freed", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const fiber = yield* Effect.forkChild(Effect.provide(
        TcpSocket.withConnection(HOST, PORT, (socket) => socket.receive(), { poolSize: 1, backlog: 0 }),
        h.context
      ))
      yield* Harness.settle
      expect(yield* h.stats(KEY)).toMatchObject({ active: 1 })
      yield* Fiber.interrupt(fiber)
      expect(h.net.peers[0].destroyedByClient).toBe(true)
      expect(yield* h.stats(KEY)).toBeUndefined()
      yield* h.shutdown
    }))

  it.effect("a refused check-in (unread data) closes the connection and keeps use's value", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const value = yield* Effect.provide(
        TcpSocket.withConnection(HOST, PORT, () =>
          Effect.sync(() => {
            h.net.lastPeer().send("unread")
            return "value"
          })),
        h.context
      )
      expect(value).toBe("value")
      expect(h.net.peers[0].destroyedByClient).toBe(true)
      expect(yield* h.stats(KEY)).toBeUndefined()
      yield* h.shutdown
    }))

  it.effect("a reader fiber still busy when use ends: closed, not pooled; the reader gets SocketClosed", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const reader = yield* Effect.provide(
        // the reader is blocked in receive when use returns
        TcpSocket.withConnection(
          HOST,
          PORT,
          (socket) => Effect.tap(Effect.forkDetach(Effect.result(socket.receive())), Harness.settle)
        ),
        h.context
      )
      const result = yield* Fiber.join(reader)
      expect(Result.isFailure(result) && `${result.failure._tag}: ${result.failure.message}`).toBe(
        "SocketClosed: closed"
      )
      expect(h.net.peers[0].destroyedByClient).toBe(true)
      expect(yield* h.stats(KEY)).toBeUndefined()
      yield* h.shutdown
    }))

  it.effect("options: timeout is the socket's connect, send and read timeout; idleTimeout the pool's", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make({}, { onAccept: answerPings })
      const reader = yield* Effect.forkChild(Effect.provide(
        Effect.result(TcpSocket.withConnection(HOST, PORT, (socket) => socket.receive(), { timeout: "2 seconds" })),
        h.context
      ))
      yield* Harness.settle
      yield* TestClock.adjust("1999 millis")
      expect(reader.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const timedOut = yield* Fiber.join(reader)
      expect(Result.isFailure(timedOut) && `${timedOut.failure._tag}: ${timedOut.failure.message}`).toBe(
        "SocketReadTimeout: timeout"
      )
      // a read timeout leaves the connection dirty: closed, not pooled
      expect(h.net.peers[0].destroyedByClient).toBe(true)
      yield* Effect.provide(TcpSocket.withConnection(HOST, PORT, ping, { idleTimeout: "5 seconds" }), h.context)
      expect(yield* h.stats(KEY)).toMatchObject({ idle: 1 })
      yield* TestClock.adjust("4999 millis")
      expect(yield* h.stats(KEY)).toMatchObject({ idle: 1 })
      yield* TestClock.adjust("1 millis")
      expect(yield* h.stats(KEY)).toBeUndefined()
      expect(h.net.peers[1].destroyedByClient).toBe(true)
      yield* h.shutdown
    }))

  it.effect("bad options fail with InvalidArgument naming the option, before any connect", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const attempt = (options: unknown) =>
        invalidOf(Effect.provide(
          TcpSocket.withConnection(HOST, PORT, () => Effect.void, options as TcpSocket.ConnectionOptions),
          h.context
        ))
      expect(yield* attempt({ timeout: -1 })).toBe("InvalidArgument(timeout): bad timeout value")
      expect(yield* attempt({ idleTimeout: "soon" })).toBe("InvalidArgument(idleTimeout): bad timeout value")
      expect(yield* attempt({ poolSize: 0 })).toBe(`InvalidArgument(poolSize): bad "poolSize" option value: 0`)
      expect(
        yield* invalidOf(Effect.provide(
          TcpSocket.withConnection(HOST, PORT, "not a function" as unknown as () => Effect.Effect<void>),
          h.context
        ))
      ).toBe("InvalidArgument(use): use must be a function, got string")
      expect(
        yield* invalidOf(Effect.provide(TcpSocket.withConnection(HOST, 70000, () => Effect.void), h.context))
      ).toBe("InvalidArgument(port): bad port number: 70000")
      // validated once, when the effect is made: every run fails the same way
      const bad = Effect.provide(TcpSocket.withConnection("", PORT, () => Effect.void), h.context)
      expect([yield* invalidOf(bad), yield* invalidOf(bad)]).toEqual([
        `InvalidArgument(host): failed to parse host name "": no host`,
        `InvalidArgument(host): failed to parse host name "": no host`
      ])
      expect(h.net.attempts()).toBe(0)
      yield* h.shutdown
    }))

  it.effect("connect failures are typed and leave nothing behind", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const held = yield* Effect.forkChild(Effect.provide(
        TcpSocket.withConnection(HOST, PORT, () => Effect.never, { poolSize: 1, backlog: 0 }),
        h.context
      ))
      yield* Harness.settle
      const refused = yield* errorOf(Effect.provide(
        TcpSocket.withConnection(HOST, PORT, () => Effect.void, { poolSize: 1, backlog: 0 }),
        h.context
      ))
      expect(refused).toBe("PoolBacklogFull: too many waiting connect operations")
      yield* Fiber.interrupt(held)
      expect(h.net.openCount()).toBe(0)
      yield* h.shutdown
    }))
})

describe("TcpSocket.withConnection while connecting", () => {
  it.effect("the timeout option bounds the connect (SocketTimeout \"connect\"); the slot is free again", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make({}, { onConnect: () => MemoryTransport.hang })
      const fiber = yield* Effect.forkChild(Effect.flip(Effect.provide(
        TcpSocket.withConnection(HOST, PORT, () => Effect.succeed("unreachable"), { timeout: "3 seconds" }),
        h.context
      )))
      yield* Harness.settle
      expect(yield* h.stats(KEY)).toMatchObject({ active: 1 })
      yield* TestClock.adjust("2999 millis")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      expect([error._tag, error.message, "operation" in error ? error.operation : undefined]).toEqual([
        "SocketTimeout",
        "timeout",
        "connect"
      ])
      expect(yield* h.stats(KEY)).toBeUndefined()
      yield* h.shutdown
    }))

  it.effect("interrupting a pending connect or a backlog wait leaves nothing behind", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make({}, { onConnect: () => MemoryTransport.hang })
      const limits = { poolSize: 1, backlog: 1 }
      const connecting = yield* Effect.forkChild(Effect.provide(
        TcpSocket.withConnection(HOST, PORT, () => Effect.void, limits),
        h.context
      ))
      const waiting = yield* Effect.forkChild(Effect.provide(
        TcpSocket.withConnection(HOST, PORT, () => Effect.void, limits),
        h.context
      ))
      yield* Harness.settle
      expect(yield* h.stats(KEY)).toMatchObject({ active: 1, waiting: 1 })
      yield* Fiber.interrupt(waiting)
      expect(yield* h.stats(KEY)).toMatchObject({ active: 1, waiting: 0 })
      yield* Fiber.interrupt(connecting)
      expect(yield* h.stats(KEY)).toBeUndefined()
      expect(h.net.openCount()).toBe(0)
      yield* h.shutdown
    }))
})

describe("TcpSocket.withSocket on the memory transport", () => {
  it.effect("a connection neither closed nor pooled is closed when use ends", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make({}, { onAccept: answerPings })
      const reply = yield* Effect.provide(
        TcpSocket.withSocket((socket) => Effect.andThen(socket.connect(HOST, PORT), ping(socket))),
        h.context
      )
      expect(reply).toBe("+PONG")
      expect(h.net.peers[0].destroyedByClient).toBe(true)
      expect(yield* h.stats(KEY)).toBeUndefined()
      yield* h.shutdown
    }))

  it.effect("setKeepalive inside use pools the connection (the OpenResty shape, without a Scope)", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make({}, { onAccept: answerPings })
      const exchange = TcpSocket.withSocket((socket) =>
        Effect.gen(function*() {
          yield* socket.setTimeout("1 second")
          yield* socket.connect(HOST, PORT)
          const reply = yield* ping(socket)
          const reused = yield* socket.getReusedTimes
          yield* socket.setKeepalive()
          return `${reply} ${reused}`
        })
      )
      expect(yield* Effect.provide(exchange, h.context)).toBe("+PONG 0")
      expect(yield* Effect.provide(exchange, h.context)).toBe("+PONG 1")
      expect(h.net.peers[0].destroyedByClient).toBe(false)
      expect(yield* h.stats(KEY)).toMatchObject({ idle: 1 })
      yield* h.shutdown
    }))

  it.effect("a fiber blocked on the socket wakes with SocketClosed when use ends", () =>
    Effect.gen(function*() {
      const h = yield* Harness.make()
      const reader = yield* Effect.provide(
        TcpSocket.withSocket((socket) =>
          Effect.andThen(
            socket.connect(HOST, PORT),
            Effect.tap(Effect.forkDetach(errorOf(socket.receive())), Harness.settle)
          )
        ),
        h.context
      )
      expect(yield* Fiber.join(reader)).toBe("SocketClosed: closed")
      expect(h.net.openCount()).toBe(0)
      yield* h.shutdown
    }))
})

/** A memcached-like peer that also says how many connections it accepted. */
const flushPeer = (socket: Net.Socket) => {
  socket.on("end", () => socket.end())
  memcachedPeer(socket)
}

const flush = (socket: TcpSocket.TcpSocket) =>
  Effect.andThen(socket.send("flush_all\r\n"), Effect.map(socket.receive(), text))

describe("TcpSocket.withConnection on loopback", () => {
  it.live("inet: exchanges reuse one connection; a failure closes it", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(flushPeer)
      const exchange = TcpSocket.withConnection("127.0.0.1", peer.port, flush)
      expect([yield* exchange, yield* exchange, yield* exchange]).toEqual(["OK", "OK", "OK"])
      expect(peer.sockets.length).toBe(1)
      const key = `127.0.0.1:${peer.port}`
      expect((yield* ConnectionPool.stats).get(key)).toMatchObject({ idle: 1, created: 1, reused: 2 })
      const failed = yield* Effect.result(
        TcpSocket.withConnection("127.0.0.1", peer.port, (socket) => Effect.andThen(flush(socket), Effect.fail("no")))
      )
      expect(failed).toEqual(Result.fail("no"))
      expect((yield* ConnectionPool.stats).get(key)).toBeUndefined()
      expect(yield* exchange).toBe("OK")
      expect(peer.sockets.length).toBe(2)
    })))

  it.live("unix: the path form takes the options as its third argument", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(flushPeer, { unix: true })
      const path = `unix:${peer.path}` as const
      const exchange = TcpSocket.withConnection(path, flush, { pool: "memcached-unix", timeout: "5 seconds" })
      expect([yield* exchange, yield* exchange]).toEqual(["OK", "OK"])
      expect(peer.sockets.length).toBe(1)
      expect((yield* ConnectionPool.stats).get("memcached-unix")).toMatchObject({ idle: 1, reused: 1 })
    })))

  it.live("50 concurrent exchanges on a pool of 10 with a backlog: exact counts, nothing left open", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(flushPeer)
      const results = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        () => TcpSocket.withConnection("127.0.0.1", peer.port, flush, { poolSize: 10, backlog: 50 }),
        { concurrency: "unbounded" }
      )
      expect(results.filter((r) => r === "OK").length).toBe(50)
      const stats = (yield* ConnectionPool.stats).get(`127.0.0.1:${peer.port}`)
      expect(stats).toMatchObject({ active: 0, waiting: 0 })
      expect(stats!.idle).toBe(peer.sockets.length)
      expect(peer.sockets.length).toBeLessThanOrEqual(10)
      expect(stats!.created + stats!.reused).toBe(50)
    })))
})
