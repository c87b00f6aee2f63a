/**
 * A real UDP peer: memcached's UDP interface (`memcached -U <port> -p 0 -l 127.0.0.1`), with its
 * 8-byte frame header (request id, sequence number, datagram count, reserved). Each test starts
 * its own server on a free port; the test's scope stops it. Catalog UDP-001, UDP-002.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Dgram from "node:dgram"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { CosocketConfig, type Transport, UdpSocket } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1")

/** memcached's UDP frame header for a single-datagram request. */
const frame = (id: number, body: string) =>
  Buffer.concat([Buffer.from([id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0]), Buffer.from(body, "latin1")])

const findMemcached = (): string | undefined => {
  for (const dir of (process.env.PATH ?? "").split(Path.delimiter)) {
    const candidate = Path.join(dir, "memcached")
    try {
      Fs.accessSync(candidate, Fs.constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/** A UDP port nothing listens on (bound once, then closed). */
const freePort = Effect.callback<number>((resume) => {
  const socket = Dgram.createSocket("udp4")
  socket.bind(0, "127.0.0.1", () => {
    const port = socket.address().port
    socket.close(() => resume(Effect.succeed(port)))
  })
})

/** Sends `version` until memcached answers (it needs a moment to bind). */
const awaitReady = (port: number, exited: () => string | undefined) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 100; attempt++) {
      const status = exited()
      if (status !== undefined) return yield* Effect.die(new Error(`memcached exited early: ${status}`))
      const ready = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        yield* socket.setTimeout("100 millis")
        yield* socket.setPeername("127.0.0.1", port)
        yield* socket.send(frame(0xffff, "version\r\n"))
        return latin1(yield* socket.receive()).slice(8).startsWith("VERSION ")
      })).pipe(Effect.orElseSucceed(() => false))
      if (ready) return
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.die(new Error("memcached did not answer on UDP within 5 seconds"))
  })

/** Starts memcached on a free UDP port (TCP off); the scope stops it and waits for its exit. */
const memcached: Effect.Effect<{ readonly port: number }, never, Scope.Scope | Transport.UdpConnector> = Effect.gen(
  function*() {
    const binary = findMemcached()
    if (binary === undefined) {
      return yield* Effect.die(new Error("memcached is not installed: run `apt-get install memcached`"))
    }
    const port = yield* freePort
    const args = ["-U", String(port), "-p", "0", "-l", "127.0.0.1", "-t", "1"]
    if (process.getuid?.() === 0) args.push("-u", "root")
    let stderr = ""
    let status: string | undefined
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = ChildProcess.spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] })
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString()
        })
        child.on("error", (error) => {
          status ??= `spawn failed: ${error.message}`
        })
        child.on("exit", (code, signal) => {
          status ??= `code ${code} signal ${signal} ${stderr}`.trim()
        })
        return child
      }),
      (child) =>
        Effect.callback<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
          // A throwaway server: SIGKILL ends it at once (SIGTERM takes memcached ~0.7 s).
          child.kill("SIGKILL")
        })
    )
    yield* awaitReady(port, () => status)
    expect(child.pid).toBeGreaterThan(0)
    return { port }
  }
)

const run = <A, E>(self: Effect.Effect<A, E, Scope.Scope | Transport.UdpConnector>) =>
  self.pipe(
    Effect.scoped,
    Effect.provide(NodeCosocket.udpConnector),
    Effect.provideService(CosocketConfig.CosocketConfig, {
      ...CosocketConfig.defaults,
      readTimeout: Duration.seconds(10)
    })
  )

/** Reads the datagrams of one reply (by its frame header) and returns the body, reassembled. */
const receiveReply = (socket: UdpSocket.UdpSocket, id: number) =>
  Effect.gen(function*() {
    const parts = new Map<number, Buffer>()
    let total = 1
    for (let i = 0; i < 100 && parts.size < total; i++) {
      const datagram = Buffer.from(yield* socket.receive())
      expect(datagram.readUInt16BE(0)).toBe(id)
      total = datagram.readUInt16BE(4)
      parts.set(datagram.readUInt16BE(2), datagram.subarray(8))
    }
    return { total, body: Buffer.concat([...parts.keys()].sort((a, b) => a - b).map((k) => parts.get(k)!)) }
  })

describe("UdpSocket against memcached's UDP interface", () => {
  it.live("UDP-001 flush_all: the 12-byte reply \\0\\1\\0\\0\\0\\1\\0\\0OK\\r\\n", () =>
    run(Effect.gen(function*() {
      const server = yield* memcached
      const socket = yield* UdpSocket.make
      yield* socket.setTimeout("5 seconds")
      yield* socket.setPeername("127.0.0.1", server.port)
      yield* socket.send(frame(1, "flush_all\r\n"))
      const reply = yield* socket.receive()
      expect(reply.length).toBe(12)
      expect(latin1(reply)).toBe("\x00\x01\x00\x00\x00\x01\x00\x00OK\r\n")
      yield* socket.close
    })))

  it.live("UDP-002 two requests in flight (ids 1 and 2): two 12-byte replies in either order", () =>
    run(Effect.gen(function*() {
      const server = yield* memcached
      const socket = yield* UdpSocket.make
      yield* socket.setPeername("127.0.0.1", server.port)
      yield* socket.send(frame(1, "flush_all\r\n"))
      yield* socket.send(frame(2, "flush_all\r\n"))
      yield* Effect.sleep("50 millis")
      const replies = [latin1(yield* socket.receive()), latin1(yield* socket.receive())].sort()
      expect(replies).toEqual([
        "\x00\x01\x00\x00\x00\x01\x00\x00OK\r\n",
        "\x00\x02\x00\x00\x00\x01\x00\x00OK\r\n"
      ])
    })))

  it.live("set then get a binary value through the frame header", () =>
    run(Effect.gen(function*() {
      const server = yield* memcached
      const socket = yield* UdpSocket.make
      yield* socket.setPeername("127.0.0.1", server.port)
      const value = "a\x00b\r\nc\xff"
      yield* socket.send(frame(7, `set k1 42 0 ${value.length}\r\n${value}\r\n`))
      expect(latin1(yield* socket.receive())).toBe("\x00\x07\x00\x00\x00\x01\x00\x00STORED\r\n")
      yield* socket.send(frame(8, "get k1\r\n"))
      const reply = yield* receiveReply(socket, 8)
      expect(reply.total).toBe(1)
      expect(reply.body.toString("latin1")).toBe(`VALUE k1 42 ${value.length}\r\n${value}\r\nEND\r\n`)
      yield* socket.send(frame(9, "get missing\r\n"))
      expect(latin1(yield* socket.receive())).toBe("\x00\x09\x00\x00\x00\x01\x00\x00END\r\n")
    })))

  it.live("a 3000-byte value comes back in several datagrams, reassembled by sequence number", () =>
    run(Effect.gen(function*() {
      const server = yield* memcached
      const socket = yield* UdpSocket.make
      yield* socket.setPeername("127.0.0.1", server.port)
      const value = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("")
      yield* socket.send(frame(3, `set big 0 0 ${value.length}\r\n${value}\r\n`))
      expect(latin1(yield* socket.receive())).toBe("\x00\x03\x00\x00\x00\x01\x00\x00STORED\r\n")
      yield* socket.send(frame(4, "get big\r\n"))
      const reply = yield* receiveReply(socket, 4)
      expect(reply.total).toBeGreaterThan(1)
      expect(reply.body.toString("latin1")).toBe(`VALUE big 0 3000\r\n${value}\r\nEND\r\n`)
    })))
})
