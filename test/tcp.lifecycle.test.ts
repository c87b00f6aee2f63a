/**
 * Catalog groups TCP-TO, TCP-LIFE, TCP-BUSY, TCP-OPT and BAD on real loopback sockets.
 *
 * Not applicable on Node, by id:
 * - TCP-TO-015, BAD-001, BAD-002, BAD-003, BAD-005, BAD-007, BAD-009, BAD-010, BAD-011, BAD-014:
 *   Lua argument counts and `self` misuse; the TypeScript signatures rule them out.
 * - LOG-001, LOG-002, LOG-003 (`lua_socket_log_errors`): the library logs nothing; every failure
 *   is a typed value carrying what OpenResty would log (e.g. `ConnectError.address`), and results
 *   never depend on logging.
 * - BAD-006 (nginx phases where cosockets are disabled): every fiber may use a socket.
 * - TCP-LIFE-006 ("bad request" from another request): a socket belongs to its Scope; use after
 *   the scope is TCP-LIFE-005 below.
 * - TCP-OPT-010 (getfd): Node has no stable public fd accessor.
 * - TCP-BUSY-007 (sslhandshake while reading) belongs to the TLS issue.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Net from "node:net"
import { ConnectionPool, CosocketConfig, TcpSocket } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"
import { ScriptedPeer } from "../src/testing/index.js"
import {
  eventually,
  httpPeer,
  memcachedPeer,
  onRequest,
  outcome,
  readLines,
  REQ57,
  run,
  server,
  stalledPeer
} from "./support/loopback.js"

const big = new Uint8Array(32 * 1024 * 1024)

const connected = (peer: { readonly port: number }) =>
  Effect.gen(function*() {
    const socket = yield* TcpSocket.make
    yield* socket.connect("127.0.0.1", peer.port)
    return socket
  })

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = Date.now()
    const result = yield* effect
    return [result, Date.now() - start] as const
  })

describe("timeouts (TCP-TO)", () => {
  it.live("TCP-TO-001 / TCP-TO-002 the configured connect timeout, and setTimeout overriding it", () =>
    run(
      Effect.gen(function*() {
        const hole = yield* ScriptedPeer.blackhole
        const a = yield* TcpSocket.make
        const [e1, t1] = yield* elapsed(Effect.flip(a.connect(hole.host, hole.port)))
        expect(e1.message).toBe("timeout")
        expect(t1).toBeGreaterThanOrEqual(95)
        const b = yield* TcpSocket.make
        yield* b.setTimeout(150)
        const [e2, t2] = yield* elapsed(Effect.flip(b.connect(hole.host, hole.port)))
        expect(e2.message).toBe("timeout")
        expect(t2).toBeGreaterThanOrEqual(145)
      }),
      { connectTimeout: 100 }
    ))

  it.live("TCP-TO-005 timeout bounds: 2^31-1 ms accepted, 2^31 ms and negatives are bad timeout value", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      yield* socket.setTimeout(2 ** 31 - 1)
      yield* socket.setTimeouts(2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1)
      for (const bad of [2 ** 31, -1]) {
        const e = yield* Effect.flip(socket.setTimeout(bad))
        expect([e._tag, e.message]).toEqual(["InvalidArgument", "bad timeout value"])
        for (const position of [0, 1, 2]) {
          const args = [1, 1, 1]
          args[position] = bad
          const e2 = yield* Effect.flip(socket.setTimeouts(args[0], args[1], args[2]))
          expect(e2.message).toBe("bad timeout value")
        }
      }
      yield* socket.setTimeout(Duration.infinity)
    })))

  it.live("TCP-TO-006 read timeout: configured, overridden, and 0 meaning the configured one", () =>
    run(
      Effect.gen(function*() {
        const peer = yield* server(memcachedPeer)
        for (const [set, atLeast] of [[undefined, 95], [150, 145], [0, 95]] as const) {
          const socket = yield* connected(peer)
          if (set !== undefined) yield* socket.setTimeout(set)
          const [e, t] = yield* elapsed(Effect.flip(socket.receive()))
          expect([e._tag, e.message]).toEqual(["SocketReadTimeout", "timeout"])
          expect(t).toBeGreaterThanOrEqual(atLeast)
        }
      }),
      { readTimeout: 100 }
    ))

  it.live("TCP-TO-007 send timeout: configured, overridden, 0", () =>
    run(
      Effect.gen(function*() {
        const peer = yield* server(stalledPeer)
        for (const set of [undefined, 100, 0]) {
          const socket = yield* connected(peer)
          if (set !== undefined) yield* socket.setTimeout(set)
          const e = yield* Effect.flip(socket.send(big))
          expect([e._tag, e.message]).toEqual(["SocketTimeout", "timeout"])
        }
      }),
      { sendTimeout: 100 }
    ))

  it.live("TCP-TO-009 send ok in 8-byte pieces; a peer that stalls on the body times the send out", () =>
    run(Effect.gen(function*() {
      const ok = yield* server((s) => {
        let all = ""
        s.on("data", (chunk) => {
          all += chunk.toString("latin1")
          const head = all.indexOf("\r\n\r\n")
          const body = head < 0 ? 0 : all.length - head - 4
          if (body >= 80) s.end(`received: got len: ${body}\n`)
        })
      })
      const socket = yield* connected(ok)
      yield* socket.setTimeouts(500, 500, 500)
      yield* socket.send("POST /back HTTP/1.1\r\nContent-Length: 80\r\n\r\n")
      for (let i = 0; i < 10; i++) yield* socket.send("12345678")
      expect(yield* outcome(socket.receive())).toBe("received: got len: 80")
      const stalled = yield* server((s) => onRequest(s, () => s.pause()))
      const other = yield* connected(stalled)
      yield* other.setTimeouts(500, 200, 500)
      yield* other.send("POST /back HTTP/1.1\r\nContent-Length: 33554432\r\n\r\n")
      yield* Effect.sleep(50)
      expect(yield* outcome(other.send(big))).toBe("ERR timeout")
    })))

  it.live("TCP-TO-010 timeouts belong to the socket: the writer's setTimeout applies to the reader", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => {
        s.setNoDelay(true)
        let i = 0
        const next = () => {
          if (i++ < 3) {
            s.write("piec")
            setTimeout(next, 120)
          }
        }
        next()
      })
      // TEST 7 variant: read timeout 200 ms, pieces every 120 ms: the reader never times out.
      const a = yield* connected(peer)
      yield* a.setTimeouts(0, 100, 200)
      const writer = yield* Effect.forkChild(a.send("ok\n"))
      expect(yield* outcome(a.receive(12))).toBe("piecpiecpiec")
      yield* Fiber.join(writer)
      // TEST 6 variant: another fiber's setTimeout(100) replaces the read timeout too.
      const b = yield* connected(peer)
      yield* b.setTimeouts(0, 100, 200)
      const reader = yield* Effect.forkChild(outcome(b.receive(12)))
      yield* b.setTimeout(100)
      expect(yield* Fiber.join(reader)).toBe("ERR timeout [piec]")
    })))

  it.live("TCP-TO-011 read timeouts do not affect writing", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(memcachedPeer))
      yield* socket.setTimeout(1)
      const writer = yield* Effect.forkChild(Effect.gen(function*() {
        for (const byte of "flush_all\r\n") {
          yield* socket.send(byte)
          yield* Effect.sleep(1)
        }
      }))
      let timeouts = 0
      let received = ""
      for (let i = 0; i < 300 && received === ""; i++) {
        const r = yield* outcome(socket.receive())
        if (r.startsWith("ERR timeout")) timeouts++
        else received = r
      }
      yield* Fiber.join(writer)
      expect(timeouts).toBeGreaterThan(0)
      expect(received).toBe("OK")
      expect(yield* outcome(socket.close)).toBe("undefined")
    })))

  it.live("TCP-TO-013 setTimeout applies to an existing connection", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(() => {}))
      yield* socket.setTimeout(50)
      const [e, t] = yield* elapsed(Effect.flip(socket.receive()))
      expect(e.message).toBe("timeout")
      expect(t).toBeLessThan(5_000)
    })))

  it.live("TCP-TO-014 an inactivity timer, not a deadline: a byte every 30 ms under a 150 ms read timeout", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(
        yield* server((s) => {
          s.setNoDelay(true)
          let i = 0
          const timer = setInterval(() => {
            s.write("x")
            if (++i === 20) clearInterval(timer)
          }, 30)
          s.on("close", () => clearInterval(timer))
        })
      )
      yield* socket.setTimeout(150)
      const [data, t] = yield* elapsed(socket.receive(20))
      expect(data.length).toBe(20)
      expect(t).toBeGreaterThan(150)
    })))
})

describe("lifetime (TCP-LIFE)", () => {
  it.live("TCP-LIFE-001 close twice", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(() => {}))
      expect(yield* outcome(socket.close)).toBe("undefined")
      expect(yield* outcome(socket.close)).toBe("ERR closed")
    })))

  it.live("TCP-LIFE-002 a never-connected socket: everything is closed", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      expect(yield* outcome(socket.close)).toBe("ERR closed")
      expect(yield* outcome(socket.getReusedTimes)).toBe("ERR closed")
      expect(yield* outcome(socket.setKeepalive())).toBe("ERR closed")
      expect(yield* outcome(socket.send("x"))).toBe("ERR closed")
      expect(yield* outcome(socket.receive())).toBe("ERR closed")
    })))

  it.live("TCP-LIFE-003 close after a read EOF and after a send timeout returns ok (one half still open)", () =>
    run(Effect.gen(function*() {
      const a = yield* connected(yield* server(httpPeer()))
      yield* a.send(REQ57)
      expect((yield* readLines(a)).at(-1)).toBe("ERR closed []")
      expect(yield* outcome(a.close)).toBe("undefined")
      const b = yield* connected(yield* server(stalledPeer))
      yield* b.setTimeout(100)
      expect(yield* outcome(b.send(big))).toBe("ERR timeout")
      expect(yield* outcome(b.close)).toBe("undefined")
    })))

  it.live("TCP-LIFE-005 the scope's end closes the connection; later calls are closed", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(memcachedPeer)
      const socket = yield* Effect.scoped(connected(peer))
      yield* eventually(() => peer.sockets.length === 1 && peer.sockets[0].readableEnded)
      expect(yield* outcome(socket.send("flush_all\r\n"))).toBe("ERR closed")
      expect(yield* outcome(socket.close)).toBe("ERR closed")
    })))

  it.live("TCP-LIFE-007 one object, two rounds of connect / request / read / close", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(httpPeer())
      const socket = yield* TcpSocket.make
      for (let i = 0; i < 2; i++) {
        yield* socket.connect("127.0.0.1", peer.port)
        expect(yield* socket.send(REQ57)).toBe(57)
        expect((yield* readLines(socket)).at(-1)).toBe("ERR closed []")
        expect(yield* outcome(socket.close)).toBe("undefined")
      }
    })))

  it.live("TCP-LIFE-009 / TCP-LIFE-010 interrupting a connecting fiber closes the socket", () =>
    run(Effect.gen(function*() {
      const hole = yield* ScriptedPeer.blackhole
      const peer = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.close
      const fiber = yield* Effect.forkChild(socket.connect(hole.host, hole.port))
      yield* Effect.sleep(20)
      yield* Fiber.interrupt(fiber)
      expect(yield* outcome(socket.setKeepalive())).toBe("ERR closed")
      // The object is usable again.
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* socket.getReusedTimes).toBe(0)
    })))

  it.live("TCP-LIFE-011 the scope ends while a send is blocked: it ends promptly", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(stalledPeer)
      const [, t] = yield* elapsed(Effect.scoped(Effect.gen(function*() {
        const socket = yield* connected(peer)
        yield* socket.setTimeout(12_000)
        yield* Effect.forkChild(socket.send(big))
        yield* Effect.sleep(50)
      })))
      expect(t).toBeLessThan(5_000)
    })))

  it.live("TCP-LIFE-013 fibers blocked in a read wake with closed when the scope closes", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const result = yield* Deferred.make<string>()
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* connected(peer)
        yield* Effect.forkDetach(Effect.flatMap(outcome(socket.receive()), (r) => Deferred.succeed(result, r)))
        yield* Effect.sleep(30)
      }))
      expect(yield* Deferred.await(result)).toBe("ERR closed")
    })))

  it.live("TCP-LIFE-014 one fiber reads a line then sleeps; another reads the rest and closes", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(httpPeer()))
      yield* socket.send(REQ57)
      const first = yield* Effect.forkChild(Effect.tap(socket.receive(), Effect.sleep(1000)))
      yield* Effect.sleep(100)
      const rest = yield* readLines(socket)
      expect(rest.at(-1)).toBe("ERR closed []")
      expect(yield* outcome(socket.close)).toBe("undefined")
      yield* Fiber.interrupt(first)
    })))
})

describe("busy rules (TCP-BUSY)", () => {
  it.live("TCP-BUSY-001 while writing: send/close/setKeepalive/connect busy writing, getReusedTimes 0, reads allowed", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(stalledPeer)
      const socket = yield* connected(peer)
      yield* socket.setTimeout(300)
      const main = yield* Effect.forkChild(outcome(socket.send(big)))
      yield* Effect.sleep(30)
      expect(yield* outcome(socket.send("flush_all"))).toBe("ERR socket busy writing")
      expect(yield* outcome(socket.close)).toBe("ERR socket busy writing")
      expect(yield* outcome(socket.getReusedTimes)).toBe("0")
      expect(yield* outcome(socket.setKeepalive())).toBe("ERR socket busy writing")
      expect(yield* outcome(socket.connect("127.0.0.1", peer.port))).toBe("ERR socket busy writing")
      yield* socket.setTimeout(1)
      expect(yield* outcome(socket.receive(1))).toBe("ERR timeout []")
      expect(yield* Fiber.join(main)).toBe("ERR timeout")
      expect(yield* outcome(socket.close)).toBe("undefined")
    })))

  it.live("TCP-BUSY-002 / TCP-BUSY-003 while connecting (also resolving): busy connecting, getReusedTimes 0", () =>
    run(Effect.gen(function*() {
      const hole = yield* ScriptedPeer.blackhole
      const socket = yield* TcpSocket.make
      yield* socket.setTimeout(300)
      const main = yield* Effect.forkChild(outcome(socket.connect(hole.host, hole.port)))
      yield* Effect.sleep(20)
      expect(yield* outcome(socket.receive(1))).toBe("ERR socket busy connecting")
      expect(yield* outcome(socket.send("hello"))).toBe("ERR socket busy connecting")
      expect(yield* outcome(socket.close)).toBe("ERR socket busy connecting")
      expect(yield* outcome(socket.getReusedTimes)).toBe("0")
      expect(yield* outcome(socket.setKeepalive())).toBe("ERR socket busy connecting")
      expect(yield* outcome(socket.connect(hole.host, hole.port))).toBe("ERR socket busy connecting")
      expect(yield* Fiber.join(main)).toBe("ERR timeout")
      expect(yield* outcome(socket.close)).toBe("ERR closed")
    })))

  it.live("TCP-BUSY-003 (ours) during name resolution the socket is connecting, not closed", () =>
    Effect.gen(function*() {
      const slow = ((_h: string, options: { all?: boolean }, callback: (...args: Array<unknown>) => void) =>
        setTimeout(
          () =>
            options.all === true
              ? callback(null, [{ address: "127.0.0.1", family: 4 }])
              : callback(null, "127.0.0.1", 4),
          100
        )) as unknown as Net.LookupFunction
      const peer = yield* server(() => {})
      const out = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.make
        const main = yield* Effect.forkChild(socket.connect("some2.agentzh.org", peer.port))
        yield* Effect.sleep(20)
        const during = yield* Effect.all([
          outcome(socket.receive()),
          outcome(socket.send("x")),
          outcome(socket.close),
          outcome(socket.getReusedTimes),
          outcome(socket.setKeepalive()),
          outcome(socket.connect("127.0.0.1", peer.port))
        ])
        yield* Fiber.join(main)
        return during
      })).pipe(Effect.provide(Layer.merge(NodeCosocket.tcpConnectorWith({ lookup: slow }), ConnectionPool.layer())))
      expect(out).toEqual([
        "ERR socket busy connecting",
        "ERR socket busy connecting",
        "ERR socket busy connecting",
        "0",
        "ERR socket busy connecting",
        "ERR socket busy connecting"
      ])
    }).pipe(Effect.scoped, Effect.orDie))

  it.live("TCP-BUSY-005 writes are rejected while reads are not; a second reader is busy and consumes nothing", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => onRequest(s, () => s.write("OK!"), "\r\n"))
      const socket = yield* connected(peer)
      const writer = yield* Effect.forkChild(Effect.gen(function*() {
        for (const byte of "flush_all\r\n") {
          yield* socket.send(byte)
          yield* Effect.sleep(2)
        }
      }))
      const started = yield* Deferred.make<void>()
      const reader = yield* Effect.forkChild(Effect.andThen(Deferred.succeed(started, undefined), socket.receive(3)))
      yield* Deferred.await(started)
      // Effect 4 resumes this fiber synchronously inside the reader's Deferred.succeed (Effect 3
      // queued it): yield once so the reader gets into its receive(3) before the second read.
      yield* Effect.yieldNow
      const second = yield* Effect.flip(socket.receive(1))
      expect([second._tag, second.message]).toEqual(["SocketBusyReading", "socket busy reading"])
      expect(TcpSocket.text(yield* Fiber.join(reader))).toBe("OK!")
      yield* Fiber.join(writer)
      expect(yield* outcome(socket.close)).toBe("undefined")
    })))

  it.live("TCP-BUSY-006 two writers: the second is busy writing, the first unaffected", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(stalledPeer)
      const socket = yield* connected(peer)
      yield* socket.setTimeout(200)
      const a = yield* Effect.forkChild(outcome(socket.send(big)))
      yield* Effect.sleep(20)
      expect(yield* outcome(socket.send("x"))).toBe("ERR socket busy writing")
      expect(yield* Fiber.join(a)).toBe("ERR timeout")
    })))

  it.live("full duplex: one reader fiber and one writer fiber at once", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server((s) => s.pipe(s)))
      const payload = "0123456789".repeat(100_000)
      const reader = yield* Effect.forkChild(socket.receive(payload.length))
      yield* socket.send(payload)
      expect(TcpSocket.text(yield* Fiber.join(reader))).toBe(payload)
    })))
})

describe("socket options (TCP-OPT) and misuse (BAD)", () => {
  it.live("TCP-OPT-001 missing option or value", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(() => {}))
      const setOption = socket.setOption as (o?: unknown, v?: unknown) => Effect.Effect<void, any>
      expect(yield* outcome(setOption())).toBe(`ERR missing the "option" argument`)
      expect(yield* outcome(setOption("keepalive"))).toBe(`ERR missing the "value" argument`)
    })))

  it.live("TCP-OPT-002 unsupported option names", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(() => {}))
      const setOption = socket.setOption as (o: string, v: number) => Effect.Effect<void, any>
      const getOption = socket.getOption as (o: string) => Effect.Effect<number, any>
      expect(yield* outcome(setOption("abc", 1))).toBe("ERR unsupported option abc")
      expect(yield* outcome(getOption("abc"))).toBe("ERR unsupported option abc")
    })))

  it.live("TCP-OPT-003 / TCP-OPT-011 before connect and after close: closed", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      expect(yield* outcome(socket.setOption("keepalive", 1))).toBe("ERR closed")
      expect(yield* outcome(socket.getOption("keepalive"))).toBe("ERR closed")
      yield* socket.connect("127.0.0.1", (yield* server(() => {})).port)
      yield* socket.close
      expect(yield* outcome(socket.setOption("keepalive", 1))).toBe("ERR closed")
      expect(yield* outcome(socket.getOption("keepalive"))).toBe("ERR closed")
    })))

  it.live("TCP-OPT-005 / TCP-OPT-009 / TCP-OPT-013 tcp-nodelay and keepalive toggle (1/0, true/false); nodelay is on by default", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(() => {}))
      expect(yield* socket.getOption("tcp-nodelay")).toBe(1)
      for (const [on, off] of [[1, 0], [true, false], [-1, 0]] as const) {
        yield* socket.setOption("tcp-nodelay", off)
        expect(yield* socket.getOption("tcp-nodelay")).toBe(0)
        yield* socket.setOption("tcp-nodelay", on)
        expect(yield* socket.getOption("tcp-nodelay")).toBe(1)
      }
      expect(yield* socket.getOption("keepalive")).toBe(0)
      yield* socket.setOption("keepalive", 10)
      expect(yield* socket.getOption("keepalive")).toBe(1)
    })))

  it.live("TCP-OPT-005 / TCP-OPT-006 / TCP-OPT-007 (ours) options Node cannot set are UnsupportedOption, not no-ops", () =>
    run(Effect.gen(function*() {
      const socket = yield* connected(yield* server(() => {}))
      for (const option of ["reuseaddr", "sndbuf", "rcvbuf", "keepintvl", "keepcnt", "ip-transparent"] as const) {
        const e = yield* Effect.flip(socket.setOption(option, 1))
        expect([e._tag, e.message]).toEqual(["UnsupportedOption", `option ${option} is not supported on node`])
        const g = yield* Effect.flip(socket.getOption(option))
        expect(g._tag).toBe("UnsupportedOption")
      }
    })))

  it.live("BAD-013 connect with a non-string host", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const connect = (socket.connect as (h: unknown, p: number) => Effect.Effect<void, any>).bind(socket)
      expect(yield* outcome(connect({}, 80))).toBe("ERR string expected, got object")
      expect(yield* outcome(connect(null, 80))).toBe("ERR string expected, got null")
    })))

  it.live("BAD-015 (ours) a non-numeric timeout is InvalidArgument instead of the default", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const e = yield* Effect.flip(socket.setTimeout("abc" as never))
      expect([e._tag, e.message]).toEqual(["InvalidArgument", "bad timeout value"])
    })))
})

describe("half-close and server-side sockets", () => {
  it.live("shutdown(\"send\") sends FIN; reads go on; later sends are closed; never pooled", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.on("end", () => s.end(`got ${peer.receivedText(0).length} bytes\n`)))
      const socket = yield* connected(peer)
      yield* socket.send("request body")
      yield* socket.shutdown("send")
      expect(yield* outcome(socket.receive())).toBe("got 12 bytes")
      expect(yield* outcome(socket.send("more"))).toBe("ERR closed")
      expect(yield* outcome(socket.shutdown("send"))).toBe("ERR closed")
      expect(yield* outcome(socket.setKeepalive())).toBe("ERR closed")
    })))

  it.live("NodeCosocket.fromSocket wraps an accepted socket: same reads, busy rules, scope", () =>
    Effect.gen(function*() {
      const served = yield* Deferred.make<string>()
      const peer = yield* server((accepted) => {
        Effect.runFork(Effect.scoped(Effect.gen(function*() {
          const socket = yield* NodeCosocket.fromSocket(accepted)
          const line = TcpSocket.text(yield* socket.receive())
          const busy = yield* Effect.forkChild(socket.receive())
          yield* Effect.sleep(10)
          const second = yield* outcome(socket.receive())
          yield* socket.send([line.toUpperCase(), "\n"])
          yield* Fiber.interrupt(busy)
          yield* Deferred.succeed(served, second)
        })))
      })
      const out = yield* run(Effect.gen(function*() {
        const client = yield* connected(peer)
        yield* client.send("hello\n")
        return yield* outcome(client.receive())
      }))
      expect(out).toBe("HELLO")
      expect(yield* Deferred.await(served)).toBe("ERR socket busy reading")
    }).pipe(Effect.scoped))
})

describe("the services a socket is made with", () => {
  it.live("a configuration provided for one request applies to that request only, in one runtime", () =>
    run(Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({ script: [ScriptedPeer.send("abcdef\n")] })
      const lineOf = Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.make
        yield* socket.connect("127.0.0.1", peer.port)
        return yield* Effect.match(socket.receive(), {
          onFailure: (e) => e._tag,
          onSuccess: (line) => Buffer.from(line).toString()
        })
      }))
      const limited = yield* CosocketConfig.make({ maxLineLength: 3 })
      const withLimit = Effect.provideService(lineOf, CosocketConfig.CosocketConfig, limited)
      expect(yield* lineOf).toBe("abcdef")
      expect(yield* withLimit).toBe("ReceiveLimitExceeded")
      expect(yield* lineOf).toBe("abcdef")
      expect(yield* withLimit).toBe("ReceiveLimitExceeded")
    })))
})
