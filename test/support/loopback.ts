/**
 * Loopback fixtures for the TCP conformance tests: scoped node:net servers whose behaviour each
 * test scripts with a plain handler, and the catalog's fixtures (B.0).
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { CosocketConfig, type TcpSocket } from "../../src/index.js"
import { NodeCosocket } from "../../src/node/index.js"

export const REQ57 = "GET /foo HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"
export const RESP_FOO =
  "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfoo\n"
export const RESP_FOO_LINES = [
  "HTTP/1.1 200 OK",
  "Server: nginx",
  "Content-Type: text/plain",
  "Content-Length: 4",
  "Connection: close",
  "",
  "foo"
]

export const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"))
export const text = (b: Uint8Array | undefined): string =>
  b === undefined ? "<none>" : Buffer.from(b).toString("latin1")

export interface Server {
  readonly host: string
  readonly port: number
  readonly path: string
  /** Server-side sockets, in accept order. */
  readonly sockets: Array<Net.Socket>
  /** Bytes each server-side socket received. */
  readonly received: Array<Array<Buffer>>
  readonly receivedText: (index: number) => string
  /** Server-side sockets not yet closed. */
  readonly openCount: () => number
}

let unixCounter = 0

/** A scoped loopback server; `handler` scripts each accepted connection. */
export const server = (
  handler: (socket: Net.Socket, index: number, server: Server) => void,
  options: { readonly host?: string; readonly unix?: boolean } = {}
): Effect.Effect<Server, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Server>((resume) => {
      const sockets: Array<Net.Socket> = []
      const received: Array<Array<Buffer>> = []
      let open = 0
      const path = options.unix === true
        ? Path.join(Os.tmpdir(), `cosocket-test-${process.pid}-${++unixCounter}.sock`)
        : ""
      const info: Server = {
        host: options.host ?? "127.0.0.1",
        port: 0,
        path,
        sockets,
        received,
        receivedText: (i) => Buffer.concat(received[i] ?? []).toString("latin1"),
        openCount: () => open
      }
      const srv = Net.createServer({ allowHalfOpen: true }, (socket) => {
        const index = sockets.length
        sockets.push(socket)
        received.push([])
        open++
        socket.on("error", () => {})
        socket.on("close", () => open--)
        socket.on("data", (chunk) => received[index].push(chunk))
        handler(socket, index, info)
      })
      ;(info as { server?: Net.Server }).server = srv
      const done = () => {
        const address = srv.address()
        if (address !== null && typeof address === "object") (info as { port: number }).port = address.port
        resume(Effect.succeed(info))
      }
      if (path !== "") srv.listen(path, done)
      else srv.listen(0, options.host ?? "127.0.0.1", done)
    }),
    (info) =>
      Effect.callback<void>((resume) => {
        for (const s of info.sockets) s.destroy()
        const srv = (info as { server?: Net.Server }).server!
        srv.close(() => resume(Effect.void))
      })
  )

/** Reads lines until `\r\n\r\n` arrived, then calls `reply`. */
export const onRequest = (socket: Net.Socket, reply: (request: string) => void, terminator = "\r\n\r\n"): void => {
  let request = ""
  const onData = (chunk: Buffer) => {
    request += chunk.toString("latin1")
    if (request.includes(terminator)) {
      socket.off("data", onData)
      reply(request)
    }
  }
  socket.on("data", onData)
}

/** The catalog's "HTTP peer": reads a request, answers RESP_FOO, then FIN. */
export const httpPeer = (response = RESP_FOO) => (socket: Net.Socket) =>
  onRequest(socket, () => {
    socket.write(response)
    socket.end()
  })

/** The catalog's "memcached peer": `OK\r\n` to flush_all, `END\r\n` to get, silent otherwise. */
export const memcachedPeer = (socket: Net.Socket) => {
  let pending = ""
  socket.on("data", (chunk) => {
    pending += chunk.toString("latin1")
    let i: number
    while ((i = pending.indexOf("\r\n")) >= 0) {
      const line = pending.slice(0, i)
      pending = pending.slice(i + 2)
      if (line === "flush_all") socket.write("OK\r\n")
      else if (line.startsWith("get ")) socket.write("END\r\n")
    }
  })
}

/** "body peer B": a header block then body B, then FIN. */
export const bodyPeer = (body: string, chunks = false) => (socket: Net.Socket) =>
  onRequest(socket, () => {
    const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`
    if (!chunks) {
      socket.write(head + body)
      socket.end()
      return
    }
    // One byte per write, to exercise every chunk boundary ("buffer size 1").
    socket.setNoDelay(true)
    const all = head + body
    let i = 0
    const next = (): void => {
      if (i >= all.length) socket.end()
      else socket.write(all[i++], () => setTimeout(next, 1))
    }
    next()
  })

/** A peer that never reads: big sends block. */
export const stalledPeer = (socket: Net.Socket) => {
  socket.pause()
}

/** The cosocket layer over a config (OpenResty's defaults unless given); also provides the config. */
export const layer = (config: CosocketConfig.Options = {}) =>
  Layer.provideMerge(NodeCosocket.layer, CosocketConfig.layer(config)).pipe(Layer.orDie)

/** Runs a scoped test program against a fresh Node layer (its own pool). */
export const run = <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope | Layer.Success<ReturnType<typeof layer>>>,
  config: CosocketConfig.Options = {}
): Effect.Effect<A, E> => effect.pipe(Effect.scoped, Effect.provide(layer(config)))

/** `receive()` until an error; returns the lines and the final error as `ERR <message> [partial]`. */
export const readLines = (socket: TcpSocket.TcpSocket, max = 100) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    for (let i = 0; i < max; i++) {
      const r = yield* Effect.result(socket.receive())
      if (Result.isFailure(r)) {
        out.push(describe(r.failure))
        break
      }
      out.push(text(r.success))
    }
    return out
  })

/** `ERR <message>` plus ` [partial]` when the error carries a partial. */
export const describe = (e: { readonly message: string; readonly partial?: Uint8Array | undefined }): string =>
  e.partial === undefined ? `ERR ${e.message}` : `ERR ${e.message} [${text(e.partial)}]`

/** Runs an effect and describes its outcome as a string (value text or `ERR ...`). */
export const outcome = <E extends { readonly message: string }>(
  effect: Effect.Effect<Uint8Array | number | void, E>
) =>
  Effect.map(Effect.result(effect), (r) =>
    Result.isFailure(r)
      ? describe(r.failure as E & { partial?: Uint8Array })
      : r.success instanceof Uint8Array
      ? text(r.success)
      : String(r.success))

/** Waits (real time) until `predicate` holds, polling; fails the test after `millis`. */
export const eventually = (predicate: () => boolean, millis = 5_000) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!predicate()) {
      if (Date.now() - start > millis) return yield* Effect.die(new Error("condition not reached in time"))
      yield* Effect.sleep(5)
    }
  })
