/**
 * Load: 2,000 fibers on one key with poolSize 50 and backlog 500 against a loopback server.
 * The server holds its replies until every fiber has asked the
 * pool, so the outcome is exact whatever the machine's speed: 50 connect, 500 wait (and then run
 * on the pooled connections, FIFO), 1,450 fail at once with PoolBacklogFull. When the layer
 * closes, no connection is left open on the server side.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import type * as Net from "node:net"
import { ConnectionPool, CosocketConfig, TcpSocket } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"
import { eventually, server, text } from "./support/loopback.js"

const FIBERS = 2_000
const SIZE = 50
const BACKLOG = 500

describe("ConnectionPool under load", () => {
  it.live(
    `${FIBERS} fibers, poolSize ${SIZE}, backlog ${BACKLOG}: exact outcomes, nothing left open`,
    () =>
      Effect.gen(function*() {
        // PING n -> PONG n, held until the gate opens
        let gateOpen = false
        const held: Array<() => void> = []
        const peer = yield* server((socket: Net.Socket) => {
          socket.on("end", () => socket.end())
          let pending = ""
          socket.on("data", (chunk) => {
            pending += chunk.toString("latin1")
            let i: number
            while ((i = pending.indexOf("\r\n")) >= 0) {
              const line = pending.slice(0, i)
              pending = pending.slice(i + 2)
              const reply = () => socket.write(`PONG ${line.slice(5)}\r\n`)
              if (gateOpen) reply()
              else held.push(reply)
            }
          })
        })
        const key = `127.0.0.1:${peer.port}`
        const opts = { poolSize: SIZE, backlog: BACKLOG }

        const one = (n: number) =>
          Effect.scoped(Effect.gen(function*() {
            const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, opts)
            const reused = yield* socket.getReusedTimes
            return yield* TcpSocket.withKeepalive(
              socket,
              Effect.gen(function*() {
                yield* socket.send(`PING ${n}\r\n`)
                // every reply answers this fiber's own request
                expect(text(yield* socket.receive())).toBe(`PONG ${n}`)
                return reused
              })
            )
          }))

        const outcome = yield* Effect.gen(function*() {
          const all = yield* Effect.forkChild(
            Effect.forEach(Array.from({ length: FIBERS }, (_, n) => n), (n) => Effect.result(one(n)), {
              concurrency: "unbounded"
            })
          )
          // every fiber has asked the pool: 50 slots taken, 500 waiting, the rest rejected
          const stats = () => Effect.map(ConnectionPool.stats, (m) => m.get(key))
          for (let i = 0; i < 2_000; i++) {
            const s = yield* stats()
            if (s !== undefined && s.active + s.waiting + s.backlogFull === FIBERS) break
            yield* Effect.sleep("5 millis")
          }
          expect(yield* stats()).toMatchObject({ active: SIZE, waiting: BACKLOG, backlogFull: FIBERS - SIZE - BACKLOG })
          gateOpen = true
          for (const reply of held.splice(0)) reply()
          const results = yield* Fiber.join(all)
          const final = yield* stats()
          return { results, final }
        }).pipe(
          Effect.provide(Layer.provideMerge(NodeCosocket.layer, CosocketConfig.layer({ connectTimeout: "60 seconds" })))
        )

        const successes = outcome.results.filter(Result.isSuccess)
        const failures = outcome.results.filter(Result.isFailure).map((r) => r.failure)
        expect(successes.length).toBe(SIZE + BACKLOG)
        expect(failures.length).toBe(FIBERS - SIZE - BACKLOG)
        expect(new Set(failures.map((e) => `${e._tag}: ${e.message}`))).toEqual(
          new Set(["PoolBacklogFull: too many waiting connect operations"])
        )
        // the first 50 connected; each waiter got a pooled connection
        expect(successes.filter((r) => r.success === 0).length).toBe(SIZE)
        expect(outcome.final).toMatchObject({
          idle: SIZE,
          active: 0,
          waiting: 0,
          created: SIZE,
          reused: BACKLOG,
          backlogFull: FIBERS - SIZE - BACKLOG,
          waitTimeouts: 0
        })
        expect(peer.sockets.length).toBe(SIZE)
        // the layer is closed: the server sees every connection closed
        yield* eventually(() => peer.openCount() === 0, 10_000)
      }).pipe(Effect.scoped),
    60_000
  )
})
