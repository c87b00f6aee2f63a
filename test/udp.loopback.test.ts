/**
 * Catalog group UDP on real `node:dgram` peers over 127.0.0.1 and ::1.
 *
 * UDP-001/002 against memcached are in udp.memcached.test.ts (they also run here against a local
 * peer with memcached's frame header). UDP-009/UDP-010 need the internet or a resolver: the local
 * equivalents are a DNS-shaped exchange with a local peer and `setPeername("nosuch.invalid", 53)`
 * giving a typed resolve error. UDP-011: Node has no unix datagram sockets, so `unix:` peers are a
 * typed InvalidArgument (our behaviour, documented).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Dgram from "node:dgram"
import { CosocketConfig, type Transport, UdpSocket } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1")

interface Received {
  readonly data: Buffer
  readonly address: string
  readonly port: number
}

interface Peer {
  readonly host: string
  readonly port: number
  readonly received: Array<Received>
  readonly socket: Dgram.Socket
  /** Sends to the source of the n-th received datagram. */
  readonly replyTo: (n: number, data: string | Uint8Array) => Effect.Effect<void>
}

type OnMessage = (message: Buffer, reply: (data: string | Uint8Array) => void, rinfo: Dgram.RemoteInfo) => void

/** A `node:dgram` peer on `host`, port 0, closed by the scope. */
const udpPeer = (host: string, onMessage: OnMessage = () => {}): Effect.Effect<Peer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Peer>((resume) => {
      const socket = Dgram.createSocket(host.includes(":") ? "udp6" : "udp4")
      const received: Array<Received> = []
      socket.on("error", () => {})
      socket.on("message", (message, rinfo) => {
        received.push({ data: message, address: rinfo.address, port: rinfo.port })
        onMessage(message, (data) => socket.send(data, rinfo.port, rinfo.address), rinfo)
      })
      socket.bind(0, host, () => {
        resume(Effect.succeed({
          host,
          port: socket.address().port,
          received,
          socket,
          replyTo: (n, data) =>
            Effect.callback<void>((done) => {
              const r = received[n]!
              socket.send(data, r.port, r.address, () => done(Effect.void))
            })
        }))
      })
    }),
    (peer) =>
      Effect.callback<void>((done) => {
        peer.socket.close(() => done(Effect.void))
      })
  )

/** An echo peer. */
const echoPeer = (host: string) => udpPeer(host, (message, reply) => reply(message))

/** A UDP port nothing listens on (bound once, then closed). */
const closedPort = (host: string) =>
  Effect.callback<number>((resume) => {
    const socket = Dgram.createSocket(host.includes(":") ? "udp6" : "udp4")
    socket.bind(0, host, () => {
      const port = socket.address().port
      socket.close(() => resume(Effect.succeed(port)))
    })
  })

/** Polls `condition` every 10 ms for at most 5 s. */
const eventually = (what: string, condition: () => boolean | Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const ok = condition()
      if (typeof ok === "boolean" ? ok : yield* ok) return
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error(`timed out waiting for ${what}`))
  })

const run = <A, E>(
  self: Effect.Effect<A, E, Scope.Scope | Transport.UdpConnector>,
  config: Partial<CosocketConfig.Settings> = {}
) =>
  self.pipe(
    Effect.scoped,
    Effect.provide(NodeCosocket.udpConnector),
    Effect.provideService(CosocketConfig.CosocketConfig, {
      ...CosocketConfig.defaults,
      readTimeout: Duration.seconds(10),
      ...config
    })
  )

const failure = <A, E extends { readonly _tag: string; readonly message: string }, R>(self: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(self), (e) => ({ tag: e._tag, message: e.message }))

/** memcached's UDP frame header: request id, sequence 0, 1 datagram, reserved. */
const frame = (id: number, body: string) => `\x00${String.fromCharCode(id)}\x00\x00\x00\x01\x00\x00${body}`

/** Replies to memcached-framed requests the way memcached answers `flush_all`. */
const memcachedShapedPeer = (host: string) =>
  udpPeer(host, (message, reply) => reply(Buffer.concat([message.subarray(0, 8), Buffer.from("OK\r\n")])))

for (const host of ["127.0.0.1", "::1"]) {
  const peerName = host.includes(":") ? `[${host}]` : host

  describe(`UdpSocket over ${host}`, () => {
    it.live("UDP-001 sanity: setPeername, send a framed request, receive the 12-byte reply", () =>
      run(Effect.gen(function*() {
        const peer = yield* memcachedShapedPeer(host)
        const socket = yield* UdpSocket.make
        yield* socket.setTimeout("5 seconds")
        yield* socket.setPeername(peerName, peer.port)
        yield* socket.send(frame(1, "flush_all\r\n"))
        expect(latin1(yield* socket.receive())).toBe("\x00\x01\x00\x00\x00\x01\x00\x00OK\r\n")
        expect(latin1(peer.received[0]!.data)).toBe(frame(1, "flush_all\r\n"))
        yield* socket.close
      })))

    it.live("UDP-002 two queries in flight, two 12-byte replies in either order", () =>
      run(Effect.gen(function*() {
        const peer = yield* memcachedShapedPeer(host)
        const socket = yield* UdpSocket.make
        yield* socket.setPeername(peerName, peer.port)
        yield* socket.send(frame(1, "flush_all\r\n"))
        yield* socket.send(frame(2, "flush_all\r\n"))
        const replies = [latin1(yield* socket.receive()), latin1(yield* socket.receive())].sort()
        expect(replies).toEqual([
          "\x00\x01\x00\x00\x00\x01\x00\x00OK\r\n",
          "\x00\x02\x00\x00\x00\x01\x00\x00OK\r\n"
        ])
      })))

    it.live("UDP-003 nothing listening: send succeeds, receive is ConnectError \"connection refused\"; still usable", () =>
      run(Effect.gen(function*() {
        const port = yield* closedPort(host)
        const socket = yield* UdpSocket.make
        yield* socket.setPeername(peerName, port)
        yield* socket.send("hello")
        const error = yield* Effect.flip(socket.receive())
        expect(error._tag).toBe("ConnectError")
        expect(error.message).toBe("connection refused")
        expect(error).toMatchObject({ code: "ECONNREFUSED", address: `${peerName}:${port}` })
        // The socket stays usable: a second exchange reports the same.
        yield* socket.send("again")
        expect(yield* failure(socket.receive())).toEqual({ tag: "ConnectError", message: "connection refused" })
        yield* socket.close
      })))

    it.live("UDP-005 setPeername twice closes the first socket; send, receive, close", () =>
      run(Effect.gen(function*() {
        const first = yield* echoPeer(host)
        const second = yield* echoPeer(host)
        const socket = yield* UdpSocket.make
        yield* socket.setPeername(peerName, first.port)
        const firstLocal = yield* socket.localAddressInfo
        yield* socket.setPeername(peerName, second.port)
        expect((yield* socket.remoteAddressInfo).port).toBe(second.port)
        yield* socket.send("ping")
        expect(latin1(yield* socket.receive())).toBe("ping")
        // The first socket is closed: its port no longer receives.
        yield* Effect.callback<void>((done) =>
          first.socket.send("to the old socket", firstLocal.port, firstLocal.address, () => done(Effect.void))
        )
        yield* socket.send("pong")
        expect(latin1(yield* socket.receive())).toBe("pong")
        expect(first.received.length).toBe(0)
        yield* socket.close
      })))

    it.live("UDP-006 silent peer: receive times out (recoverable), a later datagram is received", () =>
      run(Effect.gen(function*() {
        const peer = yield* udpPeer(host)
        const socket = yield* UdpSocket.make
        yield* socket.setTimeout("100 millis")
        yield* socket.setPeername(peerName, peer.port)
        yield* socket.send("anyone?")
        const error = yield* Effect.flip(socket.receive())
        expect(error._tag).toBe("SocketReadTimeout")
        expect(error.message).toBe("timeout")
        expect(error).toMatchObject({ operation: "receive", partial: new Uint8Array(0) })
        yield* eventually("the request", () => peer.received.length === 1)
        yield* peer.replyTo(0, "late reply")
        yield* socket.setTimeout("10 seconds")
        expect(latin1(yield* socket.receive())).toBe("late reply")
      })))

    it.live("UDP-007 receive(1400) returns the 12-byte datagram", () =>
      run(Effect.gen(function*() {
        const peer = yield* memcachedShapedPeer(host)
        const socket = yield* UdpSocket.make
        yield* socket.setPeername(peerName, peer.port)
        yield* socket.send(frame(1, "flush_all\r\n"))
        const reply = yield* socket.receive(1400)
        expect(reply.length).toBe(12)
        expect(latin1(reply)).toBe("\x00\x01\x00\x00\x00\x01\x00\x00OK\r\n")
      })))

    it.live("UDP-009 (local equivalent) a DNS-shaped query and answer with a local peer", () =>
      run(Effect.gen(function*() {
        const peer = yield* udpPeer(host, (query, reply) => reply(dnsAnswer(query)))
        const socket = yield* UdpSocket.make
        yield* socket.setPeername(peerName, peer.port)
        const query = dnsQuery(0x4d2e, "example.test")
        yield* socket.send(query)
        const answer = Buffer.from(yield* socket.receive())
        expect(peer.received[0]!.data.equals(query)).toBe(true)
        expect(answer.readUInt16BE(0)).toBe(0x4d2e) // id
        expect(answer.readUInt16BE(2)).toBe(0x8180) // standard response, no error
        expect([answer.readUInt16BE(4), answer.readUInt16BE(6)]).toEqual([1, 1]) // 1 question, 1 answer
        expect([...answer.subarray(answer.length - 4)]).toEqual([192, 0, 2, 1])
        expect(answer.length).toBe(query.length + 16)
      })))

    it.live("UDP-013 port 65536 is InvalidArgument \"bad port number: 65536\"", () =>
      run(Effect.gen(function*() {
        const socket = yield* UdpSocket.make
        expect(yield* failure(socket.setPeername(peerName, 65536))).toEqual({
          tag: "InvalidArgument",
          message: "bad port number: 65536"
        })
        expect(yield* failure(socket.send("x"))).toEqual({ tag: "SocketClosed", message: "closed" })
      })))

    it.live("UDP-014 send booleans, numbers and arrays: one datagram each, formatted as Lua does", () =>
      run(Effect.gen(function*() {
        const peer = yield* udpPeer(host)
        const socket = yield* UdpSocket.make
        yield* socket.setPeername(peerName, peer.port)
        const values: ReadonlyArray<UdpSocket.Sendable> = [
          true,
          false,
          123456,
          3.141926,
          Number("3.141592653579397238"), // the catalog's literal, more digits than a double holds
          ["integer: ", 1234567890123],
          ["float: ", 3.1419265]
        ]
        for (const value of values) {
          expect(yield* socket.send(value)).toBeUndefined()
          // One at a time, so the order seen by the peer is the send order.
          const n = peer.received.length + 1
          yield* eventually(`datagram ${n}`, () => peer.received.length === n)
        }
        expect(peer.received.map((r) => r.data.toString("latin1"))).toEqual([
          "true",
          "false",
          "123456",
          "3.141926",
          "3.1415926535794",
          "integer: 1234567890123",
          "float: 3.1419265"
        ])
        // nil has no TypeScript form: undefined is an argument error, nothing is sent.
        expect(yield* failure(socket.send(undefined as never))).toEqual({
          tag: "InvalidArgument",
          message: "string, Uint8Array, number, boolean, or array expected, got undefined"
        })
      })))

    it.live("UDP-017 not full duplex: send, close, setPeername, receive during a receive are SocketBusy", () =>
      run(Effect.gen(function*() {
        const peer = yield* echoPeer(host)
        const socket = yield* UdpSocket.make
        yield* socket.setPeername(peerName, peer.port)
        const reader = yield* Effect.forkChild(socket.receive())
        yield* Effect.sleep("20 millis")
        const busy = { tag: "SocketBusy", message: "socket busy" }
        expect(yield* failure(socket.send("x"))).toEqual(busy)
        expect(yield* failure(socket.close)).toEqual(busy)
        expect(yield* failure(socket.setPeername(peerName, peer.port))).toEqual(busy)
        expect(yield* failure(socket.receive())).toEqual(busy)
        expect(peer.received.length).toBe(0)
        // Let the reader finish through a reply from the peer to our port.
        const local = yield* socket.localAddressInfo
        yield* Effect.callback<void>((done) =>
          peer.socket.send("wake", local.port, local.address, () => done(Effect.void))
        )
        expect(latin1(yield* Fiber.join(reader))).toBe("wake")
        yield* socket.send("x")
        expect(latin1(yield* socket.receive())).toBe("x")
      })))

    it.live("UDP-018 receive(100000) is capped at 65536 and returns a maximal datagram whole; close twice", () =>
      run(Effect.gen(function*() {
        const peer = yield* echoPeer(host)
        const socket = yield* UdpSocket.make
        yield* socket.setPeername(peerName, peer.port)
        const max = host.includes(":") ? 65527 : 65507
        const big = new Uint8Array(max).map((_, i) => i % 251)
        yield* socket.send(big)
        const reply = yield* socket.receive(100000)
        expect(reply.length).toBe(max)
        expect(Buffer.from(reply).equals(Buffer.from(big))).toBe(true)
        // One byte more than IP allows is a send error; nothing sent, socket usable.
        const error = yield* Effect.flip(socket.send(new Uint8Array(max + 1)))
        expect(error._tag).toBe("SocketIoError")
        expect(error.message).toBe("message too long")
        expect(error).toMatchObject({ code: "EMSGSIZE", delivery: "notSent" })
        yield* socket.close
        expect(yield* failure(socket.close)).toEqual({ tag: "SocketClosed", message: "closed" })
      })))

    it.live("never truncate: a 12-byte datagram for receive(8) is DatagramTooLarge(length 12), consumed", () =>
      run(Effect.gen(function*() {
        const peer = yield* udpPeer(host, (_message, reply) => {
          reply("0123456789AB")
          reply("next")
        })
        const socket = yield* UdpSocket.make
        yield* socket.setPeername(peerName, peer.port)
        yield* socket.send("go")
        const error = yield* Effect.flip(socket.receive(8))
        expect(error._tag).toBe("DatagramTooLarge")
        expect(error.message).toBe("buffer too small")
        expect(error).toMatchObject({ size: 8, length: 12 })
        expect(latin1(yield* socket.receive(8))).toBe("next")
      })))

    it.live("bounded queue: with udpQueueSize 4, 10 unread datagrams keep the first 4 and count 6 dropped", () =>
      run(
        Effect.gen(function*() {
          const peer = yield* udpPeer(host, (_message, reply) => {
            for (let i = 0; i < 10; i++) reply(`d${i}`)
          })
          const socket = yield* UdpSocket.make
          yield* socket.setPeername(peerName, peer.port)
          yield* socket.send("burst")
          yield* eventually("6 drops", () => Effect.map(socket.dropped, (n) => n === 6))
          const got: Array<string> = []
          for (let i = 0; i < 4; i++) got.push(latin1(yield* socket.receive()))
          expect(got).toEqual(["d0", "d1", "d2", "d3"])
          yield* socket.setTimeout("50 millis")
          expect((yield* Effect.flip(socket.receive()))._tag).toBe("SocketReadTimeout")
          expect(yield* socket.dropped).toBe(6)
        }),
        { udpQueueSize: 4 }
      ))

    it.live("datagrams from other sources than the peer are not received", () =>
      run(Effect.gen(function*() {
        const peer = yield* udpPeer(host)
        const rogue = yield* udpPeer(host)
        const socket = yield* UdpSocket.make
        yield* socket.setPeername(peerName, peer.port)
        const local = yield* socket.localAddressInfo
        yield* Effect.callback<void>((done) =>
          rogue.socket.send("spoof", local.port, local.address, () => done(Effect.void))
        )
        yield* Effect.callback<void>((done) =>
          peer.socket.send("genuine", local.port, local.address, () => done(Effect.void))
        )
        expect(latin1(yield* socket.receive())).toBe("genuine")
        yield* socket.setTimeout("50 millis")
        expect((yield* Effect.flip(socket.receive()))._tag).toBe("SocketReadTimeout")
      })))

    it.live("closing the scope closes the socket and wakes a blocked receive with SocketClosed", () =>
      run(Effect.gen(function*() {
        const peer = yield* echoPeer(host)
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void)) // also when the test fails
        const socket = yield* UdpSocket.make.pipe(Scope.provide(scope))
        yield* socket.setPeername(peerName, peer.port)
        const local = yield* socket.localAddressInfo
        const reader = yield* Effect.forkChild(Effect.flip(socket.receive()))
        yield* Effect.sleep("20 millis")
        yield* Scope.close(scope, Exit.void)
        const error = yield* Fiber.join(reader)
        expect(error._tag).toBe("SocketClosed")
        expect(error.message).toBe("closed")
        // The port is free again: a new socket can bind it.
        yield* Effect.callback<void>((done) => {
          const probe = Dgram.createSocket(host.includes(":") ? "udp6" : "udp4")
          probe.on("error", (e) => done(Effect.die(e)))
          probe.bind(local.port, local.address, () => probe.close(() => done(Effect.void)))
        })
      })))
  })
}

describe("UdpSocket names, bind and unix peers", () => {
  it.live("UDP-010 (local equivalent) setPeername(\"nosuch.invalid\", 53) is a typed resolve error", () =>
    run(Effect.gen(function*() {
      const socket = yield* UdpSocket.make
      const error = yield* Effect.flip(socket.setPeername("nosuch.invalid", 53))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toBe("nosuch.invalid could not be resolved (3: Host not found)")
      expect(error).toMatchObject({ code: "ENOTFOUND", address: "nosuch.invalid:53" })
      expect(yield* failure(socket.send("x"))).toEqual({ tag: "SocketClosed", message: "closed" })
    })))

  it.live("UDP-010 (local equivalent) a resolvable name: setPeername(\"localhost\", port) exchanges datagrams", () =>
    run(Effect.gen(function*() {
      const peer = yield* echoPeer("127.0.0.1")
      const socket = yield* UdpSocket.make
      yield* socket.bind("127.0.0.1") // resolve localhost as IPv4, like the peer
      yield* socket.setPeername("localhost", peer.port)
      yield* socket.send("by name")
      expect(latin1(yield* socket.receive())).toBe("by name")
      expect(yield* socket.remoteAddressInfo).toEqual({ address: "127.0.0.1", port: peer.port })
    })))

  it.live("UDP-011 (differs: Node has no unix datagram sockets) setPeername(\"unix:...\") is InvalidArgument", () =>
    run(Effect.gen(function*() {
      const socket = yield* UdpSocket.make
      expect(yield* failure(socket.setPeername("unix:/tmp/effect-cosocket-udp.sock"))).toEqual({
        tag: "InvalidArgument",
        message: "datagram unix domain sockets are not supported"
      })
    })))

  it.live("UDP-015 bind(\"127.0.0.10\"): the peer sees that source address; normal exchange", () =>
    run(Effect.gen(function*() {
      const peer = yield* echoPeer("127.0.0.1")
      const socket = yield* UdpSocket.make
      yield* socket.bind("127.0.0.10")
      yield* socket.setPeername("127.0.0.1", peer.port)
      expect((yield* socket.localAddressInfo).address).toBe("127.0.0.10")
      yield* socket.send("bound")
      expect(latin1(yield* socket.receive())).toBe("bound")
      expect(peer.received[0]!.address).toBe("127.0.0.10")
    })))

  it.live("UDP-015 bind(\"127.0.0.1000\") is InvalidArgument \"bad address\"; unusable bind addresses are ConnectError", () =>
    run(Effect.gen(function*() {
      const socket = yield* UdpSocket.make
      expect(yield* failure(socket.bind("127.0.0.1000"))).toEqual({ tag: "InvalidArgument", message: "bad address" })
      yield* socket.bind("::1")
      expect(yield* failure(socket.setPeername("127.0.0.1", 53))).toEqual({
        tag: "ConnectError",
        message: "address family not supported by protocol"
      })
      // An address that is not local cannot be bound: a ConnectError from setPeername, nothing left open.
      yield* socket.bind("192.0.2.1")
      const error = yield* Effect.flip(socket.setPeername("127.0.0.1", 53))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toBe("cannot assign requested address")
      expect(error).toMatchObject({ code: "EADDRNOTAVAIL" })
      expect(yield* failure(socket.send("x"))).toEqual({ tag: "SocketClosed", message: "closed" })
    })))
})

/** A DNS query (RFC 1035) for an A record of `name`, recursion desired. */
const dnsQuery = (id: number, name: string): Buffer => {
  const header = Buffer.alloc(12)
  header.writeUInt16BE(id, 0)
  header.writeUInt16BE(0x0100, 2)
  header.writeUInt16BE(1, 4)
  const labels = name.split(".").map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)]))
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])])
}

/** The answer a resolver gives: the question echoed, one A record 192.0.2.1 with TTL 60. */
const dnsAnswer = (query: Buffer): Buffer => {
  const answer = Buffer.from(query)
  answer.writeUInt16BE(0x8180, 2)
  answer.writeUInt16BE(1, 6)
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1])
  return Buffer.concat([answer, record])
}
