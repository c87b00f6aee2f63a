/**
 * Catalog group TCP-SEND on real loopback sockets.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { CosocketError, TcpSocket } from "../src/index.js"
import {
  httpPeer,
  onRequest,
  outcome,
  readLines,
  REQ57,
  RESP_FOO_LINES,
  run,
  server,
  stalledPeer,
  text
} from "./support/loopback.js"
import { ca, serverCert } from "./support/tls.js"

const big = new Uint8Array(32 * 1024 * 1024)

describe("TcpSocket.send", () => {
  it.live("TCP-SEND-001 returns the byte count", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(httpPeer())
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* socket.send(REQ57)).toBe(57)
    })))

  it.live("TCP-SEND-002 arrays of string fragments and integers", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(httpPeer())
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const n = yield* socket.send([
        "GET",
        " ",
        "/foo",
        " HTTP/",
        1,
        ".",
        0,
        "\r\n",
        "Host: localhost\r\n",
        "Connection: close\r\n",
        "\r\n"
      ])
      expect(n).toBe(57)
      expect(yield* readLines(socket)).toEqual([...RESP_FOO_LINES, "ERR closed []"])
      expect(peer.receivedText(0)).toBe(REQ57)
    })))

  it.live("TCP-SEND-003 / TCP-SEND-005 holes, null and objects in arrays are rejected, nothing sent", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const send = socket.send as (data: unknown) => Effect.Effect<number, CosocketError.SendError>
      // eslint-disable-next-line no-sparse-arrays
      const hole = ["GET", " ", "/foo", " HTTP/", , 1]
      const cases: Array<[unknown, string]> = [
        [hole, "bad data type nil found"],
        [["GET", undefined, 1], "bad data type nil found"],
        [["GET", null], "bad data type nil found"],
        [["GET", true], "bad data type boolean found"],
        [["GET", { a: 1 }], "bad data type object found"]
      ]
      for (const [data, message] of cases) {
        const error = yield* Effect.flip(send(data))
        expect([error._tag, error.message]).toEqual(["InvalidArgument", message])
        expect(CosocketError.delivery(error)).toBe("notSent")
      }
      yield* socket.send("end")
      yield* Effect.sleep(30)
      expect(peer.receivedText(0)).toBe("end")
    })))

  it.live("TCP-SEND-006 empty payloads return 0 and the next request works", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(httpPeer())
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* socket.send("")).toBe(0)
      expect(yield* socket.send([])).toBe(0)
      expect(yield* socket.send(new Uint8Array(0))).toBe(0)
      expect(yield* socket.send(REQ57)).toBe(57)
      expect((yield* readLines(socket))[0]).toBe("HTTP/1.1 200 OK")
    })))

  it.live("TCP-SEND-007 booleans send true/false (ours: null is rejected instead of sending nil)", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) =>
        onRequest(s, (request) => {
          const header = /Test: (.*)\r\n/.exec(request)?.[1] ?? ""
          s.end(`HTTP/1.1 200 OK\r\n\r\n${header}\n`)
        })
      )
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.send("GET /foo HTTP/1.0\r\nTest: ")
      yield* socket.send(true)
      yield* socket.send(false)
      const nil = yield* Effect.flip((socket.send as (d: unknown) => Effect.Effect<number, any>)(null))
      expect([nil._tag, nil.message]).toEqual([
        "InvalidArgument",
        "string, Uint8Array, number, boolean, or array expected, got null"
      ])
      yield* socket.send("\r\n\r\n")
      expect((yield* readLines(socket)).slice(2)).toEqual(["truefalse", "ERR closed []"])
    })))

  it.live("TCP-SEND-009 numbers: 14 significant digits, int32 as integers", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      // eslint-disable-next-line no-loss-of-precision -- the catalog's literal, as written in Lua
      expect(yield* socket.send(3.14159265357939723846)).toBe(15)
      expect(yield* socket.send(31415926)).toBe(8)
      yield* Effect.sleep(30)
      expect(peer.receivedText(0)).toBe("3.141592653579431415926")
    })))

  it.live("TCP-SEND-010 send after a failed connect is closed", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      yield* Effect.flip(socket.connect("unix:/nonexistent/cosocket.sock"))
      const error = yield* Effect.flip(socket.send("hello"))
      expect([error._tag, error.message]).toEqual(["SocketClosed", "closed"])
    })))

  it.live("TCP-SEND-011 send timeout on a write-stalled peer closes the write half", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(stalledPeer)
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.setTimeouts(0, 100, 0)
      const error = yield* Effect.flip(socket.send(big))
      expect([error._tag, error.message]).toEqual(["SocketTimeout", "timeout"])
      expect(CosocketError.delivery(error)).toBe("partial")
      expect(yield* outcome(socket.send("blah"))).toBe("ERR closed")
      // TCP-LIFE-003: the read half is still open, so close succeeds.
      expect(yield* outcome(socket.close)).toBe("undefined")
    })))

  it.live("TCP-SEND-013 the reader's EOF does not affect the writer", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.end())
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const writer = yield* Effect.forkChild(Effect.gen(function*() {
        for (const byte of "flush_all\r\n") {
          yield* socket.send(byte)
          yield* Effect.sleep(1)
        }
        return "request sent."
      }))
      expect(yield* outcome(socket.receive(1))).toBe("ERR closed []")
      expect(yield* Fiber.join(writer)).toBe("request sent.")
      expect(yield* outcome(socket.close)).toBe("undefined")
      yield* Effect.sleep(20)
      expect(peer.receivedText(0)).toBe("flush_all\r\n")
    })))

  it.live("TCP-SEND-014 nested arrays", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* socket.send(["a", ["b", ["c", 1]], "d"])).toBe(5)
      yield* Effect.sleep(30)
      expect(peer.receivedText(0)).toBe("abc1d")
    })))

  it.live("TCP-SEND-015 unsupported types are InvalidArgument", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const send = socket.send as (data: unknown) => Effect.Effect<number, CosocketError.SendError>
      const fn = yield* Effect.flip(send(() => {}))
      expect(fn.message).toBe("string, Uint8Array, number, boolean, or array expected, got function")
      const object = yield* Effect.flip(send({ a: 1 }))
      expect(object.message).toBe("string, Uint8Array, number, boolean, or array expected, got object")
    })))

  it.live("TCP-SEND-017 peer reset: connection reset by peer or broken pipe, then closed; close succeeds", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => setTimeout(() => s.resetAndDestroy(), 10))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* Effect.sleep(50)
      let error: CosocketError.SendError | undefined
      for (let i = 0; i < 1000 && error === undefined; i++) {
        const r = yield* Effect.result(socket.send("x"))
        if (Result.isFailure(r)) error = r.failure
        else yield* Effect.sleep(1)
      }
      expect(error?._tag).toBe("SocketIoError")
      expect(["connection reset by peer", "broken pipe"]).toContain(error?.message)
      expect(yield* outcome(socket.send("x"))).toBe("ERR closed")
      expect(yield* outcome(socket.close)).toBe("undefined")
    })))

  it.live("a large payload arrives byte-exact", () =>
    run(Effect.gen(function*() {
      const payload = new Uint8Array(4 * 1024 * 1024)
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 11)) & 255
      const peer = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* socket.send(payload)).toBe(payload.length)
      yield* socket.close
      yield* Effect.sleep(100)
      expect(Buffer.compare(Buffer.concat(peer.received[0]), Buffer.from(payload))).toBe(0)
    })))

  it.live("interrupting a blocked send closes the connection (nothing can follow partial bytes)", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(stalledPeer)
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const fiber = yield* Effect.forkChild(socket.send(big))
      yield* Effect.sleep(50)
      yield* Fiber.interrupt(fiber)
      expect(yield* outcome(socket.send("x"))).toBe("ERR closed")
      expect(yield* outcome(socket.close)).toBe("ERR closed")
    })))

  describe("sends the kernel cannot take at once complete in order, byte-exact", () => {
    const SENDS = 16
    const SIZE = 200_000 // below the piece size: one platform write each
    const byteAt = (i: number) => (i * 31 + (i >> 9)) & 255

    /**
     * A peer that reads nothing for 150 ms (so the sends back up), then checks every byte and
     * answers `ok` or where the first difference is.
     */
    const checkingPeer = (socket: Net.Socket) => {
      socket.pause()
      setTimeout(() => socket.resume(), 150)
      let seen = 0
      let bad = -1
      socket.on("data", (chunk: Buffer) => {
        for (let i = 0; i < chunk.length; i++, seen++) if (bad < 0 && chunk[i] !== byteAt(seen)) bad = seen
        if (seen === SENDS * SIZE) socket.write(bad < 0 ? "ok\n" : `bad at ${bad}\n`)
      })
      socket.on("error", () => {})
    }

    const listen = (make: () => Net.Server): Effect.Effect<number, never, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.callback<Net.Server>((resume) => {
          const srv = make()
          srv.listen(0, "127.0.0.1", () => resume(Effect.succeed(srv)))
        }),
        (srv) =>
          Effect.callback<void>((resume) => {
            srv.close(() => resume(Effect.void))
          })
      ).pipe(Effect.map((srv) => (srv.address() as Net.AddressInfo).port))

    const sendAll = (socket: TcpSocket.TcpSocket) =>
      Effect.gen(function*() {
        const counts: Array<number> = []
        for (let n = 0; n < SENDS; n++) {
          const payload = new Uint8Array(SIZE)
          for (let i = 0; i < SIZE; i++) payload[i] = byteAt(n * SIZE + i)
          counts.push(yield* socket.send(payload))
        }
        expect(counts).toEqual(Array.from({ length: SENDS }, () => SIZE))
        expect(text(yield* socket.receive())).toBe("ok")
      })

    it.live("over TCP", () =>
      run(Effect.gen(function*() {
        const port = yield* listen(() => Net.createServer(checkingPeer))
        const socket = yield* TcpSocket.connect("127.0.0.1", port)
        yield* sendAll(socket)
      })))

    it.live("over TLS", () =>
      run(Effect.gen(function*() {
        const port = yield* listen(() => Tls.createServer(serverCert, checkingPeer))
        const socket = yield* TcpSocket.connect("127.0.0.1", port, { tls: { ca } })
        yield* sendAll(socket)
      })))
  })
})
