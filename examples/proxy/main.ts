/**
 * Starts an upstream server (it upper-cases what it receives and, after the client's FIN, says
 * how many bytes it got), a cosocket proxy in front of it, and a client that talks through the
 * proxy and half-closes.
 *
 *   npx tsx examples/proxy/main.ts
 */
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Net from "node:net"
import { NodeCosocket } from "../../src/node/index.js"
import * as Proxy from "./Proxy.js"

/** Upper-cases everything; after the peer's FIN answers with the byte count and FIN. */
const upstream = Effect.acquireRelease(
  Effect.callback<Net.Server>((resume) => {
    const server = Net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on("error", () => {})
      let count = 0
      socket.on("data", (chunk: Buffer) => {
        count += chunk.length
        socket.write(chunk.toString("latin1").toUpperCase())
      })
      socket.on("end", () => socket.end(`(upstream got ${count} bytes, then your FIN)\n`))
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

/** Sends `lines`, half-closes, and collects the reply until the proxy's FIN. */
const talk = (port: number, lines: ReadonlyArray<string>) =>
  Effect.callback<string>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port, allowHalfOpen: true })
    let reply = ""
    socket.on("error", (error) => resume(Effect.die(error)))
    socket.on("data", (chunk: Buffer) => reply += chunk.toString("latin1"))
    socket.on("end", () => {
      socket.destroy()
      resume(Effect.succeed(reply))
    })
    socket.once("connect", () => {
      for (const line of lines) socket.write(line)
      socket.end()
    })
    return Effect.sync(() => socket.destroy())
  })

const program = Effect.gen(function*() {
  const server = yield* upstream
  const proxy = yield* Proxy.make({ upstream: { host: "127.0.0.1", port: (server.address() as Net.AddressInfo).port } })
  yield* Console.log(`proxy listening on ${proxy.host}:${proxy.port}`)
  const reply = yield* talk(proxy.port, ["hello, proxy\n", "full duplex, half-close passed through\n"])
  for (const line of reply.trimEnd().split("\n")) yield* Console.log(`< ${line}`)
  const stats = yield* proxy.stats
  yield* Console.log(`stats: ${stats.accepted} accepted, ${stats.bytesUp} bytes up, ${stats.bytesDown} bytes down`)
})

Effect.runPromiseExit(program.pipe(Effect.scoped, Effect.provide(NodeCosocket.layer))).then((exit) => {
  if (Exit.isFailure(exit)) console.error(Cause.pretty(exit.cause))
  process.exit(Exit.isSuccess(exit) ? 0 : 1)
})
