/**
 * Effect 4 resumes a waiting fiber synchronously, inside whoever resumes it: a read inside the
 * socket's `'readable'` handler, a send inside Node's write callback. Whatever the resumed fiber
 * does next (read again, close, check the connection in, send again) then runs inside that
 * handler, so the engine must be consistent before it resumes. These tests do each of those
 * things at once after a wait, on real loopback sockets.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { ConnectionPool, TcpSocket } from "../src/index.js"
import { eventually, outcome, run, server } from "./support/loopback.js"

const later = (millis: number, f: () => void) => setTimeout(f, millis)

describe("a fiber resumed inside a Node callback acts at once", () => {
  it.live("a reader woken by 'readable' reads again at once: the rest of the chunk, then it waits again", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((socket) => {
        later(20, () => socket.write("a\r\nb\r\n"))
        later(60, () => socket.write("c\r\n"))
      })
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const first = yield* socket.receive() // waits: resumed inside 'readable'
      const second = yield* socket.receive() // buffered: completes inside the same handler
      const third = yield* socket.receive() // waits again, with the waker set anew
      expect([first, second, third].map(TcpSocket.text)).toEqual(["a", "b", "c"])
    })))

  it.live("a reader woken by 'readable' closes at once: the peer sees the close, later reads are closed", () =>
    run(Effect.gen(function*() {
      let peerSawEnd = false
      const peer = yield* server((socket) => {
        socket.on("end", () => peerSawEnd = true)
        later(20, () => socket.write("bye\r\nunread"))
      })
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      expect(TcpSocket.text(yield* socket.receive())).toBe("bye")
      yield* socket.close
      expect(yield* outcome(socket.receive())).toBe("ERR closed")
      expect(yield* outcome(socket.close)).toBe("ERR closed")
      yield* eventually(() => peerSawEnd)
      expect(peerSawEnd).toBe(true)
    })))

  it.live("a reader woken by 'readable' checks in at once: the next connect reuses it, the idle watcher sees the FIN", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((socket) => {
        socket.on("data", () => later(20, () => socket.write("+PONG\r\n")))
      })
      const key = `127.0.0.1:${peer.port}`
      const first = yield* TcpSocket.make
      yield* first.connect("127.0.0.1", peer.port)
      yield* first.send("PING\r\n")
      expect(TcpSocket.text(yield* first.receive())).toBe("+PONG")
      yield* first.setKeepalive()
      expect((yield* ConnectionPool.stats).get(key)?.idle).toBe(1)

      const second = yield* TcpSocket.make
      yield* second.connect("127.0.0.1", peer.port)
      expect(yield* second.getReusedTimes).toBe(1)
      yield* second.send("PING\r\n")
      expect(TcpSocket.text(yield* second.receive())).toBe("+PONG")
      yield* second.setKeepalive()
      const stats = (yield* ConnectionPool.stats).get(key)
      expect([stats?.idle, stats?.active, stats?.created, stats?.reused]).toEqual([1, 0, 1, 1])

      // The pool's idle watcher owns the transport's waker now: the peer's FIN evicts the connection.
      const evicted = Metric.value(
        ConnectionPool.metrics.evicted.pipe(Metric.withAttributes({ "pool.name": key, reason: "peerActivity" }))
      )
      peer.sockets[0]!.end()
      yield* eventually(() => peer.openCount() === 0)
      expect((yield* evicted).count).toBe(1)
      expect((yield* ConnectionPool.stats).get(key)).toBeUndefined()
      expect(peer.sockets.length).toBe(1)
    })))

  it.live("a writer woken by its send's completion sends again at once: the peer gets every byte in order", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const bulk = new Uint8Array(4 * 1024 * 1024).fill(0x61)
      expect(yield* socket.send(bulk)).toBe(bulk.length) // waits: resumed inside Node's write callback
      expect(yield* socket.send("tail")).toBe(4)
      expect(yield* socket.send(["!", "\n"])).toBe(2)
      yield* eventually(() => peer.receivedText(0).length === bulk.length + 6)
      const received = peer.receivedText(0)
      expect(received.length).toBe(bulk.length + 6)
      expect(received.slice(-6)).toBe("tail!\n")
      expect(received.indexOf("t")).toBe(bulk.length)
    })))
})
