/**
 * Spans through Effect's tracer (an in-memory tracer records them), pool metrics under
 * OpenTelemetry's connection-pool names (read from the metric registry), and no secret-derived
 * value in stats, metric attributes, span attributes or error messages. Real loopback sockets.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { TestClock } from "effect/testing"
import * as Tracer from "effect/Tracer"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import * as Redis from "../examples/redis/RedisClient.js"
import { ConnectionPool, CosocketConfig, TcpSocket } from "../src/index.js"
import * as credential from "../src/internal/credential.js"
import type { TcpSocketImpl } from "../src/internal/tcp/socket.js"
import * as tlsInternal from "../src/internal/tlsOptions.js"
import { NodeCosocket } from "../src/node/index.js"
import { run, server } from "./support/loopback.js"
import { stubTransport } from "./support/stubTransport.js"
import { ca, clientCert, serverCert, tlsServer } from "./support/tls.js"

/** A tracer that keeps every span it makes. */
const recorder = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

const attributes = (span: Tracer.Span): Record<string, unknown> => Object.fromEntries(span.attributes)
const parentName = (span: Tracer.Span): string | undefined => {
  const parent = Option.getOrUndefined(span.parent)
  return parent?._tag === "Span" ? parent.name : undefined
}
const outcome = (span: Tracer.NativeSpan): string => span.status._tag === "Ended" ? span.status.exit._tag : "Started"

/** An echo server: every byte comes back. */
const echo = (socket: Net.Socket) => socket.pipe(socket)

/** A port nothing listens on (a server was there a moment ago). */
const closedPort = Effect.callback<number>((resume) => {
  const srv = Net.createServer()
  srv.listen(0, "127.0.0.1", () => {
    const port = (srv.address() as Net.AddressInfo).port
    srv.close(() => resume(Effect.succeed(port)))
  })
})

describe("tracing", () => {
  it.live("cosocket.connect: OpenTelemetry attributes, reused_times of a pooled connect, error.type", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(echo)
      const { spans, tracer } = recorder()
      const port = peer.port
      const refused = yield* closedPort
      yield* Effect.gen(function*() {
        const first = yield* TcpSocket.connect("127.0.0.1", port)
        yield* first.setKeepalive()
        const second = yield* TcpSocket.connect("127.0.0.1", port)
        yield* second.close
        yield* Effect.flip(TcpSocket.connect("127.0.0.1", refused))
      }).pipe(Effect.withTracer(tracer))
      expect(spans.map((s) => [s.name, s.kind, outcome(s)])).toEqual([
        ["cosocket.connect", "client", "Success"],
        ["cosocket.connect", "client", "Success"],
        ["cosocket.connect", "client", "Failure"]
      ])
      const fresh = {
        "server.address": "127.0.0.1",
        "server.port": port,
        "network.transport": "tcp",
        "cosocket.pool.key": `127.0.0.1:${port}`,
        "cosocket.reused_times": 0,
        "network.peer.address": "127.0.0.1",
        "network.peer.port": port
      }
      expect(attributes(spans[0])).toEqual(fresh)
      expect(attributes(spans[1])).toEqual({ ...fresh, "cosocket.reused_times": 1 })
      expect(attributes(spans[2])).toEqual({
        "server.address": "127.0.0.1",
        "server.port": refused,
        "network.transport": "tcp",
        "cosocket.pool.key": `127.0.0.1:${refused}`,
        "error.type": "ConnectError"
      })
    })))

  it.live("cosocket.resolve: a host name's lookup is a child span of the connect", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(echo)
      const { spans, tracer } = recorder()
      const lookups: Array<string> = []
      // Answers asynchronously, as dns.lookup does (the socket reports a lookup with its 'lookup' event).
      const lookup: Net.LookupFunction = (hostname, options, callback) =>
        setImmediate(() => resolveName(hostname, options, callback))
      const resolveName: Net.LookupFunction = (hostname, options, callback) => {
        lookups.push(hostname)
        if (hostname !== "db.test") {
          const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" })
          return (callback as (e: Error) => void)(error)
        }
        if (options.all === true) {
          return (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
            { address: "127.0.0.1", family: 4 }
          ])
        }
        callback(null, "127.0.0.1", 4)
      }
      yield* Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("db.test", peer.port)
        yield* socket.close
        yield* Effect.flip(TcpSocket.connect("nowhere.test", peer.port))
      }).pipe(Effect.withTracer(tracer), Effect.provide(NodeCosocket.tcpConnectorWith({ lookup })))
      expect(lookups).toEqual(["db.test", "nowhere.test"])
      expect(spans.map((s) => [s.name, parentName(s), outcome(s)])).toEqual([
        ["cosocket.connect", undefined, "Success"],
        ["cosocket.resolve", "cosocket.connect", "Success"],
        ["cosocket.connect", undefined, "Failure"],
        ["cosocket.resolve", "cosocket.connect", "Failure"]
      ])
      expect(attributes(spans[1])).toEqual({ "server.address": "db.test", "network.peer.address": "127.0.0.1" })
      expect(attributes(spans[0])).toMatchObject({ "server.address": "db.test", "network.peer.address": "127.0.0.1" })
      expect(attributes(spans[3])).toEqual({ "server.address": "nowhere.test", "error.type": "ENOTFOUND" })
      expect(attributes(spans[2])["error.type"]).toBe("ConnectError")
      // the resolve span ends when the lookup does, before the connect span
      const ended = (s: Tracer.NativeSpan) => s.status._tag === "Ended" ? s.status.endTime : -1n
      expect(ended(spans[1]) <= ended(spans[0])).toBe(true)
    })))

  it.live("cosocket.pool.wait: a connect waiting in the backlog, granted or timed out", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(echo)
      const { spans, tracer } = recorder()
      const options = { pool: "backlog", poolSize: 1, backlog: 1 }
      yield* Effect.gen(function*() {
        const holder = yield* TcpSocket.make
        yield* holder.connect("127.0.0.1", peer.port, options)
        const waiter = yield* TcpSocket.make
        const waiting = yield* Effect.forkChild(waiter.connect("127.0.0.1", peer.port, options))
        yield* Effect.yieldNow
        yield* holder.setKeepalive()
        yield* Fiber.join(waiting)
        const late = yield* TcpSocket.make
        yield* late.setTimeout("30 millis")
        expect((yield* Effect.flip(late.connect("127.0.0.1", peer.port, options)))._tag).toBe("SocketTimeout")
      }).pipe(Effect.withTracer(tracer))
      expect(spans.map((s) => [s.name, parentName(s), outcome(s)])).toEqual([
        ["cosocket.connect", undefined, "Success"],
        ["cosocket.connect", undefined, "Success"],
        ["cosocket.pool.wait", "cosocket.connect", "Success"],
        ["cosocket.connect", undefined, "Failure"],
        ["cosocket.pool.wait", "cosocket.connect", "Failure"]
      ])
      expect(attributes(spans[2])).toEqual({ "cosocket.pool.key": "backlog" })
      expect(spans[2].kind).toBe("internal")
      expect(attributes(spans[1])["cosocket.reused_times"]).toBe(1)
      expect(attributes(spans[4])).toEqual({ "cosocket.pool.key": "backlog", "error.type": "SocketTimeout" })
      expect(attributes(spans[3])["error.type"]).toBe("SocketTimeout")
    })))

  it.live("cosocket.tls.handshake: tls.* attributes, in connect and in sslHandshake", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer({ ...serverCert })
      const { spans, tracer } = recorder()
      yield* Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, {
          tls: { ca, serverName: "localhost", alpnProtocols: ["x-test"] }
        })
        yield* socket.close
        const plain = yield* TcpSocket.connect("127.0.0.1", peer.port)
        yield* plain.sslHandshake({ ca, serverName: "localhost", maxVersion: "TLSv1.2" })
        yield* plain.close
      }).pipe(Effect.withTracer(tracer))
      expect(spans.map((s) => [s.name, parentName(s), outcome(s)])).toEqual([
        ["cosocket.connect", undefined, "Success"],
        ["cosocket.tls.handshake", "cosocket.connect", "Success"],
        ["cosocket.connect", undefined, "Success"],
        ["cosocket.tls.handshake", undefined, "Success"]
      ])
      const handshake = {
        "network.transport": "tcp",
        "server.address": "127.0.0.1",
        "tls.client.server_name": "localhost",
        "tls.established": true,
        "tls.resumed": false,
        "tls.protocol.name": "tls"
      }
      expect(attributes(spans[1])).toEqual({ ...handshake, "tls.protocol.version": "1.3" })
      expect(attributes(spans[3])).toEqual({ ...handshake, "tls.protocol.version": "1.2" })
      expect(attributes(spans[0])["cosocket.pool.key"]).toMatch(/^127\.0\.0\.1:\d+ tls=sni=localhost,verify=1,/)
    })))

  it.live("cosocket.send / cosocket.receive only with CosocketConfig.traceIo", () =>
    Effect.gen(function*() {
      const exchange = (tracer: Tracer.Tracer) =>
        Effect.gen(function*() {
          const peer = yield* server(echo)
          yield* Effect.gen(function*() {
            const socket = yield* TcpSocket.connect("127.0.0.1", peer.port)
            expect(yield* socket.send("hello\n")).toBe(6)
            expect(TcpSocket.text(yield* socket.receive())).toBe("hello")
            // a read that times out: a failed span; calls refused by the state checks: no span
            yield* socket.setTimeout("20 millis")
            expect((yield* Effect.flip(socket.receive(4)))._tag).toBe("SocketReadTimeout")
            yield* socket.close
            expect((yield* Effect.flip(socket.send("late")))._tag).toBe("SocketClosed")
            expect((yield* Effect.flip(socket.receive()))._tag).toBe("SocketClosed")
          }).pipe(Effect.withTracer(tracer))
          return peer.port
        })
      const off = recorder()
      yield* run(exchange(off.tracer))
      expect(off.spans.map((s) => s.name)).toEqual(["cosocket.connect"])

      const on = recorder()
      const port = yield* run(exchange(on.tracer), { traceIo: true })
      expect(on.spans.map((s) => [s.name, outcome(s)])).toEqual([
        ["cosocket.connect", "Success"],
        ["cosocket.send", "Success"],
        ["cosocket.receive", "Success"],
        ["cosocket.receive", "Failure"]
      ])
      const key = `127.0.0.1:${port}`
      expect(attributes(on.spans[1])).toEqual({
        "network.transport": "tcp",
        "cosocket.pool.key": key,
        "cosocket.bytes": 6
      })
      expect(attributes(on.spans[2])).toEqual({
        "network.transport": "tcp",
        "cosocket.pool.key": key,
        "cosocket.operation": "receive",
        "cosocket.bytes": 5
      })
      expect(attributes(on.spans[3])).toEqual({
        "network.transport": "tcp",
        "cosocket.pool.key": key,
        "cosocket.operation": "receive",
        "error.type": "SocketReadTimeout"
      })
    }))

  it.effect("CosocketConfig.traceIo: off by default, a boolean", () =>
    Effect.gen(function*() {
      expect(CosocketConfig.defaults.traceIo).toBe(false)
      expect((yield* CosocketConfig.make({ traceIo: true })).traceIo).toBe(true)
      const bad = yield* Effect.flip(CosocketConfig.make({ traceIo: "yes" as never }))
      expect([bad._tag, bad.message]).toEqual(["InvalidArgument", `bad "traceIo" option type: string`])
    }))

  it.live("no tracer (Effect's native one) or tracing disabled: the socket makes no span", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(echo)
      const untraced = yield* TcpSocket.make
      expect((untraced as TcpSocketImpl).tracing).toBeUndefined()
      const { spans, tracer } = recorder()
      const traced = yield* TcpSocket.make.pipe(Effect.withTracer(tracer))
      expect((traced as TcpSocketImpl).tracing).toEqual({ io: false })
      yield* Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("127.0.0.1", peer.port)
        yield* socket.close
      }).pipe(Effect.withTracer(tracer), Effect.withTracerEnabled(false))
      expect(spans).toEqual([])
    })))
})

describe("pool metrics", () => {
  const value = <S>(metric: Metric.Metric<number, S>, attributes: Record<string, string>) =>
    Metric.value(metric.pipe(Metric.withAttributes(attributes)))
  const count = (metric: Metric.Counter<number>, attributes: Record<string, string>) =>
    Effect.map(value(metric, attributes), (s) => s.count)
  const M = ConnectionPool.metrics

  it.effect("db.client.connection.*: count by state, max, pending_requests, timeouts, and the three durations", () =>
    Effect.gen(function*() {
      const name = "metrics-otel"
      const pool = yield* ConnectionPool.make({ pools: { [name]: { size: 1, backlog: 1 } } })
      const pn = { "pool.name": name }
      const state = Effect.all([
        count(M.connectionCount, { ...pn, state: "idle" }),
        count(M.connectionCount, { ...pn, state: "used" }),
        count(M.connectionMax, pn),
        count(M.pendingRequests, pn)
      ])
      expect(yield* state).toEqual([0, 0, 1, 0])
      const first = yield* pool.acquire(name, {}, Duration.infinity)
      yield* TestClock.adjust("20 millis")
      first.connected?.()
      const waiting = yield* Effect.forkChild(pool.acquire(name, {}, Duration.seconds(1)))
      yield* TestClock.adjust("0 millis")
      expect(yield* state).toEqual([0, 1, 1, 1])
      yield* TestClock.adjust("30 millis")
      first.release()
      const second = yield* Fiber.join(waiting)
      expect(yield* state).toEqual([0, 1, 1, 0])
      // a wait that times out
      const late = yield* Effect.forkChild(Effect.flip(pool.acquire(name, {}, Duration.millis(100))))
      yield* TestClock.adjust("100 millis")
      expect((yield* Fiber.join(late))._tag).toBe("SocketTimeout")
      expect(yield* count(M.timeouts, pn)).toBe(1)
      second.release()
      expect(yield* state).toEqual([0, 0, 1, 0])

      const histogram = (metric: Metric.Histogram<number>) => Effect.map(value(metric, pn), (s) => [s.count, s.sum])
      expect(yield* histogram(M.createTime)).toEqual([1, 0.02])
      expect(yield* histogram(M.useTime)).toEqual([1, 0.03])
      expect(yield* histogram(M.waitTime)).toEqual([1, 0.03])
      expect(yield* count(M.created, pn)).toBe(2)
      expect(yield* count(M.reused, pn)).toBe(0) // (reading a series registers it)
      const snapshot = (yield* Metric.snapshot).filter((m) => m.attributes?.["pool.name"] === name)
      expect(snapshot.map((m) => m.id).sort()).toEqual([
        "cosocket.pool.connection.created",
        "cosocket.pool.connection.reused",
        "db.client.connection.count",
        "db.client.connection.count",
        "db.client.connection.create_time",
        "db.client.connection.max",
        "db.client.connection.pending_requests",
        "db.client.connection.timeouts",
        "db.client.connection.use_time",
        "db.client.connection.wait_time"
      ])
    }))

  it.effect("created and reused never go down: a key whose pool empties and goes away keeps its counts", () =>
    Effect.gen(function*() {
      const name = "metrics-monotonic"
      const pn = { "pool.name": name }
      const pool = yield* ConnectionPool.make()
      const transport = stubTransport()
      const first = yield* pool.acquire(name, {}, Duration.infinity)
      expect(first.checkin({ transport, reusedTimes: 0 }, Duration.infinity)).toBe(true)
      const again = yield* pool.acquire(name, {}, Duration.infinity)
      expect(again.reused?.reusedTimes).toBe(1)
      again.release() // the key's pool is empty now, and undeclared: it goes away
      expect((yield* pool.stats).has(name)).toBe(false)
      expect([yield* count(M.created, pn), yield* count(M.reused, pn)]).toEqual([1, 1])
      const third = yield* pool.acquire(name, {}, Duration.infinity)
      expect([yield* count(M.created, pn), yield* count(M.reused, pn)]).toEqual([2, 1])
      third.release()
      expect([yield* count(M.created, pn), yield* count(M.reused, pn)]).toEqual([2, 1])
    }))

  it.effect("two pools (two layers) in one process add up instead of overwriting; a closed pool takes its share back", () =>
    Effect.gen(function*() {
      const name = "metrics-two-pools"
      const pn = { "pool.name": name }
      const a = yield* ConnectionPool.make({ pools: { [name]: { size: 3 } } })
      const la = yield* a.acquire(name, {}, Duration.infinity)
      const totals = Effect.all([count(M.connectionCount, { ...pn, state: "used" }), count(M.connectionMax, pn)])
      expect(yield* totals).toEqual([1, 3])
      yield* Effect.scoped(Effect.gen(function*() {
        const b = yield* ConnectionPool.make({ pools: { [name]: { size: 5 } } })
        const lb1 = yield* b.acquire(name, {}, Duration.infinity)
        yield* b.acquire(name, {}, Duration.infinity)
        expect(yield* totals).toEqual([3, 8])
        lb1.release()
        expect(yield* totals).toEqual([2, 8])
      }))
      // b shut down: its capacity is gone; its lease still held counts until released
      expect(yield* totals).toEqual([2, 3])
      la.release()
      expect(yield* totals).toEqual([1, 3])
    }))
})

describe("secrets", () => {
  const password = "hunter2-Pw-4c9e"
  const user = "app"
  const passphrase = "pass-Phrase-77d1"
  const keyPem = clientCert.key.toString("latin1")

  /** Every value derived from a secret that must not leave the process: the secrets and their usual hashes. */
  const needles = (() => {
    const secrets = [password, `${user}\0${password}`, `${user}:${password}`, passphrase, keyPem]
    const out = new Set<string>()
    for (const s of secrets) {
      out.add(s)
      for (const algorithm of ["sha256", "sha1", "md5", "sha512"]) {
        const digest = Crypto.createHash(algorithm).update(s).digest()
        out.add(digest.toString("hex").slice(0, 16))
        out.add(digest.toString("base64").slice(0, 16))
      }
    }
    // lines of the PEM body (any 40 characters of the key)
    for (const line of keyPem.split("\n")) {
      if (line.length >= 40 && !line.startsWith("-----")) out.add(line.slice(0, 40))
    }
    return Array.from(out)
  })()

  const leaks = (haystack: string): Array<string> =>
    needles.filter((n) => haystack.toLowerCase().includes(n.toLowerCase()))

  it.live("a password and a client key: not in stats, metric attributes, span attributes or error messages", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer({ ...serverCert, requestCert: true, rejectUnauthorized: true, ca })
      const { spans, tracer } = recorder()
      const pool = `${user}@127.0.0.1:${peer.port}#${ConnectionPool.credentialId(user, Redacted.make(password))}`
      const tls = {
        ca,
        serverName: "localhost",
        cert: clientCert.cert,
        key: Redacted.make(keyPem),
        passphrase: Redacted.make(passphrase)
      }
      const errors: Array<string> = []
      const stats = yield* Effect.gen(function*() {
        const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, { pool, tls })
        yield* socket.send("ping\n")
        expect(TcpSocket.text(yield* socket.receive())).toBe("ping")
        yield* socket.setKeepalive()
        // a plain-string key works the same and gives the same pool key (the secret is not in it)
        const again = yield* TcpSocket.connect("127.0.0.1", peer.port, { pool, tls: { ...tls, key: keyPem } })
        expect(yield* again.getReusedTimes).toBe(1)
        yield* again.setKeepalive()
        // failures: a key that does not match the certificate, bad option types
        const mismatched = yield* Effect.flip(
          TcpSocket.connect("127.0.0.1", peer.port, { tls: { ...tls, key: Redacted.make(serverCert.key) } })
        )
        const badPassphrase = yield* Effect.flip(
          TcpSocket.connect("127.0.0.1", peer.port, { tls: { ...tls, passphrase: 42 as never } })
        )
        const badKey = yield* Effect.flip(
          TcpSocket.connect("127.0.0.1", peer.port, { tls: { ...tls, key: Redacted.make(7) as never } })
        )
        expect([mismatched._tag, badPassphrase._tag, badKey._tag]).toEqual([
          "TlsError",
          "InvalidArgument",
          "InvalidArgument"
        ])
        expect(badPassphrase.message).toBe(`bad "passphrase" option: string or Redacted expected, got number`)
        expect(badKey.message).toBe(`bad "key" option: string, Uint8Array or Redacted expected, got Redacted`)
        for (const e of [mismatched, badPassphrase, badKey]) errors.push(e.message, String(e), JSON.stringify(e))
        return yield* ConnectionPool.stats
      }).pipe(Effect.withTracer(tracer))

      expect(Array.from(stats.values()).find((s) => s.key.startsWith(`${pool} tls=`))).toMatchObject({
        idle: 1,
        reused: 1
      })
      const statsText = JSON.stringify(Array.from(stats.entries()))
      const metrics = (yield* Metric.snapshot).map((m) => JSON.stringify({ id: m.id, attributes: m.attributes }))
      const spanText = JSON.stringify(
        spans.map((s) => ({ name: s.name, attributes: Object.fromEntries(s.attributes), events: s.events }))
      )
      // arguments are validated before any span: the two bad option types make none
      expect(spans.filter((s) => s.name === "cosocket.connect").map((s) => s.attributes.get("error.type"))).toEqual([
        undefined,
        undefined,
        "TlsError"
      ])
      // the options as the engine holds them print no secret either
      const parsed = tlsInternal.parse(tls, "127.0.0.1") as tlsInternal.ParsedTls
      const optionsText = JSON.stringify(parsed.upgrade) + String(parsed.upgrade.key) +
        String(parsed.upgrade.passphrase)
      expect(String(parsed.upgrade.key)).toBe("<redacted>") // the caller's own Redacted, kept
      const plain = tlsInternal.parse({ ...tls, key: keyPem, passphrase }, "127.0.0.1") as tlsInternal.ParsedTls
      expect([String(plain.upgrade.key), String(plain.upgrade.passphrase)]).toEqual([
        "<redacted:tls>",
        "<redacted:tls>"
      ])
      expect(Redacted.value(plain.upgrade.key!)).toBe(keyPem)
      const redisKey = Redis.poolKey({ host: "127.0.0.1", port: 6379, username: user, password })
      expect(redisKey).toMatch(/^redis:\/\/app@127\.0\.0\.1:6379\/0#cred-[0-9a-f]{16}$/)

      expect(statsText).toContain(pool)
      expect(metrics.some((m) => m.includes(pool))).toBe(true)
      const texts = [statsText, metrics.join("\n"), spanText, errors.join("\n"), optionsText, redisKey]
      for (const text of [...texts, JSON.stringify(plain.upgrade)]) {
        expect(leaks(text)).toEqual([])
      }
    })))

  it("credentialId: keyed per process (not an unkeyed hash), stable, length-prefixed, Redacted or plain", () => {
    const id = ConnectionPool.credentialId(user, password)
    expect(id).toMatch(/^cred-[0-9a-f]{16}$/)
    expect(ConnectionPool.credentialId(user, Redacted.make(password))).toBe(id)
    expect(ConnectionPool.credentialId(user, new TextEncoder().encode(password))).toBe(id)
    expect(ConnectionPool.credentialId(user, "other")).not.toBe(id)
    expect(ConnectionPool.credentialId("ab", "c")).not.toBe(ConnectionPool.credentialId("a", "bc"))
    expect(leaks(id)).toEqual([])
    // HMAC-SHA-256 of the length-prefixed parts as node:crypto computes it (RFC 4231 case 2's key and
    // message; a key longer than the hash block, which HMAC hashes first, over no part at all)
    const message = "what do ya want for nothing?"
    const mac = credential.keyedDigest(new TextEncoder().encode("Jefe"), [message])
    const framed = Buffer.concat([Buffer.from([0, 0, 0, message.length]), Buffer.from(message)])
    expect(Buffer.from(mac).toString("hex")).toBe(Crypto.createHmac("sha256", "Jefe").update(framed).digest("hex"))
    expect(Buffer.from(mac).toString("hex")).toBe("6298cecdfbe401fe7a2c98963b8fc9fce1d110839f3a1ac4f873523359f55750")
    expect(credential.keyedDigest(new TextEncoder().encode("Jefe"), [Redacted.make(message)])).toEqual(mac)
    const long = new Uint8Array(131).fill(0xaa)
    expect(Buffer.from(credential.keyedDigest(long, [])).toString("hex")).toBe(
      Crypto.createHmac("sha256", long).digest("hex")
    )
    expect(credential.credentialId(user, password)).toBe(id)
  })
})
