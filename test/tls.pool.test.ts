/**
 * TLS and the keepalive pool: TCP-POOL-041 (a pooled TLS connection is reused without a new
 * handshake), TCP-SSL-019 (ours: a pooled TLS connection with another identity is refused with
 * `TlsError` "mismatch" instead of silently reused), pool keys carrying the TLS identity (two SNI
 * names on one address never share a connection), and TLS 1.3 session tickets arriving after the
 * handshake never making a pooled connection look dirty.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as NodeTls from "node:tls"
import { ConnectionPool, CosocketError, TcpSocket } from "../src/index.js"
import type { Tls as TlsApi } from "../src/index.js"
import { eventually, run } from "./support/loopback.js"
import { ca, clientCert, serverBCert, serverCert, type TlsServer, tlsServer } from "./support/tls.js"

const serverSaw = (peer: TlsServer, n: number) => eventually(() => peer.secure.length >= n)

/** One request/response on a socket (the echo server answers the line). */
const ping = (socket: TcpSocket.TcpSocket, line: string) =>
  Effect.gen(function*() {
    yield* socket.send(`${line}\n`)
    return TcpSocket.text(yield* socket.receive())
  })

/** SNI on one address: a.test (and localhost) get server.crt, b.test gets server-b.crt. */
const sniServer = tlsServer({
  ...serverCert,
  SNICallback: (name, cb) => cb(null, NodeTls.createSecureContext(name === "b.test" ? serverBCert : serverCert))
})

describe("TLS and the pool", () => {
  it.live("TCP-POOL-041 connect + sslHandshake + setKeepalive, three rounds: one TCP connection, one handshake", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert)
      const reused: Array<number> = []
      for (let round = 0; round < 3; round++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.make
          yield* socket.connect("127.0.0.1", peer.port)
          reused.push(yield* socket.getReusedTimes)
          const session = Option.getOrThrow(yield* socket.sslHandshake({ serverName: "localhost", ca }))
          expect(session.resumed).toBe(false)
          expect(yield* ping(socket, `round ${round}`)).toBe(`round ${round}`)
          yield* socket.setKeepalive()
        }))
      }
      expect(reused).toEqual([0, 1, 2])
      expect(peer.accepted()).toBe(1)
      expect(peer.secure.length).toBe(1)
    })))

  it.live("TCP-POOL-041 with connect({ tls }): the pooled connection skips the handshake", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert)
      const reused: Array<number> = []
      for (let round = 0; round < 3; round++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, { tls: { ca } })
          reused.push(yield* socket.getReusedTimes)
          expect(yield* ping(socket, "x")).toBe("x")
          yield* socket.setKeepalive()
        }))
      }
      expect(reused).toEqual([0, 1, 2])
      expect(peer.accepted()).toBe(1)
      expect(peer.secure.length).toBe(1)
    })))

  it.live("TCP-POOL-041 with withConnection({ tls }): one handshake for three exchanges; another identity, another key", () =>
    run(Effect.gen(function*() {
      const peer = yield* sniServer
      const exchange = (serverName: string, line: string) =>
        TcpSocket.withConnection(
          "127.0.0.1",
          peer.port,
          (socket) => Effect.zip(ping(socket, line), socket.getReusedTimes),
          { tls: { ca, serverName } }
        )
      expect(yield* exchange("a.test", "one")).toEqual(["one", 0])
      expect(yield* exchange("a.test", "two")).toEqual(["two", 1])
      expect(yield* exchange("a.test", "three")).toEqual(["three", 2])
      yield* serverSaw(peer, 1)
      expect(peer.accepted()).toBe(1)
      // b.test is another TLS identity: its own pool key, a new connection and handshake
      expect(yield* exchange("b.test", "four")).toEqual(["four", 0])
      yield* serverSaw(peer, 2)
      expect(peer.accepted()).toBe(2)
      const keys = Array.from((yield* ConnectionPool.stats).keys()).filter((k) => k.includes(String(peer.port)))
      expect(keys.length).toBe(2)
      expect(keys.every((k) => k.startsWith(`127.0.0.1:${peer.port} tls=`))).toBe(true)
    })))

  it.live("TLS 1.3 tickets arriving after the handshake leave the pooled connection clean", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer({ ...serverCert, minVersion: "TLSv1.3" })
      let first: TlsApi.TlsSession | undefined
      let atHandshake: Uint8Array = new Uint8Array(0)
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, { tls: { ca } })
        first = Option.getOrThrow(yield* socket.sslHandshake({ ca }))
        atHandshake = first.bytes
        expect(first.protocol).toBe("TLSv1.3")
        // released at once: the server's NewSessionTicket records are still on their way
        yield* socket.setKeepalive()
      }))
      // the server sends its tickets once it has the client's Finished: they reach the idle
      // pooled connection, and the session (a live view) picks up the latest one
      yield* serverSaw(peer, 1)
      yield* eventually(() => first!.bytes.length > 0 && !sameBytes(first!.bytes, atHandshake))
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, { tls: { ca } })
        expect(yield* socket.getReusedTimes).toBe(1)
        expect(yield* ping(socket, "after tickets")).toBe("after tickets")
        yield* socket.setKeepalive()
      }))
      const stats = (yield* ConnectionPool.stats).get(`127.0.0.1:${peer.port} tls=${first!.identity}`)
      expect(stats?.evicted).toEqual({ idleTimeout: 0, lru: 0, peerActivity: 0, shutdown: 0 })
      expect([stats?.idle, stats?.reused, peer.accepted(), peer.secure.length]).toEqual([1, 1, 1, 1])
      // the session kept the latest ticket: it resumes on a new connection (another pool name)
      const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, { pool: "fresh", tls: { ca, session: first } })
      const resumed = Option.getOrThrow(yield* socket.sslHandshake({ ca }))
      expect(resumed.resumed).toBe(true)
      yield* serverSaw(peer, 2)
      expect(peer.secure.map((s) => s.resumed)).toEqual([false, true])
    })))

  it.live("two SNI names on one address and port never share a pooled connection", () =>
    run(Effect.gen(function*() {
      const peer = yield* sniServer
      const round = (serverName: string) =>
        Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, { tls: { serverName, ca } })
          const reused = yield* socket.getReusedTimes
          expect(yield* ping(socket, serverName)).toBe(serverName)
          yield* socket.setKeepalive()
          return reused
        }))
      expect(yield* round("a.test")).toBe(0)
      expect(yield* round("b.test")).toBe(0)
      expect(yield* round("a.test")).toBe(1)
      expect(yield* round("b.test")).toBe(1)
      expect(peer.accepted()).toBe(2)
      expect(peer.secure.map((s) => s.servername)).toEqual(["a.test", "b.test"])
      const keys = [...(yield* ConnectionPool.stats).keys()].sort()
      expect(keys.length).toBe(2)
      expect(keys[0]).toMatch(
        new RegExp(`^127\\.0\\.0\\.1:${peer.port} tls=sni=a\\.test,verify=1,ca=[0-9a-f]{64},cert=-$`)
      )
      expect(keys[1]).toMatch(
        new RegExp(`^127\\.0\\.0\\.1:${peer.port} tls=sni=b\\.test,verify=1,ca=[0-9a-f]{64},cert=-$`)
      )
    })))

  it.live("verification, CA and client certificate are part of the key too", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer({ ...serverCert, requestCert: true, rejectUnauthorized: false, ca })
      const variants: ReadonlyArray<TlsApi.TlsOptions> = [
        { ca },
        { ca, verify: false },
        { verify: false },
        { ca, ...clientCert }
      ]
      for (let round = 0; round < 2; round++) {
        for (const tls of variants) {
          yield* Effect.scoped(Effect.gen(function*() {
            const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, { tls })
            expect(yield* socket.getReusedTimes).toBe(round)
            expect(yield* ping(socket, "v")).toBe("v")
            yield* socket.setKeepalive()
          }))
        }
      }
      expect(peer.accepted()).toBe(4)
      expect((yield* ConnectionPool.stats).size).toBe(4)
      expect(peer.secure.map((s) => s.clientCn)).toEqual([
        undefined,
        undefined,
        undefined,
        "effect-cosocket-test-client"
      ])
    })))

  it.live("TCP-SSL-019 (ours) a pooled TLS connection with another identity: TlsError mismatch, nothing changes", () =>
    run(Effect.gen(function*() {
      const peer = yield* sniServer
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* TcpSocket.make
        yield* socket.connect("127.0.0.1", peer.port)
        yield* socket.sslHandshake({ serverName: "a.test", verify: false })
        yield* socket.setKeepalive()
      }))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* socket.getReusedTimes).toBe(1)
      // OpenResty returns the pooled session without checking b.test; we refuse
      const error = yield* Effect.flip(socket.sslHandshake({ serverName: "b.test", verify: true, ca }))
      expect(error).toBeInstanceOf(CosocketError.TlsError)
      expect([(error as CosocketError.TlsError).reason, error.message]).toEqual(["mismatch", "tls identity mismatch"])
      expect(CosocketError.disposition(error as CosocketError.TlsError)).toBe("reusable")
      // the connection is untouched: still TLS with a.test, usable, and the right identity returns at once
      expect(yield* ping(socket, "still a.test")).toBe("still a.test")
      const same = yield* socket.sslHandshake({ serverName: "a.test", verify: false })
      expect(Option.map(same, (s) => s.identity.startsWith("sni=a.test,verify=0,"))).toEqual(Option.some(true))
      expect(peer.secure.length).toBe(1)
      expect(peer.accepted()).toBe(1)
    })))

  it.live("a second sslHandshake on the same connection returns at once (same identity)", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert)
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const a = Option.getOrThrow(yield* socket.sslHandshake({ ca }))
      const b = yield* socket.sslHandshake({ ca, keepSession: false })
      const c = Option.getOrThrow(yield* socket.sslHandshake({ ca }))
      expect(b).toEqual(Option.none())
      expect(c.identity).toBe(a.identity)
      yield* serverSaw(peer, 1)
      expect(peer.secure.length).toBe(1)
    })))

  it.live("a failed handshake during connect frees its pool slot; the next connect starts afresh", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverBCert)
      const r = yield* Effect.result(TcpSocket.connect("127.0.0.1", peer.port, { tls: { serverName: "a.test", ca } }))
      expect(Result.isFailure(r) && r.failure.message).toBe("certificate host mismatch")
      const stats = yield* ConnectionPool.stats
      expect([...stats.values()].map((s) => [s.active, s.idle])).toEqual([])
      const ok = yield* TcpSocket.connect("127.0.0.1", peer.port, { tls: { serverName: "b.test", ca } })
      expect(yield* ping(ok, "b")).toBe("b")
    })))
})

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((byte, i) => byte === b[i])
