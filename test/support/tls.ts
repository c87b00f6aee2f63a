/**
 * TLS test fixtures: the certificates under test/fixtures/tls, a scoped `node:tls` server on
 * loopback that records what it saw (handshakes, resumption, SNI, client certificates), and a
 * scoped `openssl s_server` child process.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Tls from "node:tls"
import { fileURLToPath } from "node:url"

const dir = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "tls")

export const fixturePath = (name: string): string => Path.join(dir, name)
export const fixture = (name: string): Buffer => Fs.readFileSync(fixturePath(name))

export const ca = fixture("ca.crt")
export const serverCert = { key: fixture("server.key"), cert: fixture("server.crt") }
export const serverBCert = { key: fixture("server-b.key"), cert: fixture("server-b.crt") }
export const expiredCert = { key: fixture("expired.key"), cert: fixture("expired.crt") }
export const selfSignedCert = { key: fixture("self-signed.key"), cert: fixture("self-signed.crt") }
export const clientCert = { key: fixture("client.key"), cert: fixture("client.crt") }

/** What the server saw on one secure connection. */
export interface Seen {
  readonly servername: string | false
  readonly resumed: boolean
  readonly protocol: string | null
  readonly authorized: boolean
  readonly clientCn: string | undefined
  readonly alpn: string | false
}

export interface TlsServer {
  readonly host: string
  readonly port: number
  /** TCP connections accepted. */
  readonly accepted: () => number
  /** Completed handshakes ('secureConnection'), in order. */
  readonly secure: Array<Seen>
  /** Server-side TLS sockets, in handshake order. */
  readonly sockets: Array<Tls.TLSSocket>
  /** Handshakes that failed on the server side ('tlsClientError' codes). */
  readonly clientErrors: Array<string>
}

/**
 * A scoped `node:tls` server on 127.0.0.1; `handler` scripts each secure connection (default:
 * echo). Every socket and the server are closed with the scope.
 */
export const tlsServer = (
  options: Tls.TlsOptions,
  handler: (socket: Tls.TLSSocket, index: number) => void = (socket) => socket.pipe(socket)
): Effect.Effect<TlsServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: Tls.Server; readonly raw: Array<Net.Socket>; readonly info: TlsServer }>(
      (resume) => {
        const raw: Array<Net.Socket> = []
        const info: TlsServer = {
          host: "127.0.0.1",
          port: 0,
          accepted: () => raw.length,
          secure: [],
          sockets: [],
          clientErrors: []
        }
        const server = Tls.createServer({ allowHalfOpen: true, ...options }, (socket) => {
          socket.on("error", () => {})
          const peer = socket.getPeerCertificate()
          const cn = peer?.subject?.CN
          info.secure.push({
            servername: socket.servername ?? false,
            resumed: socket.isSessionReused(),
            protocol: socket.getProtocol(),
            authorized: socket.authorized,
            clientCn: Array.isArray(cn) ? cn.join(",") : cn,
            alpn: socket.alpnProtocol ?? false
          })
          info.sockets.push(socket)
          handler(socket, info.sockets.length - 1)
        })
        server.on("connection", (socket: Net.Socket) => {
          socket.on("error", () => {})
          raw.push(socket)
        })
        server.on("tlsClientError", (error: NodeJS.ErrnoException) => {
          info.clientErrors.push(error.code ?? error.message)
        })
        server.listen(0, "127.0.0.1", () => {
          ;(info as { port: number }).port = (server.address() as Net.AddressInfo).port
          resume(Effect.succeed({ server, raw, info }))
        })
      }
    ),
    ({ raw, server }) =>
      Effect.callback<void>((resume) => {
        for (const socket of raw) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ info }) => info))

/** A free loopback port (listen on 0, close). */
export const freePort: Effect.Effect<number> = Effect.callback<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Whether the openssl CLI is on the PATH. */
export const hasOpenssl = (): boolean => ChildProcess.spawnSync("openssl", ["version"]).status === 0

export const OPENSSL_HINT = "openssl is not installed: install it (apt-get install openssl, brew install openssl); " +
  ".ci/run installs it where missing"

/**
 * `openssl s_server` on 127.0.0.1 with the fixture server certificate, in `mode` (`-www`, `-rev`,
 * ...), killed when the scope closes. Resolves once it accepts connections.
 */
export const opensslServer = (
  extra: ReadonlyArray<string>
): Effect.Effect<{ readonly port: number; readonly output: () => string }, Error, Scope.Scope> =>
  Effect.gen(function*() {
    if (!hasOpenssl()) return yield* Effect.fail(new Error(OPENSSL_HINT))
    const port = yield* freePort
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn("openssl", [
          "s_server",
          "-accept",
          `127.0.0.1:${port}`,
          "-cert",
          fixturePath("server.crt"),
          "-key",
          fixturePath("server.key"),
          "-naccept",
          "100",
          ...extra
        ], { stdio: ["pipe", "pipe", "pipe"] })
      ),
      (child) =>
        Effect.callback<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
          child.kill("SIGTERM")
        })
    )
    let output = ""
    child.stdout!.on("data", (chunk: Buffer) => output += chunk.toString("latin1"))
    child.stderr!.on("data", (chunk: Buffer) => output += chunk.toString("latin1"))
    // wait until it listens ("ACCEPT" on stdout), or fail with what it printed
    yield* Effect.callback<void, Error>((resume) => {
      let done = false
      const check = () => {
        if (done) return
        if (output.includes("ACCEPT")) {
          done = true
          resume(Effect.void)
        }
      }
      child.stdout!.on("data", check)
      child.once("exit", (code) => {
        if (done) return
        done = true
        resume(Effect.fail(new Error(`openssl s_server exited (${code}): ${output}`)))
      })
      check()
    }).pipe(
      Effect.timeoutOrElse({
        duration: "10 seconds",
        orElse: () => Effect.fail(new Error("openssl s_server did not start"))
      })
    )
    return { port, output: () => output }
  })
