import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import type * as Net from "node:net"
import * as Path from "node:path"
import * as Tls from "node:tls"
import { fileURLToPath } from "node:url"

const dir = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "fixtures", "tls")
const file = (name: string) => Fs.readFileSync(Path.join(dir, name))

interface Served {
  readonly port: number
  readonly host: string
  /** What the server saw on its first connection: the client certificate's CN, or the TLS error. */
  readonly seen: Effect.Effect<{ readonly authorized: boolean; readonly clientCn: string | undefined } | string>
}

/** A TLS server on loopback that answers "ok" and closes, bound to the test's scope. */
const serve = (options: Tls.TlsOptions, host = "127.0.0.1") =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: Tls.Server; readonly sockets: Set<Net.Socket>; readonly served: Served }>(
      (resume) => {
        let report: (value: { readonly authorized: boolean; readonly clientCn: string | undefined } | string) => void
        const seen = new Promise<{ readonly authorized: boolean; readonly clientCn: string | undefined } | string>((
          resolve
        ) => report = resolve)
        const sockets = new Set<Net.Socket>()
        const server = Tls.createServer(options, (socket) => {
          socket.on("error", () => {})
          const peer = socket.getPeerCertificate()
          const cn = peer?.subject?.CN
          report({ authorized: socket.authorized, clientCn: Array.isArray(cn) ? cn.join(",") : cn })
          socket.end("ok")
        })
        server.on("connection", (raw) => {
          raw.on("error", () => {})
          sockets.add(raw)
          raw.once("close", () => sockets.delete(raw))
        })
        server.on("tlsClientError", (error: NodeJS.ErrnoException) => report(error.code ?? error.message))
        server.listen({ host, port: 0 }, () => {
          const port = (server.address() as { port: number }).port
          resume(Effect.succeed({ server, sockets, served: { port, host, seen: Effect.promise(() => seen) } }))
        })
      }
    ),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
        sockets.forEach((socket) => socket.destroy())
      })
  ).pipe(Effect.map(({ served }) => served))

/** Connects and reads to the end: "ok" on success, else the client's error code. */
const connect = (options: Tls.ConnectionOptions) =>
  Effect.acquireRelease(
    Effect.sync(() => Tls.connect(options)),
    (socket) => Effect.sync(() => socket.destroy())
  ).pipe(Effect.flatMap((socket) =>
    Effect.callback<string>((resume) => {
      let data = ""
      socket.on("data", (chunk: Buffer) => data += chunk.toString())
      socket.on("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code ?? error.message)))
      socket.on("end", () => resume(Effect.succeed(data)))
    })
  ))

const serverCert = { key: file("server.key"), cert: file("server.crt") }

describe("TLS fixtures", () => {
  it.live("server.crt verifies against ca.crt for localhost, 127.0.0.1, ::1 and a.test", () =>
    Effect.gen(function*() {
      const server = yield* serve(serverCert)
      const ca = file("ca.crt")
      expect(yield* connect({ host: "127.0.0.1", port: server.port, servername: "localhost", ca })).toBe("ok")
      expect(yield* connect({ host: "127.0.0.1", port: server.port, ca })).toBe("ok")
      expect(yield* connect({ host: "127.0.0.1", port: server.port, servername: "a.test", ca })).toBe("ok")
      expect(yield* connect({ host: "127.0.0.1", port: server.port, servername: "b.test", ca }))
        .toBe("ERR_TLS_CERT_ALTNAME_INVALID")
      const six = yield* serve(serverCert, "::1")
      expect(yield* connect({ host: "::1", port: six.port, ca })).toBe("ok")
    }))

  it.live("server-b.crt verifies for b.test only", () =>
    Effect.gen(function*() {
      const server = yield* serve({ key: file("server-b.key"), cert: file("server-b.crt") })
      const ca = file("ca.crt")
      expect(yield* connect({ host: "127.0.0.1", port: server.port, servername: "b.test", ca })).toBe("ok")
      expect(yield* connect({ host: "127.0.0.1", port: server.port, servername: "localhost", ca }))
        .toBe("ERR_TLS_CERT_ALTNAME_INVALID")
    }))

  it.live("expired.crt fails with CERT_HAS_EXPIRED", () =>
    Effect.gen(function*() {
      const server = yield* serve({ key: file("expired.key"), cert: file("expired.crt") })
      expect(yield* connect({ host: "127.0.0.1", port: server.port, servername: "localhost", ca: file("ca.crt") }))
        .toBe("CERT_HAS_EXPIRED")
    }))

  it.live("self-signed.crt fails with DEPTH_ZERO_SELF_SIGNED_CERT", () =>
    Effect.gen(function*() {
      const server = yield* serve({ key: file("self-signed.key"), cert: file("self-signed.crt") })
      expect(yield* connect({ host: "127.0.0.1", port: server.port, servername: "localhost", ca: file("ca.crt") }))
        .toBe("DEPTH_ZERO_SELF_SIGNED_CERT")
      // trusting the certificate itself makes it verify
      expect(yield* connect({ host: "127.0.0.1", port: server.port, ca: file("self-signed.crt") })).toBe("ok")
    }))

  it.live("mutual TLS: client.crt is accepted by a server requiring a certificate", () =>
    Effect.gen(function*() {
      const server = yield* serve({ ...serverCert, ca: file("ca.crt"), requestCert: true, rejectUnauthorized: true })
      const reply = yield* connect({
        host: "127.0.0.1",
        port: server.port,
        servername: "localhost",
        ca: file("ca.crt"),
        key: file("client.key"),
        cert: file("client.crt")
      })
      expect(reply).toBe("ok")
      expect(yield* server.seen).toEqual({ authorized: true, clientCn: "effect-cosocket-test-client" })
    }))

  it.live("mutual TLS: a client without a certificate is rejected", () =>
    Effect.gen(function*() {
      const server = yield* serve({ ...serverCert, ca: file("ca.crt"), requestCert: true, rejectUnauthorized: true })
      const reply = yield* connect({
        host: "127.0.0.1",
        port: server.port,
        servername: "localhost",
        ca: file("ca.crt")
      })
      expect(reply).not.toBe("ok")
      expect(typeof (yield* server.seen)).toBe("string")
    }))
})
