/**
 * Catalog groups TCP-CONN and TCP-BIND on real loopback sockets.
 *
 * Not applicable on Node (no nginx request context): TCP-CONN-021 ("bad request" from another
 * request) — a socket belongs to its Scope instead, tested below as "used after its scope".
 * TCP-CONN-023 (Lua argument counts) — the TypeScript signature rules it out; the runtime
 * equivalent (a missing port) is tested. TCP-BIND-005 (an unconnected object moving between
 * requests) has no equivalent: there are no requests, any fiber may use the socket.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Net from "node:net"
import { ConnectionPool, CosocketConfig, TcpSocket } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"
import { ScriptedPeer } from "../src/testing/index.js"
import { eventually, httpPeer, outcome, readLines, REQ57, RESP_FOO_LINES, run, server } from "./support/loopback.js"

const closedFour = (socket: TcpSocket.TcpSocket) =>
  Effect.all([outcome(socket.send("hello")), outcome(socket.receive()), outcome(socket.close)])

describe("TcpSocket.connect", () => {
  it.live("TCP-CONN-001 sanity: connect, send REQ57, read lines until closed, close", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(httpPeer())
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* socket.send(REQ57)).toBe(57)
      expect(yield* readLines(socket)).toEqual([...RESP_FOO_LINES, "ERR closed []"])
      expect(yield* outcome(socket.close)).toBe("undefined")
      expect(peer.receivedText(0)).toBe(REQ57)
    })))

  it.live("TCP-CONN-002 connection refused, then send/receive/close are closed", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const port = peer.port
      // Close the listener so the port refuses.
      yield* Effect.promise(() =>
        new Promise<void>((r) => (peer as unknown as { server: Net.Server }).server.close(() => r()))
      )
      const socket = yield* TcpSocket.make
      const error = yield* Effect.flip(socket.connect("127.0.0.1", port))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toBe("connection refused")
      expect(yield* closedFour(socket)).toEqual(["ERR closed", "ERR closed", "ERR closed"])
    })))

  it.live("TCP-CONN-003 connect timeout against a blackhole, then everything is closed", () =>
    run(Effect.gen(function*() {
      const hole = yield* ScriptedPeer.blackhole
      const socket = yield* TcpSocket.make
      yield* socket.setTimeouts(100, 100, 100)
      const started = Date.now()
      const error = yield* Effect.flip(socket.connect(hole.host, hole.port))
      expect(error._tag).toBe("SocketTimeout")
      expect(error.message).toBe("timeout")
      expect(Date.now() - started).toBeGreaterThanOrEqual(95)
      expect(yield* closedFour(socket)).toEqual(["ERR closed", "ERR closed", "ERR closed"])
    })))

  it.live("TCP-CONN-005 host not found (resolver answers NXDOMAIN), then send is closed", () =>
    Effect.gen(function*() {
      const notFound: Net.LookupFunction = (hostname, _options, callback) =>
        process.nextTick(() =>
          callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), "", 4)
        )
      const error = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.make
        const e = yield* Effect.flip(socket.connect("blah-blah-not-found.agentzh.org", 80))
        expect(yield* outcome(socket.send("x"))).toBe("ERR closed")
        return e
      })).pipe(Effect.provide(Layer.merge(NodeCosocket.tcpConnectorWith({ lookup: notFound }), ConnectionPool.layer())))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toBe("blah-blah-not-found.agentzh.org could not be resolved (3: Host not found)")
    }).pipe(Effect.orDie))

  it.live("TCP-CONN-006 / TCP-CONN-022 a resolver that never answers: the connect timeout bounds it", () =>
    Effect.gen(function*() {
      const silent: Net.LookupFunction = () => {}
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.make
        yield* socket.setTimeout(100)
        const e = yield* Effect.flip(socket.connect("some2.agentzh.org", 80))
        return [e._tag, e.message, yield* outcome(socket.close)]
      })).pipe(Effect.provide(Layer.merge(NodeCosocket.tcpConnectorWith({ lookup: silent }), ConnectionPool.layer())))
      // Ours: name resolution is part of connect, so its timeout is the connect timeout.
      expect(result).toEqual(["SocketTimeout", "timeout", "ERR closed"])
    }).pipe(Effect.orDie))

  it.live("TCP-CONN-007 port range: 65536 and -1 are bad port numbers, 0 and 65535 pass validation", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const high = yield* Effect.flip(socket.connect("127.0.0.1", 65536))
      expect([high._tag, high.message]).toEqual(["InvalidArgument", "bad port number: 65536"])
      const low = yield* Effect.flip(socket.connect("127.0.0.1", -1))
      expect(low.message).toBe("bad port number: -1")
      // 65535 and 0 are valid numbers: the failure is the connection's, not the argument's.
      const max = yield* Effect.flip(socket.connect("127.0.0.1", 65535))
      expect(max._tag).not.toBe("InvalidArgument")
      const zero = yield* Effect.flip(socket.connect("127.0.0.1", 0))
      expect(zero._tag).not.toBe("InvalidArgument")
    })))

  it.live("TCP-CONN-009 a path without unix: is missing the port number", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const error = yield* Effect.flip(
        (socket.connect as (h: string) => Effect.Effect<void, any>)("/path/to/test.sock")
      )
      expect([error._tag, error.message]).toEqual(["InvalidArgument", "missing the port number"])
    })))

  it.live("TCP-CONN-010 / TCP-CONN-019 unix socket: connect(unix:path), with a port, with undefined", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(httpPeer(), { unix: true })
      const path = `unix:${peer.path}` as const
      const connects = [
        (s: TcpSocket.TcpSocket) => s.connect(path),
        (s: TcpSocket.TcpSocket) => (s.connect as (h: string, p: number) => Effect.Effect<void, any>)(path, 80),
        (s: TcpSocket.TcpSocket) => (s.connect as (h: string, p?: number) => Effect.Effect<void, any>)(path, undefined)
      ]
      for (const connect of connects) {
        const socket = yield* TcpSocket.make
        yield* connect(socket)
        expect(yield* socket.send(REQ57)).toBe(57)
        expect(yield* readLines(socket)).toEqual([...RESP_FOO_LINES, "ERR closed []"])
        expect(yield* outcome(socket.close)).toBe("undefined")
      }
    })))

  it.live("TCP-CONN-011 unix socket that does not exist: no such file or directory", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const error = yield* Effect.flip(socket.connect("unix:/path/to/nosuchfile.sock"))
      expect([error._tag, error.message]).toEqual(["ConnectError", "no such file or directory"])
      expect(yield* closedFour(socket)).toEqual(["ERR closed", "ERR closed", "ERR closed"])
    })))

  it.live("TCP-CONN-013 re-connect on the same object after a connect timeout", () =>
    run(Effect.gen(function*() {
      const hole = yield* ScriptedPeer.blackhole
      const peer = yield* server(httpPeer())
      const socket = yield* TcpSocket.make
      yield* socket.setTimeout(100)
      const error = yield* Effect.flip(socket.connect(hole.host, hole.port))
      expect(error.message).toBe("timeout")
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* socket.send(REQ57)).toBe(57)
    })))

  it.live("TCP-CONN-014 empty and undefined options", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(httpPeer())
      for (const options of [{}, undefined]) {
        const socket = yield* TcpSocket.make
        yield* socket.connect("127.0.0.1", peer.port, options)
        expect(yield* socket.send(REQ57)).toBe(57)
        expect((yield* readLines(socket))[0]).toBe("HTTP/1.1 200 OK")
      }
    })))

  it.live("TCP-CONN-015 IPv6 literal in brackets", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(httpPeer(), { host: "::1" })
      const socket = yield* TcpSocket.make
      yield* socket.connect("[::1]", peer.port)
      expect(yield* socket.send(REQ57)).toBe(57)
      expect(yield* readLines(socket)).toEqual([...RESP_FOO_LINES, "ERR closed []"])
      expect((yield* socket.remoteAddressInfo).address).toBe("::1")
    })))

  it.live("TCP-CONN-017 the TcpSocket.connect shortcut: connection refused", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const port = peer.port
      yield* Effect.promise(() =>
        new Promise<void>((r) => (peer as unknown as { server: Net.Server }).server.close(() => r()))
      )
      const error = yield* Effect.flip(TcpSocket.connect("127.0.0.1", port))
      expect([error._tag, error.message]).toEqual(["ConnectError", "connection refused"])
    })))

  it.live("TCP-CONN-018 empty host name", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const error = yield* Effect.flip(socket.connect("", 80))
      expect([error._tag, error.message]).toEqual(["InvalidArgument", `failed to parse host name "": no host`])
    })))

  it.live("TCP-CONN-021 (ours: Scope instead of requests) a socket used after its scope ended is closed", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(httpPeer())
      const socket = yield* Effect.scoped(Effect.gen(function*() {
        const s = yield* TcpSocket.make
        yield* s.connect("127.0.0.1", peer.port)
        return s
      }))
      expect(yield* outcome(socket.connect("127.0.0.1", peer.port))).toBe("ERR closed")
      expect(yield* outcome(socket.send("x"))).toBe("ERR closed")
      expect(yield* outcome(socket.receive())).toBe("ERR closed")
      expect(yield* outcome(socket.close)).toBe("ERR closed")
    })))

  it.live("TCP-CONN-023 (ours: typed signature) connect without a port is InvalidArgument", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const error = yield* Effect.flip((socket.connect as (h: string) => Effect.Effect<void, any>)("127.0.0.1"))
      expect([error._tag, error.message]).toEqual(["InvalidArgument", "missing the port number"])
    })))

  it.live("connecting again closes the previous connection", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.connect("127.0.0.1", peer.port)
      // The first connection was closed by us: its server side sees EOF; the second does not.
      yield* eventually(() => peer.sockets.length === 2 && peer.sockets[0].readableEnded)
      expect(peer.sockets[1].readableEnded).toBe(false)
    })))

  it.live("a host name (localhost) resolves", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(httpPeer())
      const socket = yield* TcpSocket.make
      yield* socket.connect("localhost", peer.port)
      expect(yield* socket.send(REQ57)).toBe(57)
      expect((yield* readLines(socket))[0]).toBe("HTTP/1.1 200 OK")
    })))

  it.live("TCP-TO-003 / CosocketConfig: the configured connect timeout applies when none is set", () =>
    run(
      Effect.gen(function*() {
        const hole = yield* ScriptedPeer.blackhole
        const socket = yield* TcpSocket.make
        yield* socket.setTimeout(0)
        const started = Date.now()
        const error = yield* Effect.flip(socket.connect(hole.host, hole.port))
        expect(error.message).toBe("timeout")
        expect(Date.now() - started).toBeGreaterThanOrEqual(95)
      }),
      { connectTimeout: 100 }
    ))
})

describe("TcpSocket.bind", () => {
  it.live("TCP-BIND-001 bind 127.0.0.1: the peer sees that source address", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.end(`${s.remoteAddress}\n`))
      const socket = yield* TcpSocket.make
      yield* socket.bind("127.0.0.1")
      yield* socket.connect("127.0.0.1", peer.port)
      expect(TcpSocket.text(yield* socket.receive())).toBe("127.0.0.1")
    })))

  it.live("TCP-BIND-001 bind 127.0.0.5 (any loopback address is local)", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.end(`${s.remoteAddress}\n`))
      const socket = yield* TcpSocket.make
      yield* socket.bind("127.0.0.5")
      yield* socket.connect("127.0.0.1", peer.port)
      expect(TcpSocket.text(yield* socket.receive())).toBe("127.0.0.5")
    })))

  it.live("TCP-BIND-002 bind to a non-local address succeeds, connect fails with cannot assign requested address", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.bind("8.8.8.8")
      const error = yield* Effect.flip(socket.connect("127.0.0.1", peer.port))
      expect([error._tag, error.message]).toEqual(["ConnectError", "cannot assign requested address"])
    })))

  it.live("TCP-BIND-003 / TCP-BIND-007 invalid addresses are bad address", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      for (const address of ["127.0.0.1000", "not an ip", "", "1.2.3", "::g"]) {
        const error = yield* Effect.flip(socket.bind(address))
        expect([error._tag, error.message]).toEqual(["InvalidArgument", "bad address"])
      }
      yield* socket.bind("::1")
    })))

  it.live("TCP-BIND-006 bound sockets still use the pool (reused times go up by one)", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const round = Effect.gen(function*() {
        const socket = yield* TcpSocket.make
        yield* socket.bind("127.0.0.1")
        yield* socket.connect("127.0.0.1", peer.port)
        const reused = yield* socket.getReusedTimes
        yield* socket.setKeepalive()
        return reused
      })
      const first = yield* round
      const second = yield* round
      expect(second - first).toBe(1)
    })))

  it.live("the bind address is part of the pool key: a different bind never reuses", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const round = (address: string) =>
        Effect.gen(function*() {
          const socket = yield* TcpSocket.make
          yield* socket.bind(address)
          yield* socket.connect("127.0.0.1", peer.port)
          const reused = yield* socket.getReusedTimes
          yield* socket.setKeepalive()
          return reused
        })
      expect(yield* round("127.0.0.1")).toBe(0)
      expect(yield* round("127.0.0.2")).toBe(0)
      expect(yield* round("127.0.0.1")).toBe(1)
    })))
})

describe("CosocketConfig", () => {
  it.live("layer validation names the option", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(CosocketConfig.make({ poolSize: 0 }))
      expect([error._tag, error.argument, error.message]).toEqual([
        "InvalidArgument",
        "poolSize",
        `bad "poolSize" option value: 0`
      ])
      const timeout = yield* Effect.flip(CosocketConfig.make({ readTimeout: -1 }))
      expect([timeout.argument, timeout.message]).toEqual(["readTimeout", "bad timeout value"])
      const ok = yield* CosocketConfig.make({ readTimeout: "5 seconds", maxLineLength: 10 })
      expect(ok.maxLineLength).toBe(10)
      expect(ok.poolSize).toBe(30)
    }))
})
