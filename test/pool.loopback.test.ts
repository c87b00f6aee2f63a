/**
 * Catalog group TCP-POOL (B.10) on real loopback sockets: node:net servers on 127.0.0.1 and unix
 * sockets, the Node connector and the pool layer of NodeCosocket.
 *
 * Not here: TCP-POOL-041 (TLS connections through the pool) belongs to the TLS issue and is
 * tested there. Where we differ on purpose (the README's "Deliberate differences") the test checks our behaviour and
 * says so: `setKeepalive` has no pool-size argument (sizes come from `connect` or the layer), a
 * `setKeepalive` failure caused by the connection's state closes it, and connect arguments are
 * validated before the connect queues.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Dns from "node:dns"
import type * as Net from "node:net"
import { ConnectionPool, CosocketConfig, TcpSocket } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"
import { ScriptedPeer } from "../src/testing/index.js"
import { eventually, memcachedPeer, onRequest, run, server, text } from "./support/loopback.js"

const statsOf = (key: string) => Effect.map(ConnectionPool.stats, (m) => m.get(key))

const describeError = (e: { readonly _tag: string; readonly message: string }) => `${e._tag}: ${e.message}`
const failureOf = <A, E extends { readonly _tag: string; readonly message: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(effect), describeError)

/** HTTP/1.1 keep-alive peer: answers every request with `body`, never closes on its own. */
const keepAlivePeer = (body: string) => (socket: Net.Socket) => {
  let pending = ""
  socket.on("data", (chunk) => {
    pending += chunk.toString("latin1")
    let i: number
    while ((i = pending.indexOf("\r\n\r\n")) >= 0) {
      pending = pending.slice(i + 4)
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    }
  })
}

/** The server ends its side when the client does (the loopback servers are half-open), so `openCount` drops to 0 once the client closed. */
const closing = (handler: (socket: Net.Socket) => void) => (socket: Net.Socket) => {
  socket.on("end", () => socket.end())
  handler(socket)
}

const REQUEST = "GET /t HTTP/1.1\r\nHost: localhost\r\n\r\n"

/** One keep-alive HTTP exchange: send, read the header block and the body, return the body. */
const httpExchange = (socket: TcpSocket.TcpSocket) =>
  Effect.gen(function*() {
    yield* socket.send(REQUEST)
    let length = 0
    for (;;) {
      const line = text(yield* socket.receive())
      if (line === "") break
      const m = /^Content-Length: (\d+)$/i.exec(line)
      if (m !== null) length = Number(m[1])
    }
    return text(yield* socket.receive(length))
  })

/** One memcached `flush_all` round, as in 068 TEST 1: returns [reused, bytes sent, reply]. */
const flushRound = (port: number, options?: TcpSocket.ConnectOptions) =>
  Effect.gen(function*() {
    const socket = yield* TcpSocket.connect("127.0.0.1", port, options)
    const reused = yield* socket.getReusedTimes
    const sent = yield* socket.send("flush_all\r\n")
    const reply = text(yield* socket.receive())
    return { socket, reused, sent, reply }
  })

describe("TCP-POOL on loopback", () => {
  it.live("TCP-POOL-001 sanity: reused 0 then 1, the key created once, one idle connection left", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const rounds: Array<[number, number, string]> = []
      for (let i = 0; i < 2; i++) {
        const r = yield* Effect.scoped(Effect.gen(function*() {
          const r = yield* flushRound(peer.port)
          yield* r.socket.setKeepalive()
          return r
        }))
        rounds.push([r.reused, r.sent, r.reply])
      }
      expect(rounds).toEqual([[0, 11, "OK"], [1, 11, "OK"]])
      expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toMatchObject({ idle: 1, active: 0, created: 1, reused: 1 })
      expect(peer.sockets.length).toBe(1)
    })))

  it.live("TCP-POOL-002 a close after the last reuse frees the whole key", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const r = yield* flushRound(peer.port)
        yield* r.socket.setKeepalive()
        return r.reused
      }))
      const second = yield* Effect.scoped(Effect.gen(function*() {
        const r = yield* flushRound(peer.port)
        yield* r.socket.close
        return r.reused
      }))
      expect([first, second]).toEqual([0, 1])
      expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toBeUndefined()
      yield* eventually(() => peer.openCount() === 0)
    })))

  it.live("TCP-POOL-003 the peer closes the idle connection: removed from the pool, the key freed", () =>
    run(Effect.gen(function*() {
      const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfoofoo\r\n0\r\n\r\n"
      const peer = yield* server((socket) =>
        onRequest(socket, () => {
          socket.write(chunked)
          // the peer's own keep-alive timeout: 100 ms idle
          setTimeout(() => socket.end(), 100)
        })
      )
      const key = `127.0.0.1:${peer.port}`
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("127.0.0.1", peer.port)
        yield* socket.send(REQUEST)
        const reader = yield* socket.receiveUntil("\r\n0\r\n\r\n")
        expect(text(yield* reader.read)).toBe("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfoofoo")
        yield* socket.setKeepalive()
      }))
      expect(yield* statsOf(key)).toMatchObject({ idle: 1 })
      yield* eventually(() => peer.openCount() === 0)
      expect(yield* statsOf(key)).toBeUndefined()
    })))

  it.live("TCP-POOL-005 / TCP-POOL-018 keepaliveTimeout 100 ms (also setKeepalive(undefined)): closed when idle, size 30", () =>
    run(
      Effect.gen(function*() {
        const peer = yield* server(closing(memcachedPeer))
        const key = `127.0.0.1:${peer.port}`
        yield* Effect.scoped(Effect.flatMap(TcpSocket.connect("127.0.0.1", peer.port), (s) => s.setKeepalive()))
        expect(yield* statsOf(key)).toMatchObject({ size: 30, idle: 1 })
        yield* eventually(() => peer.openCount() === 0)
        expect(yield* statsOf(key)).toBeUndefined()
        yield* Effect.scoped(
          Effect.flatMap(TcpSocket.connect("127.0.0.1", peer.port), (s) => s.setKeepalive(undefined))
        )
        yield* eventually(() => peer.openCount() === 0)
        expect(yield* statsOf(key)).toBeUndefined()
      }),
      { keepaliveTimeout: "100 millis" }
    ))

  it.live("TCP-POOL-006 poolSize 1 from the config: the key is created with size 1", () =>
    run(
      Effect.gen(function*() {
        const peer = yield* server(closing(memcachedPeer))
        yield* Effect.scoped(Effect.flatMap(TcpSocket.connect("127.0.0.1", peer.port), (s) => s.setKeepalive()))
        expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toMatchObject({ size: 1, idle: 1 })
        yield* eventually(() => peer.openCount() === 0)
      }),
      { poolSize: 1, keepaliveTimeout: "100 millis" }
    ))

  it.live("TCP-POOL-007 keepalive 0 means unlimited (config 0, or setKeepalive(0) over a 100 ms config)", () =>
    Effect.gen(function*() {
      for (const [config, idle] of [["0 millis", undefined], ["100 millis", 0]] as const) {
        yield* run(
          Effect.gen(function*() {
            const peer = yield* server(closing(memcachedPeer))
            yield* Effect.scoped(Effect.flatMap(TcpSocket.connect("127.0.0.1", peer.port), (s) => s.setKeepalive(idle)))
            yield* Effect.sleep("300 millis")
            expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toMatchObject({ idle: 1 })
            expect(peer.openCount()).toBe(1)
          }),
          { keepaliveTimeout: config }
        )
      }
    }))

  it.live("TCP-POOL-009 setKeepalive(101 ms) on a key created with poolSize 25 (ours: the size comes from connect)", () =>
    run(
      Effect.gen(function*() {
        const peer = yield* server(closing(memcachedPeer))
        yield* Effect.scoped(
          Effect.flatMap(TcpSocket.connect("127.0.0.1", peer.port, { poolSize: 25 }), (s) => s.setKeepalive(101))
        )
        expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toMatchObject({ size: 25, idle: 1 })
        yield* eventually(() => peer.openCount() === 0)
        expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toBeUndefined()
      }),
      { poolSize: 100 }
    ))

  it.live("TCP-POOL-010 / TCP-POOL-019 pool option validation (ours: sizes are connect options, InvalidArgument)", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const attempt = (options: unknown) =>
        Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.make
          const r = yield* Effect.result(socket.connect("127.0.0.1", peer.port, options as TcpSocket.ConnectOptions))
          return Result.isFailure(r) ? describeError(r.failure) : "ok"
        }))
      expect(yield* attempt({ poolSize: "a" })).toBe(`InvalidArgument: bad "poolSize" option type: string`)
      expect(yield* attempt({ poolSize: 0 })).toBe(`InvalidArgument: bad "poolSize" option value: 0`)
      expect(yield* attempt({ backlog: -1 })).toBe(`InvalidArgument: bad "backlog" option value: -1`)
      expect(yield* attempt({ pool: "b0", backlog: 0 })).toBe("ok")
      expect(peer.sockets.length).toBe(1)
    })))

  it.live("TCP-POOL-011 unix socket keep-alive: reused 0 then 1, the key starts with unix:", () =>
    run(Effect.gen(function*() {
      const body = "x".repeat(119)
      const peer = yield* server(closing(keepAlivePeer(body)), { unix: true })
      const path = `unix:${peer.path}` as const
      const reused: Array<number> = []
      for (let i = 0; i < 2; i++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.connect(path)
          reused.push(yield* socket.getReusedTimes)
          expect(yield* httpExchange(socket)).toBe(body)
          yield* socket.setKeepalive()
        }))
      }
      expect(reused).toEqual([0, 1])
      const keys = [...(yield* ConnectionPool.stats).keys()]
      expect(keys).toEqual([path])
    })))

  it.live("TCP-POOL-013 one pool name for two ports: the name is the only identity (the memcached connection is reused)", () =>
    run(Effect.gen(function*() {
      const memcached = yield* server(closing(memcachedPeer))
      const http = yield* server(closing(keepAlivePeer("hi")))
      yield* Effect.scoped(
        Effect.flatMap(TcpSocket.connect("127.0.0.1", memcached.port, { pool: "foo" }), (s) => s.setKeepalive())
      )
      const [reused, remote] = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("127.0.0.1", http.port, { pool: "foo" })
        return [yield* socket.getReusedTimes, (yield* socket.remoteAddressInfo).port]
      }))
      expect(reused).toBe(1)
      expect(remote).toBe(memcached.port)
      expect(http.sockets.length).toBe(0)
    })))

  it.live("TCP-POOL-014 custom pools on a unix socket: A then B (0, 0), A twice (0, 1)", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(keepAlivePeer("ok")), { unix: true })
      const path = `unix:${peer.path}` as const
      const round = (pool: string) =>
        Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.connect(path, { pool })
          const n = yield* socket.getReusedTimes
          yield* socket.setKeepalive()
          return n
        }))
      expect([yield* round("A"), yield* round("B")]).toEqual([0, 0])
      expect(yield* round("A")).toBe(1)
      expect([...(yield* ConnectionPool.stats).keys()].sort()).toEqual(["A", "B"])
    })))

  it.live("TCP-POOL-015 a numeric pool option is stringified: key \"3.14\" shared by two ports", () =>
    run(Effect.gen(function*() {
      const a = yield* server(closing(memcachedPeer))
      const b = yield* server(closing(memcachedPeer))
      const round = (port: number) =>
        Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.connect("127.0.0.1", port, { pool: 3.14 })
          const n = yield* socket.getReusedTimes
          yield* socket.setKeepalive()
          return n
        }))
      expect([yield* round(a.port), yield* round(b.port)]).toEqual([0, 1])
      expect([...(yield* ConnectionPool.stats).keys()]).toEqual(["3.14"])
    })))

  it.live("TCP-POOL-017 a table or boolean pool option is an InvalidArgument", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const socket = yield* TcpSocket.make
      const bad = (pool: unknown) =>
        failureOf(socket.connect("127.0.0.1", peer.port, { pool } as unknown as TcpSocket.ConnectOptions))
      expect(yield* bad({})).toBe(`InvalidArgument: bad "pool" option type: object`)
      expect(yield* bad(true)).toBe(`InvalidArgument: bad "pool" option type: boolean`)
    })))

  it.live("TCP-POOL-021 poolSize 1 on a unix socket and on custom pools A, B", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(keepAlivePeer("ok")), { unix: true })
      const path = `unix:${peer.path}` as const
      const round = (options: TcpSocket.ConnectOptions) =>
        Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.connect(path, options)
          const n = yield* socket.getReusedTimes
          yield* httpExchange(socket)
          yield* socket.setKeepalive()
          return n
        }))
      expect([yield* round({ poolSize: 1 }), yield* round({ poolSize: 1 })]).toEqual([0, 1])
      expect(yield* statsOf(path)).toMatchObject({ size: 1, idle: 1 })
      const seq: Array<string> = []
      for (const pool of ["A", "B", "A", "B"]) seq.push(`${pool} ${yield* round({ pool, poolSize: 1 })}`)
      expect(seq).toEqual(["A 0", "B 0", "A 1", "B 1"])
      expect(yield* statsOf("A")).toMatchObject({ size: 1, idle: 1 })
      expect(yield* statsOf("B")).toMatchObject({ size: 1, idle: 1 })
    })))

  it.live("TCP-POOL-022 backlog without poolSize takes the configured size", () =>
    run(
      Effect.gen(function*() {
        const peer = yield* server(closing(memcachedPeer))
        yield* TcpSocket.connect("127.0.0.1", peer.port, { backlog: 0 })
        expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toMatchObject({ size: 1234, backlog: 0, active: 1 })
      }),
      { poolSize: 1234 }
    ))

  it.live("TCP-POOL-023 more connects than size + backlog: PoolBacklogFull at once, also after a reuse", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const opts = { poolSize: 2, backlog: 0 }
      const s = yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
      yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
      const third = yield* TcpSocket.make
      expect(yield* failureOf(third.connect("127.0.0.1", peer.port, opts))).toBe(
        "PoolBacklogFull: too many waiting connect operations"
      )
      yield* s.setKeepalive()
      yield* s.connect("127.0.0.1", peer.port, opts)
      expect(yield* s.getReusedTimes).toBe(1)
      expect(yield* failureOf(third.connect("127.0.0.1", peer.port, opts))).toBe(
        "PoolBacklogFull: too many waiting connect operations"
      )
      expect(peer.sockets.length).toBe(2)
    })))

  it.live("TCP-POOL-025 a failed (timed-out) connect does not count: the slot is free again", () =>
    run(Effect.gen(function*() {
      const hole = yield* ScriptedPeer.blackhole
      const peer = yield* server(closing(memcachedPeer))
      const opts = { pool: "test", poolSize: 1, backlog: 0 }
      const socket = yield* TcpSocket.make
      yield* socket.setTimeouts(100, 3000, 3000)
      expect(yield* failureOf(socket.connect(hole.host, hole.port, opts))).toBe("SocketTimeout: timeout")
      expect(yield* statsOf("test")).toBeUndefined()
      yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
      expect(yield* statsOf("test")).toMatchObject({ active: 1 })
    })))

  it.live("TCP-POOL-026 connect until the backlog is reached, then resume in order", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const opts = { poolSize: 1, backlog: 1 }
      const log: Array<string> = []
      const s1 = yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
      const timer = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
        log.push(`timer connected, reused ${yield* socket.getReusedTimes}`)
        yield* Effect.sleep("20 millis")
        log.push("timer closes")
        yield* socket.close
      })))
      yield* Effect.sleep("20 millis")
      const main = yield* TcpSocket.make
      log.push((yield* failureOf(main.connect("127.0.0.1", peer.port, opts))).split(": ")[1])
      yield* s1.setKeepalive()
      log.push("main pooled s1")
      yield* main.connect("127.0.0.1", peer.port, opts)
      log.push(`main connected, reused ${yield* main.getReusedTimes}`)
      yield* Fiber.join(timer)
      expect(log).toEqual([
        "too many waiting connect operations",
        "main pooled s1",
        "timer connected, reused 1",
        "timer closes",
        "main connected, reused 0"
      ])
      expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toMatchObject({ backlogFull: 1, waiting: 0, active: 1 })
    })))

  it.live("TCP-POOL-027 three queued connects of one pool all complete", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const opts = { pool: "test", poolSize: 1, backlog: 3 }
      const main = yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
      const fibers = yield* Effect.forEach([0, 1, 2], () =>
        Effect.forkChild(Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
          yield* socket.send("flush_all\r\n")
          const reply = text(yield* socket.receive())
          yield* socket.setKeepalive()
          return reply
        }))))
      yield* Effect.sleep("30 millis")
      expect(yield* statsOf("test")).toMatchObject({ waiting: 3 })
      yield* main.setKeepalive()
      expect(yield* Fiber.joinAll(fibers)).toEqual(["OK", "OK", "OK"])
      expect(yield* statsOf("test")).toMatchObject({ idle: 1, created: 1, reused: 3 })
    })))

  it.live("TCP-POOL-029 / TCP-POOL-030 backlog 2 with three fibers: the third fails, the others run in turn", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const opts = { poolSize: 1, backlog: 2 }
      const main = yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
      const log: Array<string> = []
      const worker = (i: number) =>
        Effect.scoped(Effect.gen(function*() {
          // callers without options get the existing key's limits (TCP-POOL-030)
          const socket = yield* TcpSocket.connect("127.0.0.1", peer.port)
          log.push(`start ${i}`)
          yield* Effect.sleep("10 millis")
          log.push(`continue ${i}`)
          yield* socket.close
        })).pipe(Effect.catch((e) => Effect.sync(() => log.push(`${i}: ${e.message}`))))
      const fibers: Array<Fiber.Fiber<unknown>> = []
      for (const i of [1, 2, 3]) {
        fibers.push(yield* Effect.forkChild(worker(i)))
        yield* Effect.sleep("5 millis")
      }
      yield* main.setKeepalive()
      yield* Fiber.joinAll(fibers)
      expect(log).toEqual(["3: too many waiting connect operations", "start 1", "continue 1", "start 2", "continue 2"])
    })))

  it.live("TCP-POOL-031 a queued connect times out after the connect timeout (SocketTimeout, operation pool)", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const opts = { poolSize: 1, backlog: 1 }
      yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
      const s2 = yield* TcpSocket.make
      yield* s2.setTimeouts(10, 3000, 3000)
      const error = yield* Effect.flip(s2.connect("127.0.0.1", peer.port, opts))
      expect(error).toMatchObject({ _tag: "SocketTimeout", operation: "pool", message: "timeout" })
      expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toMatchObject({ active: 1, waiting: 0, waitTimeouts: 1 })
    })))

  it.live("TCP-POOL-033 a resumed connect that fails (refused, timeout) releases the slot to the next waiter", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const closed = yield* server(() => {})
      yield* Effect.promise(() =>
        new Promise<void>((r) => (closed as unknown as { server: Net.Server }).server.close(() => r()))
      )
      const hole = yield* ScriptedPeer.blackhole
      for (
        const [host, port, expected] of [
          ["127.0.0.1", closed.port, "ConnectError: connection refused"],
          [hole.host, hole.port, "SocketTimeout: timeout"]
        ] as const
      ) {
        const opts = { pool: `test-${port}`, poolSize: 1, backlog: 2 }
        const holder = yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
        const failing = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.make
          yield* socket.setTimeouts(100, 1000, 1000)
          return yield* failureOf(socket.connect(host, port, opts))
        })))
        yield* Effect.sleep("10 millis")
        const good = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
          return `connected, reused ${yield* socket.getReusedTimes}`
        })))
        yield* Effect.sleep("10 millis")
        yield* holder.close
        expect(yield* Fiber.join(failing)).toBe(expected)
        expect(yield* Fiber.join(good)).toBe("connected, reused 0")
        expect(yield* statsOf(opts.pool)).toBeUndefined()
      }
    })))

  it.live("TCP-POOL-033 (ours) an invalid host fails before queueing", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const opts = { pool: "test", poolSize: 1, backlog: 1 }
      yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
      const socket = yield* TcpSocket.make
      expect(yield* failureOf(socket.connect("", 80, opts))).toBe(
        `InvalidArgument: failed to parse host name "": no host`
      )
      expect(yield* statsOf("test")).toMatchObject({ waiting: 0 })
    })))

  it.live("TCP-POOL-034 a killed queued connect, or a slot holder killed while resolving, lets the next connect proceed", () =>
    Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      // names ending in .hang never resolve; everything else is resolved by the system
      const lookup: Net.LookupFunction = (hostname, options, callback) => {
        if (hostname.endsWith(".hang")) return
        Dns.lookup(hostname, options, callback)
      }
      const layer = Layer.merge(NodeCosocket.tcpConnectorWith({ lookup }), ConnectionPool.layer())
      yield* Effect.gen(function*() {
        const opts = { pool: "q", poolSize: 1, backlog: 2 }
        // the slot holder is stuck in name resolution and gets interrupted
        const resolving = yield* Effect.forkChild(Effect.scoped(TcpSocket.connect("upstream.hang", 80, opts)))
        yield* Effect.sleep("10 millis")
        const queued = yield* Effect.forkChild(Effect.scoped(TcpSocket.connect("127.0.0.1", peer.port, opts)))
        const next = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
          yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
          return "resume success"
        })))
        yield* Effect.sleep("10 millis")
        expect(yield* statsOf("q")).toMatchObject({ active: 1, waiting: 2 })
        // a queued connect killed: no trace
        yield* Fiber.interrupt(queued)
        expect(yield* statsOf("q")).toMatchObject({ active: 1, waiting: 1 })
        yield* Fiber.interrupt(resolving)
        expect(yield* Fiber.join(next)).toBe("resume success")
        expect(yield* statsOf("q")).toBeUndefined()
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped))

  it.live("TCP-POOL-035 connections made before and after the key existed are counted; size 1 evicts on pooling", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const key = `127.0.0.1:${peer.port}`
      const s1 = yield* TcpSocket.connect("127.0.0.1", peer.port, { poolSize: 1 })
      const s2 = yield* TcpSocket.connect("127.0.0.1", peer.port)
      expect(yield* statsOf(key)).toMatchObject({ active: 2, size: 1 })
      const p1 = (yield* s1.localAddressInfo).port
      const p2 = (yield* s2.localAddressInfo).port
      yield* s1.setKeepalive()
      yield* s2.setKeepalive() // pool full: s1's connection is closed
      expect(yield* statsOf(key)).toMatchObject({ active: 0, idle: 1, evicted: { lru: 1 } })
      const a = yield* TcpSocket.connect("127.0.0.1", peer.port)
      const b = yield* TcpSocket.connect("127.0.0.1", peer.port)
      expect((yield* a.localAddressInfo).port).toBe(p2)
      expect((yield* b.localAddressInfo).port).not.toBe(p1)
      expect([yield* a.getReusedTimes, yield* b.getReusedTimes]).toEqual([1, 0])
      yield* a.close
      yield* b.close
      expect(yield* statsOf(key)).toBeUndefined()
      yield* eventually(() => peer.openCount() === 0)
    })))

  it.live("TCP-POOL-037 unread data in our buffer: UnreadDataInBuffer, and (ours) the connection is closed", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const socket = yield* TcpSocket.connect("127.0.0.1", peer.port)
      yield* socket.send("flush_all\r\n")
      expect(text(yield* socket.receive(1))).toBe("O")
      expect(yield* failureOf(socket.setKeepalive())).toBe("UnreadDataInBuffer: unread data in buffer")
      expect(yield* failureOf(socket.send("x"))).toBe("SocketClosed: closed")
      expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toBeUndefined()
      yield* eventually(() => peer.openCount() === 0)
    })))

  it.live("TCP-POOL-038 bytes or FIN left in the kernel: refused with one of the three reasons, connection closed", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((socket) =>
        onRequest(socket, () => {
          socket.write("6\r\nfoofoo\r\n6\r\nbarbar\r\n0\r\n\r\n")
          socket.end()
        })
      )
      const socket = yield* TcpSocket.connect("127.0.0.1", peer.port)
      yield* socket.send(REQUEST)
      const reader = yield* socket.receiveUntil("foofoo\r\n")
      expect(text(yield* reader.read)).toBe("6\r\n")
      const error = yield* Effect.flip(socket.setKeepalive())
      expect(["UnreadDataInBuffer", "SocketClosed", "DubiousConnection"]).toContain(error._tag)
      expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toBeUndefined()
      yield* eventually(() => peer.openCount() === 0)
    })))

  it.live("TCP-POOL-039 setKeepalive after close: SocketClosed", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const socket = yield* TcpSocket.connect("127.0.0.1", peer.port)
      yield* socket.close
      expect(yield* failureOf(socket.setKeepalive())).toBe("SocketClosed: closed")
    })))

  // TCP-POOL-041 (TLS connections through the pool) is covered in test/tls.pool.test.ts.

  it.live("TCP-POOL-042 reuse is LIFO, eviction LRU (local ports)", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const opts = { poolSize: 2 }
      const [c1, c2, c3] = yield* Effect.all([
        TcpSocket.connect("127.0.0.1", peer.port, opts),
        TcpSocket.connect("127.0.0.1", peer.port, opts),
        TcpSocket.connect("127.0.0.1", peer.port, opts)
      ])
      const ports = yield* Effect.forEach([c1, c2, c3], (c) => Effect.map(c.localAddressInfo, (a) => a.port))
      yield* c1.setKeepalive()
      yield* c2.setKeepalive()
      yield* c3.setKeepalive()
      // c1's connection was closed at the third setKeepalive
      yield* eventually(() => peer.openCount() === 2)
      const first = yield* TcpSocket.connect("127.0.0.1", peer.port)
      const second = yield* TcpSocket.connect("127.0.0.1", peer.port)
      expect((yield* first.localAddressInfo).port).toBe(ports[2])
      expect((yield* second.localAddressInfo).port).toBe(ports[1])
    })))

  it.live("TCP-POOL-043 keys use the literal host string: localhost and 127.0.0.1 are different pools", () =>
    Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const toLoopback: Net.LookupFunction = (_hostname, options, callback) =>
        (options as { all?: boolean }).all === true
          ? (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
            { address: "127.0.0.1", family: 4 }
          ])
          : callback(null, "127.0.0.1", 4)
      const reused = yield* Effect.gen(function*() {
        yield* Effect.scoped(Effect.flatMap(TcpSocket.connect("localhost", peer.port), (s) => s.setKeepalive()))
        return yield* Effect.scoped(Effect.flatMap(TcpSocket.connect("127.0.0.1", peer.port), (s) => s.getReusedTimes))
      }).pipe(
        Effect.provide(Layer.merge(NodeCosocket.tcpConnectorWith({ lookup: toLoopback }), ConnectionPool.layer()))
      )
      expect(reused).toBe(0)
    }).pipe(Effect.scoped))

  it.live("TCP-POOL-045 getReusedTimes after setKeepalive: SocketClosed", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const socket = yield* TcpSocket.connect("127.0.0.1", peer.port)
      yield* socket.setKeepalive()
      expect(yield* failureOf(socket.getReusedTimes)).toBe("SocketClosed: closed")
    })))

  it.live("TCP-POOL-046 the size is fixed at creation; after the key empties the next creator chooses again", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const key = `127.0.0.1:${peer.port}`
      const a = yield* TcpSocket.connect("127.0.0.1", peer.port, { poolSize: 1 })
      const b = yield* TcpSocket.connect("127.0.0.1", peer.port, { poolSize: 5 })
      const c = yield* TcpSocket.connect("127.0.0.1", peer.port, { poolSize: 5 })
      yield* Effect.forEach([a, b, c], (s) => s.setKeepalive())
      expect(yield* statsOf(key)).toMatchObject({ size: 1, idle: 1 })
      yield* eventually(() => peer.openCount() === 1)
      yield* Effect.flatMap(TcpSocket.connect("127.0.0.1", peer.port), (s) => s.close)
      expect(yield* statsOf(key)).toBeUndefined()
      yield* TcpSocket.connect("127.0.0.1", peer.port, { poolSize: 5 })
      expect(yield* statsOf(key)).toMatchObject({ size: 5 })
    })))

  it.live("TCP-POOL-047 the peer closes an idle pooled connection: removed at once, the next connect is fresh", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const key = `127.0.0.1:${peer.port}`
      yield* Effect.scoped(Effect.flatMap(TcpSocket.connect("127.0.0.1", peer.port), (s) => s.setKeepalive()))
      peer.sockets[0].end()
      yield* eventually(() => peer.openCount() === 0)
      expect(yield* statsOf(key)).toBeUndefined()
      const reused = yield* Effect.scoped(
        Effect.flatMap(TcpSocket.connect("127.0.0.1", peer.port), (s) => s.getReusedTimes)
      )
      expect(reused).toBe(0)
    })))

  it.live("a reset while idle also evicts; nothing stale is handed out", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      yield* Effect.scoped(Effect.flatMap(TcpSocket.connect("127.0.0.1", peer.port), (s) => s.setKeepalive()))
      peer.sockets[0].resetAndDestroy()
      yield* eventually(() => peer.openCount() === 0)
      yield* Effect.sleep("20 millis")
      expect(yield* statsOf(`127.0.0.1:${peer.port}`)).toBeUndefined()
      const socket = yield* TcpSocket.connect("127.0.0.1", peer.port)
      expect(yield* socket.getReusedTimes).toBe(0)
      yield* socket.send("flush_all\r\n")
      expect(text(yield* socket.receive())).toBe("OK")
    })))

  it.live("TcpSocket.withKeepalive on loopback: pooled after success, closed after failure", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const key = `127.0.0.1:${peer.port}`
      const flush = Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("127.0.0.1", peer.port)
        return yield* TcpSocket.withKeepalive(
          socket,
          Effect.andThen(socket.send("flush_all\r\n"), Effect.map(socket.receive(), text))
        )
      }))
      expect(yield* flush).toBe("OK")
      expect(yield* flush).toBe("OK")
      expect(yield* statsOf(key)).toMatchObject({ idle: 1, created: 1, reused: 1 })
      const failed = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("127.0.0.1", peer.port)
        return yield* Effect.result(TcpSocket.withKeepalive(socket, Effect.fail("protocol error")))
      }))
      expect(failed).toEqual(Result.fail("protocol error"))
      expect(yield* statsOf(key)).toBeUndefined()
      yield* eventually(() => peer.openCount() === 0)
    })))

  it.live("closing the layer closes idle connections, fails waiters with PoolClosed, leaves no timer", () =>
    Effect.gen(function*() {
      const peer = yield* server(closing(memcachedPeer))
      const timersBefore = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length
      const key = `127.0.0.1:${peer.port}`
      // held sockets outlive the pool layer
      const sockets = yield* Scope.make()
      const waiter = yield* Effect.gen(function*() {
        const opts = { poolSize: 2, backlog: 1 }
        // an idle connection (a 1 hour timer) under another key
        yield* Effect.scoped(
          Effect.flatMap(TcpSocket.connect("127.0.0.1", peer.port, { pool: "idle" }), (s) => s.setKeepalive("1 hour"))
        )
        // two held, one queued (a 60 s wait)
        yield* TcpSocket.connect("127.0.0.1", peer.port, opts).pipe(Scope.provide(sockets))
        const held = yield* TcpSocket.connect("127.0.0.1", peer.port, opts).pipe(Scope.provide(sockets))
        const waiter = yield* Effect.forkChild(Effect.scoped(TcpSocket.connect("127.0.0.1", peer.port, opts)))
        yield* Effect.sleep("10 millis")
        expect(yield* statsOf(key)).toMatchObject({ active: 2, waiting: 1 })
        expect(yield* statsOf("idle")).toMatchObject({ idle: 1 })
        return { waiter, held }
      }).pipe(Effect.provide(Layer.provideMerge(NodeCosocket.layer, CosocketConfig.layer({}))))
      // the layer is closed: the queued connect failed with PoolClosed, the idle connection is closed
      const exit = yield* Fiber.await(waiter.waiter)
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("PoolClosed")
      yield* eventually(() => peer.openCount() === 2)
      // held connections stay usable until their scope ends; pooling one now closes it
      expect(yield* waiter.held.send("flush_all\r\n")).toBe(11)
      expect(text(yield* waiter.held.receive())).toBe("OK")
      yield* waiter.held.setKeepalive()
      yield* eventually(() => peer.openCount() === 1)
      yield* Scope.close(sockets, Exit.void)
      yield* eventually(() => peer.openCount() === 0)
      // Effect 4 resumes a sleeping fiber inside the timer's callback, where that timer still counts
      // as active: count from the next turn of the event loop
      yield* Effect.yieldNow
      expect(process.getActiveResourcesInfo().filter((r) => r === "Timeout").length).toBeLessThanOrEqual(timersBefore)
    }).pipe(Effect.scoped))
})
