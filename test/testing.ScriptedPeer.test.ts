import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Tls from "node:tls"
import { fileURLToPath } from "node:url"
import { ScriptedPeer } from "../src/testing/index.js"

const fixtures = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "fixtures", "tls")
const fixture = (name: string) => Fs.readFileSync(Path.join(fixtures, name))

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1")

/** A plain client socket bound to the test's scope (destroyed when it closes). */
const connect = (
  peer: ScriptedPeer.ScriptedPeer,
  options: { readonly allowHalfOpen?: boolean } = {}
): Effect.Effect<Net.Socket, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Net.Socket, Error>((resume) => {
      const socket = peer.path !== undefined
        ? Net.connect({ path: peer.path, allowHalfOpen: options.allowHalfOpen ?? false })
        : Net.connect({ host: peer.host, port: peer.port, allowHalfOpen: options.allowHalfOpen ?? false })
      socket.on("error", () => {})
      socket.once("connect", () => resume(Effect.succeed(socket)))
      socket.once("close", () => resume(Effect.fail(new Error("connect failed"))))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

interface ReadResult {
  readonly data: string
  readonly ended: boolean
  readonly error: string | undefined
}

/**
 * Starts collecting everything the socket receives, right away (not when the effect runs), until
 * 'end' or 'close'; the returned effect waits for the result.
 */
const readToEnd = (socket: Net.Socket): Effect.Effect<ReadResult> => {
  const result = new Promise<ReadResult>((resolve) => {
    let data = ""
    let error: string | undefined
    socket.on("data", (chunk: Buffer) => {
      data += chunk.toString("latin1")
    })
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error = e.code
    })
    socket.once("end", () => resolve({ data, ended: true, error }))
    socket.once("close", () => resolve({ data, ended: false, error }))
  })
  return Effect.promise(() => result)
}

/** Reads until `length` bytes arrived. */
const readExactly = (socket: Net.Socket, length: number) =>
  Effect.callback<string>((resume) => {
    let data = ""
    const onData = (chunk: Buffer) => {
      data += chunk.toString("latin1")
      if (data.length >= length) {
        socket.off("data", onData)
        socket.pause()
        resume(Effect.succeed(data))
      }
    }
    socket.on("data", onData)
    socket.resume()
  })

const write = (socket: Net.Socket, data: string | Uint8Array) =>
  Effect.callback<void>((resume) => {
    socket.write(data, () => resume(Effect.void))
  })

describe("ScriptedPeer", () => {
  it.live("expect + send + close: exact bytes both ways", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        script: [ScriptedPeer.expect("PING\r\n"), ScriptedPeer.send("+PONG\r\n"), ScriptedPeer.close]
      })
      expect(peer.host).toBe("127.0.0.1")
      expect(peer.port).toBeGreaterThan(0)
      const client = yield* connect(peer)
      const reply = readToEnd(client)
      yield* write(client, "PING\r\n")
      expect(yield* reply).toEqual({ data: "+PONG\r\n", ended: true, error: undefined })
      yield* peer.done(0)
      expect(text(yield* peer.received(0))).toBe("PING\r\n")
      expect(yield* peer.accepted).toBe(1)
      expect(yield* peer.remoteAddress(0)).toBe("127.0.0.1")
      expect(yield* peer.remotePort(0)).toBe(client.localPort)
    }))

  it.live("binary bytes, expectLength, received keeps every byte", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        script: [
          ScriptedPeer.expect(new Uint8Array([0x00, 0xff, 0x80])),
          ScriptedPeer.expectLength(3),
          ScriptedPeer.send(new Uint8Array([0xfe, 0x01])),
          ScriptedPeer.send("é")
        ]
      })
      const client = yield* connect(peer)
      yield* write(client, new Uint8Array([0x00, 0xff, 0x80, 1, 2, 3, 4]))
      expect(yield* readExactly(client, 4)).toBe("\xfe\x01\xc3\xa9")
      yield* peer.done(0)
      expect(Array.from(yield* peer.received(0))).toEqual([0x00, 0xff, 0x80, 1, 2, 3, 4])
    }))

  it.live("sendChunks and delay: the chunks are spread over time", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        script: [ScriptedPeer.sendChunks(["ab", "cd", "ef"], 40), ScriptedPeer.delay(20), ScriptedPeer.close]
      })
      // Timed from before the connect: the script starts when the peer accepts, which may be
      // well before the client's connect callback runs on a loaded machine.
      const start = Date.now()
      const client = yield* connect(peer)
      const chunks: Array<string> = []
      client.on("data", (chunk: Buffer) => chunks.push(chunk.toString()))
      const result = yield* readToEnd(client)
      expect(result.data).toBe("abcdef")
      // usually three reads; a loaded event loop may coalesce them, so only the sum is exact
      expect(chunks.join("")).toBe("abcdef")
      expect(Date.now() - start).toBeGreaterThanOrEqual(90)
    }))

  it.live("script function by connection index", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        script: (index) => [ScriptedPeer.send(`conn ${index}`), ScriptedPeer.close]
      })
      const first = yield* connect(peer).pipe(Effect.flatMap(readToEnd))
      const second = yield* connect(peer).pipe(Effect.flatMap(readToEnd))
      expect([first.data, second.data]).toEqual(["conn 0", "conn 1"])
      expect(yield* peer.accepted).toBe(2)
    }))

  it.live("halfClose is seen as 'end' and the peer keeps reading", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        script: [ScriptedPeer.send("bye"), ScriptedPeer.halfClose, ScriptedPeer.expect("still here")]
      })
      const client = yield* connect(peer, { allowHalfOpen: true })
      const result = yield* readToEnd(client)
      expect(result).toEqual({ data: "bye", ended: true, error: undefined })
      yield* write(client, "still here")
      yield* peer.done(0)
      expect(yield* peer.open).toBe(1)
    }))

  it.live("awaitEnd reads until the client's FIN", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        script: [ScriptedPeer.awaitEnd, ScriptedPeer.send("got it"), ScriptedPeer.close]
      })
      const client = yield* connect(peer, { allowHalfOpen: true })
      const reply = readToEnd(client)
      yield* write(client, "one ")
      client.end("two")
      expect((yield* reply).data).toBe("got it")
      yield* peer.done(0)
      expect(text(yield* peer.received(0))).toBe("one two")
    }))

  it.live("reset is seen as ECONNRESET", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({ script: [ScriptedPeer.expect("x"), ScriptedPeer.reset] })
      const client = yield* connect(peer)
      const result = readToEnd(client)
      yield* write(client, "x")
      expect(yield* result).toEqual({ data: "", ended: false, error: "ECONNRESET" })
      yield* peer.done(0)
    }))

  it.live("stopReading: a big client write does not complete", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({ script: [ScriptedPeer.expect("go"), ScriptedPeer.stopReading] })
      const client = yield* connect(peer)
      yield* write(client, "go")
      yield* peer.done(0)
      let written = false
      client.write(new Uint8Array(64 * 1024 * 1024), () => {
        written = true
      })
      yield* Effect.sleep("500 millis")
      expect(written).toBe(false)
      expect(client.writableLength).toBeGreaterThan(0)
      expect((yield* peer.received(0)).length).toBeLessThan(64 * 1024 * 1024)
    }))

  it.live("done fails with ScriptError on a mismatch, naming expected and got", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        script: [ScriptedPeer.expect("GET / HTTP/1.1\r\n"), ScriptedPeer.send("never")]
      })
      const client = yield* connect(peer)
      const result = readToEnd(client)
      yield* write(client, "GET /x\x01")
      const error = yield* Effect.flip(peer.done(0))
      expect(error._tag).toBe("ScriptError")
      expect(error.reason).toBe("Mismatch")
      expect(error.step).toBe(0)
      expect(error.expected).toBe("GET / HTTP/1.1\\r\\n")
      expect(error.got).toBe("GET /x\\x01")
      expect(error.message).toContain("expected \"GET / HTTP/1.1\\r\\n\", got \"GET /x\\x01\"")
      // the connection is destroyed so that the client does not wait for a reply forever
      expect((yield* result).data).toBe("")
    }))

  it.live("done fails with ScriptError when the client closes early", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({ script: [ScriptedPeer.expect("hello")] })
      const client = yield* connect(peer)
      client.end("hel")
      const error = yield* Effect.flip(peer.done(0))
      expect(error.reason).toBe("ClientClosed")
      expect(error.got).toBe("hel")
    }))

  it.live("unix socket: listens on a fresh path, removed when the scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const peer = yield* ScriptedPeer.make({
        unix: true,
        script: [ScriptedPeer.expect("hi"), ScriptedPeer.send("there"), ScriptedPeer.reset]
      }).pipe(Scope.provide(scope))
      expect(peer.path).toBeDefined()
      expect(peer.host).toBe(`unix:${peer.path}`)
      expect(Fs.existsSync(peer.path!)).toBe(true)
      const client = yield* connect(peer).pipe(Scope.provide(scope))
      const result = readToEnd(client)
      yield* write(client, "hi")
      expect((yield* result).data).toBe("there")
      yield* peer.done(0)
      expect(yield* peer.remoteAddress(0)).toBe("")
      yield* Scope.close(scope, Exit.void)
      expect(Fs.existsSync(peer.path!)).toBe(false)
    }))

  it.live("listens on ::1", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({ host: "::1", script: [ScriptedPeer.send("six"), ScriptedPeer.close] })
      expect(peer.host).toBe("::1")
      const client = yield* connect(peer)
      expect((yield* readToEnd(client)).data).toBe("six")
      expect(yield* peer.remoteAddress(0)).toBe("::1")
    }))

  it.live("TLS: serves the script over node:tls with the fixture certificate", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        tls: { key: fixture("server.key"), cert: fixture("server.crt") },
        script: [ScriptedPeer.expect("secret?"), ScriptedPeer.send("secret!"), ScriptedPeer.close]
      })
      const client = yield* Effect.acquireRelease(
        Effect.callback<Tls.TLSSocket>((resume) => {
          const socket = Tls.connect({
            host: "127.0.0.1",
            port: peer.port,
            servername: "localhost",
            ca: fixture("ca.crt")
          })
          socket.on("error", () => {})
          socket.once("secureConnect", () => resume(Effect.succeed(socket)))
        }),
        (socket) => Effect.sync(() => socket.destroy())
      )
      expect(client.authorized).toBe(true)
      const result = readToEnd(client)
      yield* write(client, "secret?")
      expect((yield* result).data).toBe("secret!")
      yield* peer.done(0)
      expect(text(yield* peer.received(0))).toBe("secret?")
    }))

  it.live("TLS: a failed handshake fails done with TlsError", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({ tls: { key: fixture("server.key"), cert: fixture("server.crt") } })
      const raw = yield* connect(peer)
      raw.write("this is not a TLS ClientHello\r\n\r\n")
      const error = yield* Effect.flip(peer.done(0))
      expect(error.reason).toBe("TlsError")
    }))

  it.live("TLS: a client rejecting the certificate fails done with TlsError and closes the connection", () =>
    Effect.gen(function*() {
      const peer = yield* ScriptedPeer.make({
        tls: { key: fixture("server.key"), cert: fixture("server.crt") },
        script: [ScriptedPeer.send("never seen")]
      })
      const code = yield* Effect.acquireRelease(
        Effect.sync(() =>
          Tls.connect({ host: "127.0.0.1", port: peer.port, servername: "b.test", ca: fixture("ca.crt") })
        ),
        (socket) => Effect.sync(() => socket.destroy())
      ).pipe(Effect.flatMap((socket) =>
        Effect.callback<string | undefined>((resume) => {
          socket.once("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code)))
        })
      ))
      expect(code).toBe("ERR_TLS_CERT_ALTNAME_INVALID")
      const error = yield* Effect.flip(peer.done(0))
      expect(error.reason).toBe("TlsError")
      yield* Effect.repeat(peer.open, { until: (n) => n === 0 })
    }))

  it.live("closing the scope destroys every connection, closes the server and leaves open at 0", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const peer = yield* ScriptedPeer.make({ script: [ScriptedPeer.delay(60_000)] }).pipe(Scope.provide(scope))
      // the clients live in the test's scope: only the peer's scope closes
      const clients = yield* Effect.all([connect(peer), connect(peer), connect(peer)])
      const results = Effect.all(clients.map(readToEnd))
      yield* Effect.repeat(peer.open, { until: (n) => n === 3 })
      yield* Scope.close(scope, Exit.void)
      expect(yield* peer.open).toBe(0)
      // every client saw its connection go away
      expect((yield* results).every((result) => result.ended || result.error !== undefined)).toBe(true)
      // nothing listens any more
      const refused = yield* Effect.callback<string | undefined>((resume) => {
        const socket = Net.connect({ host: peer.host, port: peer.port })
        socket.once("connect", () => {
          socket.destroy()
          resume(Effect.succeed(undefined))
        })
        socket.once("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code)))
      })
      expect(refused).toBe("ECONNREFUSED")
    }))

  it.live("blackhole: a connect does not complete within 300 ms", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 3; i++) {
        const outcome = yield* Effect.scoped(Effect.gen(function*() {
          const { host, port } = yield* ScriptedPeer.blackhole
          expect(host).toBe("127.0.0.1")
          return yield* Effect.callback<string>((resume) => {
            const socket = Net.connect({ host, port })
            socket.on("error", () => {})
            const timer = setTimeout(() => {
              socket.destroy()
              resume(Effect.succeed("hung"))
            }, 300)
            socket.once("connect", () => {
              clearTimeout(timer)
              socket.destroy()
              resume(Effect.succeed("connected"))
            })
          })
        }))
        expect(outcome).toBe("hung")
      }
    }))

  it("escape renders bytes as readable text", () => {
    expect(ScriptedPeer.escape(new Uint8Array([0x41, 0x0d, 0x0a, 0x09, 0x5c, 0x22, 0x00, 0xff])))
      .toBe("A\\r\\n\\t\\\\\\\"\\x00\\xff")
  })
})
