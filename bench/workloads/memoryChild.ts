/**
 * Child process of the memory workload (run with `--expose-gc`): after a warm-up round, opens one
 * connection, measures the JS heap, opens `count` more, leaves them idle (ours: in the keepalive
 * pool), measures again, and prints `RESULT {"bytesPerConnection": n}`.
 *
 * argv: variant (ours | raw | nodeSocket), host, port, count
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Net from "node:net"
import { NodeCosocket, TcpSocket } from "../lib/library.js"

const [variant, host, portText, countText] = process.argv.slice(2)
const port = Number(portText)
const count = Number(countText)

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with --expose-gc")

const heapUsed = async (): Promise<number> => {
  for (let i = 0; i < 6; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return process.memoryUsage().heapUsed
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** One variant's connections: `open(n)` adds n idle ones, `close()` closes all of them. */
interface Connections {
  readonly open: (n: number) => Promise<void>
  readonly close: () => Promise<void>
}

const ours = (): Connections => {
  const runtime = ManagedRuntime.make(NodeCosocket.layer)
  const options = { poolSize: count + 10 }
  return {
    open: (n) =>
      runtime.runPromise(Effect.scoped(Effect.gen(function*() {
        const sockets = yield* Effect.forEach(range(n), () => TcpSocket.connect(host, port, options), {
          concurrency: "unbounded"
        })
        yield* Effect.forEach(sockets, (socket) => socket.setKeepalive(), { discard: true })
      }))),
    close: () => runtime.dispose()
  }
}

const raw = (): Connections => {
  const sockets: Array<Net.Socket> = []
  return {
    open: async (n) => {
      await Promise.all(
        range(n).map(() =>
          new Promise<void>((resolve, reject) => {
            const socket = Net.connect({ host, port, noDelay: true })
            socket.once("error", reject)
            socket.once("connect", () => {
              socket.off("error", reject)
              socket.on("error", () => {})
              socket.on("data", () => {})
              sockets.push(socket)
              resolve()
            })
          })
        )
      )
    },
    close: async () => {
      for (const socket of sockets) socket.destroy()
    }
  }
}

const nodeSocket = (): Connections => {
  const scopes: Array<Scope.CloseableScope> = []
  const one = Effect.gen(function*() {
    const scope = yield* Scope.make()
    scopes.push(scope)
    yield* Effect.gen(function*() {
      const socket = yield* NodeSocket.makeNet({ host, port, noDelay: true })
      const replies = yield* Queue.unbounded<Uint8Array>()
      yield* Effect.forkScoped(socket.run((chunk) => {
        Queue.unsafeOffer(replies, chunk)
      }))
      const write = yield* socket.writer
      yield* write(new TextEncoder().encode("PING\r\n"))
      yield* Queue.take(replies)
    }).pipe(Scope.extend(scope))
  })
  return {
    open: (n) => Effect.runPromise(Effect.forEach(range(n), () => one, { concurrency: "unbounded", discard: true })),
    close: () => Effect.runPromise(Effect.forEach(scopes, (scope) => Scope.close(scope, Exit.void), { discard: true }))
  }
}

/**
 * A warm-up round first opens and closes `count` connections, so the code those paths compile
 * (V8 counts it in heapUsed) is not charged to the connections measured after it.
 */
const run = async (make: () => Connections): Promise<number> => {
  const warm = make()
  await warm.open(count)
  await warm.close()
  const measured = make()
  await measured.open(1)
  const before = await heapUsed()
  await measured.open(count)
  const after = await heapUsed()
  await measured.close()
  return (after - before) / count
}

run(variant === "ours" ? ours : variant === "raw" ? raw : nodeSocket).then(
  (bytesPerConnection) => {
    process.stdout.write(`RESULT ${JSON.stringify({ bytesPerConnection })}\n`)
    process.exit(0)
  },
  (error) => {
    process.stderr.write(`${String(error?.stack ?? error)}\n`)
    process.exit(1)
  }
)
