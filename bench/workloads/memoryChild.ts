/**
 * Child process of the memory workload (run with `--expose-gc`): opens one connection, measures
 * the JS heap, opens `count` more, leaves them idle (ours: in the keepalive pool), measures again,
 * and prints `RESULT {"bytesPerConnection": n}`.
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

const ours = async (): Promise<number> => {
  const runtime = ManagedRuntime.make(NodeCosocket.layer)
  const options = { poolSize: count + 10 }
  const open = (n: number) =>
    runtime.runPromise(Effect.scoped(Effect.gen(function*() {
      const sockets = yield* Effect.forEach(range(n), () => TcpSocket.connect(host, port, options), {
        concurrency: "unbounded"
      })
      yield* Effect.forEach(sockets, (socket) => socket.setKeepalive(), { discard: true })
    })))
  await open(1)
  const before = await heapUsed()
  await open(count)
  const after = await heapUsed()
  await runtime.dispose()
  return (after - before) / count
}

const raw = async (): Promise<number> => {
  const sockets: Array<Net.Socket> = []
  const open = (n: number) =>
    Promise.all(
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
  await open(1)
  const before = await heapUsed()
  await open(count)
  const after = await heapUsed()
  for (const socket of sockets) socket.destroy()
  return (after - before) / count
}

const nodeSocket = async (): Promise<number> => {
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
  const open = (n: number) => Effect.runPromise(Effect.forEach(range(n), () => one, { concurrency: "unbounded" }))
  await open(1)
  const before = await heapUsed()
  await open(count)
  const after = await heapUsed()
  await Effect.runPromise(Effect.forEach(scopes, (scope) => Scope.close(scope, Exit.void), { discard: true }))
  return (after - before) / count
}

const run = variant === "ours" ? ours : variant === "raw" ? raw : nodeSocket
run().then(
  (bytesPerConnection) => {
    process.stdout.write(`RESULT ${JSON.stringify({ bytesPerConnection })}\n`)
    process.exit(0)
  },
  (error) => {
    process.stderr.write(`${String(error?.stack ?? error)}\n`)
    process.exit(1)
  }
)
