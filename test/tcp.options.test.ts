/**
 * Socket options per connection, and the operation each state error names.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { TcpSocket } from "../src/index.js"
import { run, server } from "./support/loopback.js"

/** The `_tag` and `operation` of an effect's failure. */
const failureOf = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(effect), (e) => ({ _tag: e._tag, operation: (e as { operation?: unknown }).operation }))

describe("socket options follow the connection", () => {
  it.live("getOption(\"tcp-nodelay\") right after connect (as TCP-OPT-005 reads it) reports CosocketConfig.noDelay", () =>
    Effect.gen(function*() {
      const read = Effect.gen(function*() {
        const peer = yield* server(() => {})
        const socket = yield* TcpSocket.make
        yield* socket.connect("127.0.0.1", peer.port)
        return yield* socket.getOption("tcp-nodelay")
      })
      expect(yield* run(read)).toBe(1)
      expect(yield* run(read, { noDelay: false })).toBe(0)
      expect(yield* run(read, { noDelay: true })).toBe(1)
    }))

  it.live("options set on one connection are not reported for the next one (connect again, or a pooled reuse)", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.setOption("tcp-nodelay", 0)
      yield* socket.setOption("keepalive", 1)
      expect(yield* socket.getOption("tcp-nodelay")).toBe(0)
      expect(yield* socket.getOption("keepalive")).toBe(1)
      // Connecting again closes that connection and makes a fresh one.
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* socket.getReusedTimes).toBe(0)
      expect(yield* socket.getOption("tcp-nodelay")).toBe(1)
      expect(yield* socket.getOption("keepalive")).toBe(0)
      // Changed again, then pooled: the pooled connection goes back with the defaults.
      yield* socket.setOption("tcp-nodelay", false)
      yield* socket.setOption("keepalive", true)
      yield* socket.setKeepalive()
      const next = yield* TcpSocket.make
      yield* next.connect("127.0.0.1", peer.port)
      expect(yield* next.getReusedTimes).toBe(1)
      expect(yield* next.getOption("tcp-nodelay")).toBe(1)
      expect(yield* next.getOption("keepalive")).toBe(0)
    })))
})

describe("state errors name the operation that failed", () => {
  it.live("shutdown, getOption, setOption, localAddressInfo and remoteAddressInfo on a closed socket", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const closed = (operation: string) => ({ _tag: "SocketClosed", operation })
      expect(yield* failureOf(socket.shutdown("send"))).toEqual(closed("shutdown"))
      expect(yield* failureOf(socket.getOption("keepalive"))).toEqual(closed("getOption"))
      expect(yield* failureOf(socket.setOption("keepalive", 1))).toEqual(closed("setOption"))
      expect(yield* failureOf(socket.localAddressInfo)).toEqual(closed("localAddressInfo"))
      expect(yield* failureOf(socket.remoteAddressInfo)).toEqual(closed("remoteAddressInfo"))
      // After a shutdown the write half is closed: a second one says so, naming itself.
      const peer = yield* server(() => {})
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.shutdown("send")
      expect(yield* failureOf(socket.shutdown("send"))).toEqual(closed("shutdown"))
      expect(yield* failureOf(socket.send("x"))).toEqual(closed("send"))
    })))
})
