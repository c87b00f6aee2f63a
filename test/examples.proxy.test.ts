/**
 * The example TCP proxy (examples/proxy): one fiber per direction, full duplex, half-close passed
 * through, large random payloads byte-exact, failures closing both sides.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import * as Proxy from "../examples/proxy/Proxy.js"
import { NodeCosocket } from "../src/node/index.js"

/** A scoped loopback upstream server running `handler` per connection. */
const upstream = (handler: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.callback<{ server: Net.Server; port: number; sockets: Array<Net.Socket> }>((resume) => {
      const sockets: Array<Net.Socket> = []
      const server = Net.createServer({ allowHalfOpen: true }, (socket) => {
        sockets.push(socket)
        socket.on("error", () => {})
        handler(socket)
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ server, port: (server.address() as Net.AddressInfo).port, sockets })))
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) {
          socket.destroy()
        }
        server.close(() =>
          resume(Effect.void)
        )
      })
  )

/**
 * Collects a socket's bytes until its 'end' (`ended: true`) or 'close' (with the error code, if
 * any). Starts listening at once.
 */
const collect = (socket: Net.Socket) => {
  const chunks: Array<Buffer> = []
  let ended = false
  let error: string | undefined
  socket.on("data", (chunk: Buffer) => chunks.push(chunk))
  socket.on("error", (e: NodeJS.ErrnoException) => error ??= e.code)
  const done = new Promise<{ data: Buffer; ended: boolean; error: string | undefined }>((resolve) => {
    socket.on("end", () => {
      ended = true
      resolve({ data: Buffer.concat(chunks), ended, error })
    })
    socket.on("close", () => resolve({ data: Buffer.concat(chunks), ended, error }))
  })
  return Effect.promise(() => done)
}

/** A scoped client connection to the proxy (half-open allowed). */
const client = (port: number) =>
  Effect.acquireRelease(
    Effect.callback<Net.Socket>((resume) => {
      const socket = Net.connect({ host: "127.0.0.1", port, allowHalfOpen: true })
      socket.on("error", () => {})
      socket.once("connect", () => resume(Effect.succeed(socket)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

/**
 * Waits until the proxy closed the connection: its FIN arrived (the client allows half-open
 * connections, so it answers with its own FIN) and the socket closed.
 */
const closed = (socket: Net.Socket) =>
  Effect.callback<void>((resume) => {
    const finish = () => {
      if (socket.closed) return resume(Effect.void)
      socket.once("close", () => resume(Effect.void))
      socket.end()
    }
    if (socket.readableEnded || socket.closed) return finish()
    socket.once("end", finish)
    socket.once("close", finish)
    socket.resume()
  })

const MiB = 1024 * 1024

/**
 * The proxy's counters once no connection is active: the client may see the close a moment before
 * the proxy's fiber has finished its bookkeeping (bounded wait, 5 s).
 */
const settled = (proxy: Proxy.Proxy) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const stats = yield* proxy.stats
      if (stats.active === 0) return stats
      yield* Effect.sleep("10 millis")
    }
    return yield* proxy.stats
  })

describe("examples/proxy", () => {
  it.live(
    "8 MiB of random bytes each way at once, byte-exact; the client's FIN reaches the upstream",
    () =>
      Effect.gen(function*() {
        const up = Crypto.randomBytes(8 * MiB)
        const down = Crypto.randomBytes(8 * MiB)
        let upstreamGot: Promise<{ data: Buffer; ended: boolean }> | undefined
        const server = yield* upstream((socket) => {
          const chunks: Array<Buffer> = []
          upstreamGot = new Promise((resolve) => {
            socket.on("data", (chunk: Buffer) => chunks.push(chunk))
            socket.on("end", () => {
              const data = Buffer.concat(chunks)
              // half-closed by the client, the upstream still writes: the proxy must carry it
              socket.end(`\ngot ${data.length} bytes then FIN`)
              resolve({ data, ended: true })
            })
          })
          socket.write(down)
        })
        const proxy = yield* Proxy.make({ upstream: { host: "127.0.0.1", port: server.port } })
        const socket = yield* client(proxy.port)
        const received = collect(socket)
        socket.write(up)
        socket.end()
        const got = yield* received
        const trailer = Buffer.from(`\ngot ${8 * MiB} bytes then FIN`)
        expect(got.ended).toBe(true)
        expect(got.data.length).toBe(down.length + trailer.length)
        expect(got.data.subarray(0, down.length).equals(down)).toBe(true)
        expect(got.data.subarray(down.length).toString()).toBe(trailer.toString())
        const atUpstream = yield* Effect.promise(() => upstreamGot!)
        expect(atUpstream.data.length).toBe(up.length)
        expect(atUpstream.data.equals(up)).toBe(true)
        // both directions ended: the proxy closes the client connection
        yield* closed(socket)
        expect(yield* settled(proxy)).toEqual({
          accepted: 1,
          active: 0,
          bytesUp: up.length,
          bytesDown: down.length + trailer.length,
          failed: 0
        })
      }).pipe(Effect.provide(NodeCosocket.layer)),
    60_000
  )

  it.live("the upstream's FIN reaches the client, which can still send (half-close the other way)", () =>
    Effect.gen(function*() {
      let upstreamGot: Promise<{ data: Buffer; ended: boolean }> | undefined
      const server = yield* upstream((socket) => {
        upstreamGot = Effect.runPromise(collect(socket))
        socket.end("hello, then FIN")
      })
      const proxy = yield* Proxy.make({ upstream: { host: "127.0.0.1", port: server.port } })
      const socket = yield* client(proxy.port)
      const got = yield* collect(socket)
      expect({ data: got.data.toString(), ended: got.ended }).toEqual({ data: "hello, then FIN", ended: true })
      // our write half is still open through the proxy
      socket.end("after your FIN")
      const atUpstream = yield* Effect.promise(() => upstreamGot!)
      expect({ data: atUpstream.data.toString(), ended: atUpstream.ended }).toEqual({
        data: "after your FIN",
        ended: true
      })
      yield* closed(socket)
    }).pipe(Effect.provide(NodeCosocket.layer)))

  it.live(
    "four clients at once, 1 MiB each through an echo upstream, nothing mixed up",
    () =>
      Effect.gen(function*() {
        const server = yield* upstream((socket) => {
          socket.on("data", (chunk: Buffer) => socket.write(chunk))
          socket.on("end", () => socket.end())
        })
        const proxy = yield* Proxy.make({ upstream: { host: "127.0.0.1", port: server.port }, chunkSize: 4096 })
        const results = yield* Effect.forEach([0, 1, 2, 3], () =>
          Effect.gen(function*() {
            const payload = Crypto.randomBytes(MiB)
            const socket = yield* client(proxy.port)
            const received = collect(socket)
            socket.end(payload)
            const got = yield* received
            return got.ended && got.data.equals(payload)
          }), { concurrency: 4 })
        expect(results).toEqual([true, true, true, true])
        const stats = yield* settled(proxy)
        expect({ accepted: stats.accepted, bytesUp: stats.bytesUp, bytesDown: stats.bytesDown }).toEqual({
          accepted: 4,
          bytesUp: 4 * MiB,
          bytesDown: 4 * MiB
        })
      }).pipe(Effect.provide(NodeCosocket.layer)),
    60_000
  )

  it.live("upstream refused: the client connection is reset and counted as failed", () =>
    Effect.gen(function*() {
      const refusedPort = yield* Effect.scoped(Effect.map(upstream(() => {}), (s) => s.port))
      const proxy = yield* Proxy.make({ upstream: { host: "127.0.0.1", port: refusedPort } })
      const socket = yield* client(proxy.port)
      const got = yield* collect(socket)
      expect({ data: got.data.length, ended: got.ended, error: got.error }).toEqual({
        data: 0,
        ended: false,
        error: "ECONNRESET"
      })
      expect(yield* settled(proxy)).toMatchObject({ accepted: 1, active: 0, failed: 1 })
    }).pipe(Effect.provide(NodeCosocket.layer)))

  it.live("upstream reset mid-stream: both pumps stop and the client connection is reset too", () =>
    Effect.gen(function*() {
      const server = yield* upstream((socket) => {
        socket.once("data", () => {
          socket.write("partial")
          socket.once("data", () => socket.resetAndDestroy())
        })
      })
      const proxy = yield* Proxy.make({ upstream: { host: "127.0.0.1", port: server.port } })
      const socket = yield* client(proxy.port)
      const received = collect(socket)
      socket.write("request")
      yield* Effect.callback<void>((resume) => {
        socket.once("data", () => resume(Effect.void))
      })
      socket.write("more")
      const got = yield* received
      expect({ data: got.data.toString(), ended: got.ended, error: got.error }).toEqual({
        data: "partial",
        ended: false,
        error: "ECONNRESET"
      })
      const stats = yield* settled(proxy)
      expect({ active: stats.active, failed: stats.failed }).toEqual({ active: 0, failed: 1 })
    }).pipe(Effect.provide(NodeCosocket.layer)))

  it.live("closing the proxy's scope closes open client connections and the listener", () =>
    Effect.gen(function*() {
      const outer = yield* Scope.make()
      const server = yield* Scope.provide(upstream(() => {}), outer)
      const scope = yield* Scope.make()
      const proxy = yield* Scope.provide(
        Effect.provide(Proxy.make({ upstream: { host: "127.0.0.1", port: server.port } }), NodeCosocket.layer),
        scope
      )
      const socket = yield* Scope.provide(client(proxy.port), outer)
      // wait until the proxy has its upstream connection
      for (let i = 0; i < 200 && server.sockets.length === 0; i++) yield* Effect.sleep("10 millis")
      expect(server.sockets.length).toBe(1)
      yield* Scope.close(scope, Exit.void)
      yield* closed(socket)
      const refused = yield* Effect.callback<boolean>((resume) => {
        const probe = Net.connect({ host: "127.0.0.1", port: proxy.port })
        probe.on("error", () => resume(Effect.succeed(true)))
        probe.on("connect", () => {
          probe.destroy()
          resume(Effect.succeed(false))
        })
      })
      expect(refused).toBe(true)
      yield* Scope.close(outer, Exit.void)
    }))
})
