/**
 * Reads, busy rules and timeouts over TLS behave as over plain TCP: every read kind and
 * `receiveUntil` across record boundaries, EOF with a partial, a read timeout that keeps the
 * connection usable (and dirty), full duplex, and TCP-BUSY-007 (`sslHandshake` while another fiber
 * reads: busy reading; likewise writing and connecting).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import { TcpSocket } from "../src/index.js"
import { ScriptedPeer } from "../src/testing/index.js"
import { outcome, run, server, stalledPeer, text } from "./support/loopback.js"
import { ca, serverCert } from "./support/tls.js"

const connectTls = (port: number) => TcpSocket.connect("127.0.0.1", port, { tls: { ca } })

const errorOf = <A, E extends { readonly _tag: string; readonly message: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.result(effect), (r) => Result.isFailure(r) ? `${r.failure._tag}: ${r.failure.message}` : "success")

describe("reads over TLS", () => {
  it.live("*l, n, receiveAny, receiveUntil and *a across TLS record boundaries", () =>
    run(Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        tls: serverCert,
        script: [
          ScriptedPeer.expect("GO\n"),
          ...ScriptedPeer.sendChunks(["line one\r\nline", " two\nABCDE", "FGHIJ", "xx--bou", "ndary--tail"], 10),
          ScriptedPeer.halfClose
        ]
      })
      const socket = yield* connectTls(peer.port)
      yield* socket.send("GO\n")
      expect(text(yield* socket.receive())).toBe("line one")
      expect(text(yield* socket.receive("*l"))).toBe("line two")
      expect(text(yield* socket.receive(5))).toBe("ABCDE")
      expect(text(yield* socket.receiveAny(3))).toBe("FGH")
      expect(text(yield* socket.receive(2))).toBe("IJ")
      const until = yield* socket.receiveUntil("--boundary")
      expect(text(yield* until.read)).toBe("xx")
      expect(text(yield* socket.receive("*a"))).toBe("--tail")
      expect(yield* outcome(socket.receive())).toBe("ERR closed []")
      yield* peer.done(0)
    })))

  it.live("receiveUntil chunks (readChunk / stream) and inclusive mode over TLS", () =>
    run(Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        tls: serverCert,
        script: [
          ...ScriptedPeer.sendChunks(["abcdefg--", "-endhij", "klm---e", "nd"], 5),
          ScriptedPeer.close
        ]
      })
      const socket = yield* connectTls(peer.port)
      const reader = yield* socket.receiveUntil("---end")
      const chunks = yield* Stream.runCollect(reader.stream(3))
      expect(chunks.map(text)).toEqual(["abc", "def", "g"])
      const inclusive = yield* socket.receiveUntil("---end", { inclusive: true })
      expect(text(yield* inclusive.read)).toBe("hijklm---end")
      expect(yield* reader.readChunk(4).pipe(Effect.result, Effect.map(Result.isFailure))).toBe(true)
    })))

  it.live("EOF mid-line over TLS: closed with the partial; our write half stays open (half-close)", () =>
    run(Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        tls: serverCert,
        script: [ScriptedPeer.send("no newline"), ScriptedPeer.halfClose, ScriptedPeer.expect("bye\n")]
      })
      const socket = yield* connectTls(peer.port)
      expect(yield* outcome(socket.receive())).toBe("ERR closed [no newline]")
      expect(yield* socket.send("bye\n")).toBe(4)
      yield* peer.done(0)
    })))

  it.live("a read timeout over TLS: partial returned, connection usable, then dirty for the pool", () =>
    run(Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        tls: serverCert,
        script: [ScriptedPeer.send("part"), ScriptedPeer.delay(800), ScriptedPeer.send("ial\n")]
      })
      const socket = yield* connectTls(peer.port)
      yield* socket.setTimeouts(10_000, 10_000, 250)
      expect(yield* outcome(socket.receive())).toBe("ERR timeout [part]")
      yield* socket.setTimeouts(10_000, 10_000, 10_000)
      expect(text(yield* socket.receive())).toBe("ial")
      expect(yield* errorOf(socket.setKeepalive())).toBe("DirtyConnection: dirty connection")
    })))

  it.live("full duplex over TLS: one fiber blocked reading while another sends", () =>
    run(Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        tls: serverCert,
        script: [ScriptedPeer.expect("request\n"), ScriptedPeer.send("reply\n")]
      })
      const socket = yield* connectTls(peer.port)
      const reader = yield* Effect.forkChild(socket.receive())
      yield* Effect.sleep(20)
      expect(yield* errorOf(socket.receive())).toBe("SocketBusyReading: socket busy reading")
      expect(yield* socket.send("request\n")).toBe(8)
      expect(text(yield* Fiber.join(reader))).toBe("reply")
    })))
})

describe("busy rules with sslHandshake", () => {
  it.live("TCP-BUSY-007 sslHandshake while another fiber reads: socket busy reading, nothing changes", () =>
    run(Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({ tls: serverCert })
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      // plain read on the not-yet-TLS connection: the TLS server waits for a ClientHello, so it blocks
      const reader = yield* Effect.forkChild(socket.receive())
      yield* Effect.sleep(20)
      expect(yield* errorOf(socket.sslHandshake({ ca }))).toBe("SocketBusyReading: socket busy reading")
      yield* Fiber.interrupt(reader)
      // the interrupted read consumed nothing; the handshake now proceeds on the same connection
      expect(Option.isSome(yield* socket.sslHandshake({ ca }))).toBe(true)
      expect(yield* peer.accepted).toBe(1)
    })))

  it.live("sslHandshake while a send is blocked: socket busy writing; while connecting: busy connecting", () =>
    run(Effect.gen(function*() {
      const stalled = yield* server(stalledPeer)
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", stalled.port)
      const writer = yield* Effect.forkChild(socket.send(new Uint8Array(64 * 1024 * 1024)))
      yield* Effect.sleep(50)
      expect(yield* errorOf(socket.sslHandshake({ ca }))).toBe("SocketBusyWriting: socket busy writing")
      yield* Fiber.interrupt(writer)

      const blackhole = yield* ScriptedPeer.blackhole
      const other = yield* TcpSocket.make
      yield* other.setTimeout(2_000)
      const connecting = yield* Effect.forkChild(other.connect(blackhole.host, blackhole.port))
      yield* Effect.sleep(20)
      expect(yield* errorOf(other.sslHandshake({ ca }))).toBe("SocketBusyConnecting: socket busy connecting")
      yield* Fiber.interrupt(connecting)
    })))

  it.live("while a handshake runs, reads, sends and close are busy connecting", () =>
    run(Effect.gen(function*() {
      const silent = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", silent.port)
      const handshake = yield* Effect.forkChild(socket.sslHandshake({ ca }))
      yield* Effect.sleep(20)
      expect(yield* errorOf(socket.receive())).toBe("SocketBusyConnecting: socket busy connecting")
      expect(yield* errorOf(socket.send("x"))).toBe("SocketBusyConnecting: socket busy connecting")
      expect(yield* errorOf(socket.close)).toBe("SocketBusyConnecting: socket busy connecting")
      expect(yield* errorOf(socket.sslHandshake({ ca }))).toBe("SocketBusyConnecting: socket busy connecting")
      expect(yield* socket.getReusedTimes).toBe(0)
      yield* Fiber.interrupt(handshake)
    })))
})
