/**
 * Quickstart: a tiny line-protocol server on loopback, and a client written cosocket-style —
 * straight-line reads, a scoped socket, and the keepalive pool reusing the connection.
 *
 *   npm run quickstart
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Net from "node:net"
import { TcpSocket } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"

/** An embedded server: answers `PING` with `+PONG`, `ECHO x` with `x`, `BYE` by closing. */
const embeddedServer = Effect.acquireRelease(
  Effect.callback<Net.Server>((resume) => {
    const server = Net.createServer((socket) => {
      socket.on("error", () => {})
      let pending = ""
      socket.on("data", (chunk) => {
        pending += chunk.toString("utf8")
        let newline: number
        while ((newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline).replace(/\r$/, "")
          pending = pending.slice(newline + 1)
          if (line === "PING") socket.write("+PONG\r\n")
          else if (line.startsWith("ECHO ")) socket.write(`${line.slice(5)}\r\n`)
          else if (line === "BYE") socket.end("+BYE\r\n")
          else socket.write("-ERR unknown command\r\n")
        }
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
)

/** One request: take a connection (pooled if one is idle), talk, put it back. */
const request = Effect.fn("request")(function*(port: number, command: string) {
  const socket = yield* TcpSocket.make
  yield* socket.setTimeout("2 seconds")
  yield* socket.connect("127.0.0.1", port)
  const reused = yield* socket.getReusedTimes
  yield* socket.send([command, "\r\n"])
  const reply = yield* TcpSocket.receiveString(socket, "*l")
  yield* socket.setKeepalive("30 seconds")
  return `${command.padEnd(12)} -> ${reply.padEnd(8)} (connection reused ${reused} times)`
}, Effect.scoped)

const main = Effect.gen(function*() {
  const server = yield* embeddedServer
  const port = (server.address() as Net.AddressInfo).port
  for (const command of ["PING", "ECHO hello", "ECHO cosocket", "PING"]) {
    yield* Effect.log(yield* request(port, command))
  }
  // receiveUntil: read up to a delimiter with a streaming matcher.
  const farewell = yield* Effect.scoped(Effect.gen(function*() {
    const socket = yield* TcpSocket.make
    yield* socket.connect("127.0.0.1", port)
    yield* socket.send("BYE\r\n")
    const reader = yield* socket.receiveUntil("\r\n")
    return TcpSocket.text(yield* reader.read)
  }))
  yield* Effect.log(`BYE          -> ${farewell}`)
})

// No process.exit: when the scope closes, the pool closes its idle connection and the server
// stops, so Node exits by itself — a leaked socket or timer would keep it running.
Effect.runPromiseExit(main.pipe(Effect.scoped, Effect.provide(NodeCosocket.layer))).then((exit) => {
  if (Exit.isFailure(exit)) {
    console.error(Cause.pretty(exit.cause))
    process.exitCode = 1
  }
})
