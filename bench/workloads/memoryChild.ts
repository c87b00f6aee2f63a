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
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
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

/**
 * `@effect/platform-node`'s socket: each connection's reader acquired in a scope of its own
 * (which dials it), its byte `pull` and writer kept, as code that reuses the connection keeps them.
 */
const nodeSocket = (): Connections => {
  const scopes: Array<Scope.Closeable> = []
  const handles: Array<{ readonly pull: Effect.Effect<unknown, unknown>; readonly writer: Socket.Writer }> = []
  const ping = new TextEncoder().encode("PING\r\n")
  const one = Effect.gen(function*() {
    const scope = yield* Scope.make()
    scopes.push(scope)
    yield* Effect.gen(function*() {
      const socket = yield* NodeSocket.makeNet({ host, port, noDelay: true })
      const pull = yield* Socket.readerBytes(socket)
      const writer = yield* socket.writer
      yield* writer.write(ping)
      yield* pull
      handles.push({ pull, writer })
    }).pipe(Scope.provide(scope))
  })
  return {
    open: (n) => Effect.runPromise(Effect.forEach(range(n), () => one, { concurrency: "unbounded", discard: true })),
    close: async () => {
      handles.length = 0
      await Effect.runPromise(Effect.forEach(scopes, (scope) => Scope.close(scope, Exit.void), { discard: true }))
    }
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
