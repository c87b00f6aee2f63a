/**
 * Catalog groups TCP-RECV and TCP-ANY on real loopback sockets.
 *
 * Not applicable: TCP-RECV-018 (LuaSocket's third `prefix` argument): the typed signature has no
 * such parameter.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Net from "node:net"
import { TcpSocket } from "../src/index.js"
import {
  bodyPeer,
  httpPeer,
  memcachedPeer,
  onRequest,
  outcome,
  readLines,
  REQ57,
  RESP_FOO,
  RESP_FOO_LINES,
  run,
  server
} from "./support/loopback.js"

const connected = (peer: { readonly port: number }) =>
  Effect.gen(function*() {
    const socket = yield* TcpSocket.make
    yield* socket.connect("127.0.0.1", peer.port)
    return socket
  })

/** Chunked HTTP: header block, `2\r\nhi\r\n`, 200 ms pause, `5\r\nworld\r\n0\r\n\r\n`. */
const chunkedPausePeer = (socket: Net.Socket) =>
  onRequest(socket, () => {
    socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n")
    setTimeout(() => socket.end("5\r\nworld\r\n0\r\n\r\n"), 200)
  })

const sizedChunks = (socket: TcpSocket.TcpSocket, size: number | string) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    for (let i = 0; i < 100; i++) {
      const r = yield* outcome(socket.receive(size as number))
      out.push(r)
      if (r.startsWith("ERR")) break
    }
    return out
  })

const RECV_005 = [
  "HTTP/1.1 2",
  "00 OK\r\nSer",
  "ver: nginx",
  "\r\nContent-",
  "Type: text",
  "/plain\r\nCo",
  "ntent-Leng",
  "th: 4\r\nCon",
  "nection: c",
  "lose\r\n\r\nfo",
  "ERR closed [o\n]"
]

describe("TcpSocket.receive", () => {
  it.live("TCP-RECV-001 lines with CRLF stripped, blank separator line, then closed with empty partial", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(httpPeer()))
      yield* socket.send(REQ57)
      expect(yield* readLines(socket)).toEqual([...RESP_FOO_LINES, "ERR closed []"])
    })))

  it.live("TCP-RECV-001 explicit *l pattern", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(httpPeer()))
      yield* socket.send(REQ57)
      const lines: Array<string> = []
      for (let i = 0; i < 8; i++) lines.push(yield* outcome(socket.receive("*l")))
      expect(lines).toEqual([...RESP_FOO_LINES, "ERR closed []"])
    })))

  it.live("TCP-RECV-002 no trailing newline: the last bytes are the partial; close succeeds", () =>
    run(Effect.gen(function*() {
      const response = RESP_FOO.replace("Content-Length: 4", "Content-Length: 3").replace("foo\n", "foo")
      const socket = yield* connected(yield* server(httpPeer(response)))
      yield* socket.send(REQ57)
      expect((yield* readLines(socket)).slice(-2)).toEqual(["", "ERR closed [foo]"])
      expect(yield* outcome(socket.close)).toBe("undefined")
    })))

  it.live("TCP-RECV-003 *a returns the whole 102-byte response; close succeeds", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(httpPeer()))
      yield* socket.send(REQ57)
      const all = yield* socket.receive("*a")
      expect(all.length).toBe(102)
      expect(TcpSocket.text(all)).toBe(RESP_FOO)
      expect(yield* outcome(socket.close)).toBe("undefined")
    })))

  it.live("TCP-RECV-005 receive(10) chunks, then closed with the rest as partial", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(httpPeer()))
      yield* socket.send(REQ57)
      expect(yield* sizedChunks(socket, 10)).toEqual(RECV_005)
    })))

  it.live("TCP-RECV-006 one byte per segment: identical chunks and lines", () =>
    run(Effect.gen(function*() {
      const body = "foo\n"
      const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`
      const chunks = yield* connected(yield* server(bodyPeer(body, true)))
      yield* chunks.send(REQ57)
      const expected: Array<string> = []
      const all = head + body
      for (let i = 0; i + 10 <= all.length; i += 10) expected.push(all.slice(i, i + 10))
      expected.push(`ERR closed [${all.slice(all.length - (all.length % 10))}]`)
      expect(yield* sizedChunks(chunks, 10)).toEqual(expected)
      const lines = yield* connected(yield* server(bodyPeer(body, true)))
      yield* lines.send(REQ57)
      expect(yield* readLines(lines)).toEqual(["HTTP/1.1 200 OK", "Content-Length: 4", "", "foo", "ERR closed []"])
    })))

  it.live("TCP-RECV-007 stringified size", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(httpPeer()))
      yield* socket.send(REQ57)
      expect(yield* sizedChunks(socket, "10")).toEqual(RECV_005)
    })))

  it.live("TCP-RECV-009 every CR in a line is dropped", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(bodyPeer("foo\r\rbar\rbaz\n")))
      yield* socket.send(REQ57)
      expect((yield* readLines(socket)).slice(-2)).toEqual(["foobarbaz", "ERR closed []"])
      expect(yield* outcome(socket.close)).toBe("undefined")
    })))

  it.live("TCP-RECV-010 read timeouts are recoverable: twice timeout, socket still usable", () =>
    run(
      Effect.gen(function*() {
        const socket = yield* connected(yield* server(memcachedPeer))
        const first = yield* Effect.flip(socket.receive())
        expect([first._tag, first.message]).toEqual(["SocketReadTimeout", "timeout"])
        expect(yield* outcome(socket.receive())).toBe("ERR timeout []")
        yield* socket.send("flush_all\r\n")
        expect(yield* outcome(socket.receive())).toBe("OK")
      }),
      { readTimeout: 100 }
    ))

  it.live("TCP-RECV-011 / TCP-UNTIL-027 partial data of a timed-out read is consumed, not re-delivered", () =>
    run(Effect.gen(function*() {
      for (const first of ["receive", "until"] as const) {
        for (const then of ["receive", "until"] as const) {
          const socket = yield* connected(yield* server(chunkedPausePeer))
          yield* socket.send(REQ57)
          yield* (yield* socket.receiveUntil("\r\n\r\n")).read
          yield* socket.setTimeout(100)
          const timedOut = first === "receive"
            ? yield* outcome(socket.receive(100))
            : yield* outcome((yield* socket.receiveUntil("no-such-terminator")).read)
          expect(timedOut).toBe("ERR timeout [2\r\nhi\r\n]")
          yield* socket.setTimeout(123)
          yield* Effect.sleep(100)
          const reader = yield* socket.receiveUntil("\r\n")
          const line = then === "receive" ? socket.receive() : reader.read
          expect(yield* outcome(line)).toBe("5")
          expect(yield* outcome(line)).toBe("world")
        }
      }
    })))

  it.live("TCP-RECV-013 a 2 ms read timeout before a delayed response: empty partial", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server((s) => onRequest(s, () => setTimeout(() => s.write(RESP_FOO), 50))))
      yield* socket.setTimeouts(150, 150, 2)
      yield* socket.send(REQ57)
      expect(yield* outcome(socket.receive())).toBe("ERR timeout []")
    })))

  it.live("TCP-RECV-014 a socket whose scope ended: closed without partial", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(httpPeer())
      const socket = yield* Effect.scoped(connected(peer))
      const error = yield* Effect.flip(socket.receive())
      expect(error._tag).toBe("SocketClosed")
      expect((error as { partial?: Uint8Array }).partial).toBeUndefined()
    })))

  it.live("TCP-RECV-015 receiveUntil then *a", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(
        yield* server((s) =>
          onRequest(s, () => s.end("HTTP/1.1 200 OK\r\n\r\n6\r\nfoofoo\r\n6\r\nbarbar\r\n0\r\n\r\n"))
        )
      )
      yield* socket.send(REQ57)
      const reader = yield* socket.receiveUntil("foofoo\r\n")
      expect(TcpSocket.text(yield* reader.read)).toBe("HTTP/1.1 200 OK\r\n\r\n6\r\n")
      expect(TcpSocket.text(yield* socket.receive("*a"))).toBe("6\r\nbarbar\r\n0\r\n\r\n")
      expect(yield* outcome(socket.close)).toBe("undefined")
    })))

  it.live("TCP-RECV-017 bad patterns are InvalidArgument (ours: checked before the socket state)", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const receive = socket.receive as (p: unknown) => Effect.Effect<Uint8Array, any>
      const cases: Array<[unknown, string]> = [
        ["abc", "bad pattern argument: abc"],
        ["*x", "bad pattern argument"],
        ["*L", "bad pattern argument"],
        [-1, "bad number argument"],
        [true, "bad argument"],
        [null, "bad argument"]
      ]
      for (const [pattern, message] of cases) {
        const error = yield* Effect.flip(receive(pattern))
        expect([error._tag, error.message]).toEqual(["InvalidArgument", message])
      }
      // A valid pattern on a never-connected socket is closed.
      expect(yield* outcome(socket.receive())).toBe("ERR closed")
    })))

  it.live("TCP-RECV-019 *a after EOF returns empty again; a line read then fails; then closed", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server((s) => s.end("abc")))
      expect(yield* outcome(socket.receive("*a"))).toBe("abc")
      expect(yield* outcome(socket.receive("*a"))).toBe("")
      expect(yield* outcome(socket.receive())).toBe("ERR closed []")
      expect(yield* outcome(socket.receive("*a"))).toBe("ERR closed")
    })))

  it.live("TCP-RECV-021 buffered data is delivered before EOF is reported", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server((s) => s.end("a\nb\ncd")))
      yield* Effect.sleep(30)
      expect(yield* outcome(socket.receive())).toBe("a")
      expect(yield* outcome(socket.receive())).toBe("b")
      expect(yield* outcome(socket.receive(5))).toBe("ERR closed [cd]")
    })))

  it.live("TCP-RECV-022 sizes are truncated to integers", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server((s) => s.write("abcdef")))
      expect(yield* outcome(socket.receive(2.9))).toBe("ab")
      expect(yield* outcome(socket.receive("3" as unknown as number))).toBe("cde")
    })))

  it.live("TCP-RECV-023 20,000 echo round trips of 5 bytes each return exactly hello", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server((s) => s.pipe(s)))
      let ok = 0
      for (let i = 0; i < 20_000; i++) {
        yield* socket.send("hello")
        if (TcpSocket.text(yield* socket.receive(5)) === "hello") ok++
      }
      expect(ok).toBe(20_000)
    })))

  it.live("a socket nobody reads stops taking bytes (TCP backpressure); a later read gets every byte in order", () =>
    run(Effect.gen(function*() {
      const total = 48 * 1024 * 1024
      const payload = Buffer.alloc(total)
      for (let i = 0; i < total; i += 4) payload.writeUInt32BE(i, i)
      let writer: Net.Socket | undefined
      const socket = yield* connected(
        yield* server((s) => {
          writer = s
          s.write(payload)
        })
      )
      yield* Effect.sleep("300 millis")
      // Neither the client nor the kernel buffers took everything: the peer's write is still queued.
      expect(writer!.writableLength).toBeGreaterThan(0)
      const got = yield* socket.receive(total)
      expect(got.length).toBe(total)
      expect(Buffer.from(got.buffer, got.byteOffset, got.length).equals(payload)).toBe(true)
    })))

  it.live("receive(0) returns empty at once without reading (even when nothing ever arrives)", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(() => {}))
      expect(yield* outcome(socket.receive(0))).toBe("")
    })))

  it.live("maxLineLength: a longer line fails with ReceiveLimitExceeded and marks the connection dirty", () =>
    run(
      Effect.gen(function*() {
        const socket = yield* connected(yield* server((s) => s.write("short\n" + "x".repeat(100) + "\n")))
        expect(yield* outcome(socket.receive())).toBe("short")
        const error = yield* Effect.flip(socket.receive())
        expect([error._tag, error.message]).toEqual([
          "ReceiveLimitExceeded",
          "receive limit exceeded: maxLineLength 16"
        ])
        const keepalive = yield* Effect.flip(socket.setKeepalive())
        expect(keepalive._tag).toBe("UnreadDataInBuffer")
      }),
      { maxLineLength: 16 }
    ))

  it.live("maxReceiveSize bounds *a", () =>
    run(
      Effect.gen(function*() {
        const socket = yield* connected(yield* server((s) => s.end("y".repeat(1000))))
        const error = yield* Effect.flip(socket.receive("*a"))
        expect(error.message).toBe("receive limit exceeded: maxReceiveSize 100")
      }),
      { maxReceiveSize: 100 }
    ))
})

describe("TcpSocket.receiveAny", () => {
  const partsPeer = (parts: ReadonlyArray<string>) => (socket: Net.Socket) =>
    onRequest(socket, () => {
      socket.setNoDelay(true)
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n")
      let i = 0
      const next = () => {
        if (i >= parts.length) return void socket.end()
        socket.write(parts[i++])
        setTimeout(next, 20)
      }
      setTimeout(next, 20)
    })

  const skipHeaders = (socket: TcpSocket.TcpSocket) =>
    Effect.gen(function*() {
      while ((yield* socket.receive()).length > 0) {
        // header line
      }
    })

  const loopAny = (socket: TcpSocket.TcpSocket, max: number) =>
    Effect.gen(function*() {
      const out: Array<string> = []
      for (let i = 0; i < 50; i++) {
        const r = yield* outcome(socket.receiveAny(max))
        out.push(r)
        if (r.startsWith("ERR")) break
      }
      return out
    })

  it.live("TCP-ANY-001 returns each arrival as it comes", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(partsPeer(["1", "22", "hello world"])))
      yield* socket.send(REQ57)
      yield* skipHeaders(socket)
      expect(yield* loopAny(socket, 1024)).toEqual(["1", "22", "hello world", "ERR closed []"])
    })))

  it.live("TCP-ANY-002 max larger than the data", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(partsPeer(["hello world"])))
      yield* socket.send(REQ57)
      yield* skipHeaders(socket)
      expect(yield* outcome(socket.receiveAny(128))).toBe("hello world")
    })))

  it.live("TCP-ANY-003 max smaller than the data", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(partsPeer(["hello world"])))
      yield* socket.send(REQ57)
      yield* skipHeaders(socket)
      expect(yield* loopAny(socket, 7)).toEqual(["hello w", "orld", "ERR closed []"])
    })))

  it.live("TCP-ANY-005 a slow network: one byte per arrival, receiveAny never waits to fill max", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(partsPeer(["1", "h", "e", "l", "l", "o"])))
      yield* socket.send(REQ57)
      yield* skipHeaders(socket)
      expect(yield* loopAny(socket, 1024)).toEqual(["1", "h", "e", "l", "l", "o", "ERR closed []"])
    })))

  it.live("TCP-ANY-006 keep-alive server closing after its 3rd response: a closed connection is never reused", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => {
        let served = 0
        let pending = ""
        s.on("data", (chunk) => {
          pending += chunk.toString("latin1")
          while (pending.includes("\r\n\r\n")) {
            pending = pending.slice(pending.indexOf("\r\n\r\n") + 4)
            served++
            s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nHello\n\r\n0\r\n\r\n")
            if (served === 3) s.end()
          }
        })
      })
      const results: Array<string> = []
      for (let i = 0; i < 10; i++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const socket = yield* connected(peer)
          const reused = yield* socket.getReusedTimes
          yield* socket.send("GET /hi HTTP/1.1\r\nHost: localhost\r\n\r\n")
          const status = TcpSocket.text(yield* socket.receive())
          yield* Effect.sleep(10)
          yield* socket.receiveAny(4096)
          const keepalive = yield* outcome(socket.setKeepalive(10_000))
          results.push(`${reused} ${status} ${keepalive}`)
        }))
      }
      // Every request got its response: no dead pooled connection was handed out.
      expect(results.every((r) => r.includes("HTTP/1.1 200 OK"))).toBe(true)
      // Each server connection serves 3 requests; the 3rd setKeepalive sees the FIN.
      expect(results.slice(0, 4)).toEqual([
        "0 HTTP/1.1 200 OK undefined",
        "1 HTTP/1.1 200 OK undefined",
        "2 HTTP/1.1 200 OK ERR closed",
        "0 HTTP/1.1 200 OK undefined"
      ])
      expect(peer.sockets.length).toBe(4)
    })))

  it.live("TCP-ANY-007 buffered data first, without waiting", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server((s) => s.write("line1\nrest")))
      yield* Effect.sleep(30)
      expect(yield* outcome(socket.receive())).toBe("line1")
      expect(yield* outcome(socket.receiveAny(100))).toBe("rest")
    })))

  it.live("receiveAny rejects a max below 1", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      for (const max of [0, -1, Number.NaN]) {
        const error = yield* Effect.flip(socket.receiveAny(max))
        expect([error._tag, error.message]).toEqual(["InvalidArgument", "bad max argument"])
      }
    })))

  it.live("an interrupted read consumes nothing and marks the connection dirty", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.write("ab"))
      const socket = yield* connected(peer)
      yield* Effect.sleep(30)
      const fiber = yield* Effect.forkChild(socket.receive(5))
      yield* Effect.sleep(30)
      yield* Fiber.interrupt(fiber)
      peer.sockets[0].write("cde")
      expect(yield* outcome(socket.receive(5))).toBe("abcde")
      const error = yield* Effect.flip(socket.setKeepalive())
      expect([error._tag, error.message]).toEqual(["DirtyConnection", "dirty connection"])
    })))
})
