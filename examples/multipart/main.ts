/**
 * A loopback server answers with a multipart/form-data body (a text field and a 1 MiB "file");
 * the client reads the head with `receive("*l")`, then streams the parts with
 * `receiveUntil("\r\n--" + boundary).stream(16 KiB)`, never holding the file in memory.
 *
 *   npx tsx examples/multipart/main.ts
 */
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import { TcpSocket } from "../../src/index.js"
import { NodeCosocket } from "../../src/node/index.js"
import * as Multipart from "./Multipart.js"

const boundary = "----cosocket-example-7MA4YWxkTrZu0gW"
const file = Crypto.randomBytes(1024 * 1024)
const body = Multipart.encode([
  { headers: [["Content-Disposition", "form-data; name=\"title\""]], body: new TextEncoder().encode("holiday photos") },
  {
    headers: [
      ["Content-Disposition", "form-data; name=\"upload\"; filename=\"photo.jpg\""],
      ["Content-Type", "image/jpeg"]
    ],
    body: file
  }
], boundary)

/** Serves one response per connection, then FIN. */
const server = Effect.acquireRelease(
  Effect.callback<Net.Server>((resume) => {
    const srv = Net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on("error", () => {})
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\n`)
      socket.write(`Content-Length: ${body.length}\r\n\r\n`)
      socket.end(body)
    })
    srv.listen(0, "127.0.0.1", () => resume(Effect.succeed(srv)))
  }),
  (srv) =>
    Effect.callback<void>((resume) => {
      srv.close(() => resume(Effect.void))
    })
)

const program = Effect.gen(function*() {
  const srv = yield* server
  const socket = yield* TcpSocket.connect("127.0.0.1", (srv.address() as Net.AddressInfo).port)
  yield* socket.setTimeout("5 seconds")
  // The response head, line by line.
  let contentType = ""
  for (;;) {
    const line = yield* TcpSocket.receiveString(socket, "*l")
    if (line === "") break
    if (line.toLowerCase().startsWith("content-type:")) contentType = line.slice(13).trim()
  }
  const found = Multipart.boundaryOf(contentType)
  yield* Console.log(`boundary: ${found}`)

  let chunks = 0
  let hash = Crypto.createHash("sha256")
  yield* Multipart.events(socket, found ?? "", { chunkSize: 16 * 1024 }).pipe(
    Stream.runForEach((event) => {
      switch (event._tag) {
        case "PartStart":
          chunks = 0
          hash = Crypto.createHash("sha256")
          return Console.log(`part: ${Multipart.header(event, "content-disposition")}`)
        case "Body":
          chunks++
          hash.update(event.chunk)
          return Effect.void
        case "PartEnd":
          return Console.log(`  ${chunks} chunk(s), sha256 ${hash.digest("hex").slice(0, 16)}...`)
      }
    })
  )
  yield* Console.log(`file sha256 ${Crypto.createHash("sha256").update(file).digest("hex").slice(0, 16)}...`)
  yield* socket.close
})

Effect.runPromiseExit(program.pipe(Effect.scoped, Effect.provide(NodeCosocket.layer))).then((exit) => {
  if (Exit.isFailure(exit)) console.error(Cause.pretty(exit.cause))
  process.exit(Exit.isSuccess(exit) ? 0 : 1)
})
