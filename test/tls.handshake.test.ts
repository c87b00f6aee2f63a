/**
 * Catalog group TCP-SSL (sslHandshake) against node:tls servers on loopback with the fixture
 * certificates, plus verification on by default (ours: a deliberate difference listed in the README), mutual TLS, session
 * resumption observed by the server, handshake timeouts and interruption, and a real
 * `openssl s_server`.
 *
 * Not applicable (Lua-API misuse the typed API rules out): TCP-SSL-010 (`sslhandshake` on a
 * downstream request socket: there is no such object here), TCP-SSL-015 (calling the method without
 * `self`), and the type-error half of TCP-SSL-017 (`setclientcert("string", key)`: certificates and
 * keys are plain strings or bytes here). The meaning of TCP-SSL-017 (a certificate without its key)
 * is tested. OpenResty's `ssl_verify` defaults to false; ours defaults to true (tests say "ours").
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import type * as Tls from "node:tls"
import { ConnectionPool, CosocketError, TcpSocket } from "../src/index.js"
import type { Tls as TlsApi } from "../src/index.js"
import { handshakeError } from "../src/node/internal/tlsTransport.js"
import { eventually, run, server } from "./support/loopback.js"
import {
  ca,
  clientCert,
  expiredCert,
  fixture,
  opensslServer,
  selfSignedCert,
  serverBCert,
  serverCert,
  type TlsServer,
  tlsServer
} from "./support/tls.js"

const REQ53 = "GET / HTTP/1.1\r\nHost: abc.test\r\nConnection: close\r\n\r\n" // 53 bytes

/** Answers `status` to any request, then closes (the catalog's TLS HTTP peer). */
const httpAnswer = (status: string) => (socket: Tls.TLSSocket) => {
  let request = ""
  socket.on("data", (chunk: Buffer) => {
    request += chunk.toString("latin1")
    if (request.includes("\r\n\r\n")) socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\n\r\n`)
  })
}

/** Waits until the server completed `n` handshakes (under TLS 1.3 the client finishes first). */
const serverSaw = (peer: TlsServer, n: number) => eventually(() => peer.secure.length >= n)

/** The error of a failed effect, as `{ _tag, message, reason? }`. */
const failure = <A, E extends { readonly _tag: string; readonly message: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.result(effect), (r) => {
    if (Result.isSuccess(r)) return { _tag: "Success" as const, message: "" }
    const e = r.failure as E & { readonly reason?: string }
    return e.reason === undefined
      ? { _tag: e._tag, message: e.message }
      : { _tag: e._tag, message: e.message, reason: e.reason }
  })

const closedAfter = (socket: TcpSocket.TcpSocket) => Effect.all([failure(socket.send("x")), failure(socket.receive())])

const CLOSED = { _tag: "SocketClosed", message: "closed" }

let unixCounter = 0
const unixPath = () => Path.join(Os.tmpdir(), `cosocket-tls-${process.pid}-${++unixCounter}.sock`)

/** A node:tls server listening on a fresh unix socket, closed with the scope. */
const unixTlsServer = (options: Tls.TlsOptions, handler: (socket: Tls.TLSSocket) => void) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const TlsModule = await import("node:tls")
      const path = unixPath()
      const sockets: Array<Net.Socket> = []
      const srv = TlsModule.createServer(options, (socket) => {
        socket.on("error", () => {})
        handler(socket)
      })
      srv.on("connection", (socket: Net.Socket) => {
        socket.on("error", () => {})
        sockets.push(socket)
      })
      srv.on("tlsClientError", () => {})
      await new Promise<void>((resolve) => srv.listen(path, resolve))
      return { path, srv, sockets }
    }),
    ({ sockets, srv }) =>
      Effect.callback<void>((resume) => {
        for (const s of sockets) s.destroy()
        srv.close(() => resume(Effect.void))
      })
  )

describe("sslHandshake: catalog TCP-SSL", () => {
  it.live("TCP-SSL-001 no SNI, no verify: session, 53-byte request, status line, close", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(selfSignedCert, httpAnswer("201 Created"))
      const socket = yield* TcpSocket.make
      yield* socket.setTimeout(2000)
      yield* socket.connect("127.0.0.1", peer.port)
      const session = yield* socket.sslHandshake({ verify: false })
      expect(Option.isSome(session)).toBe(true)
      expect(yield* socket.send(REQ53)).toBe(53)
      expect(TcpSocket.text(yield* socket.receive())).toBe("HTTP/1.1 201 Created")
      yield* socket.close
      // no SNI: the default server name is the connect host, an IP address, which is never sent
      yield* serverSaw(peer, 1)
      expect(peer.secure.map((s) => s.servername)).toEqual([false])
    })))

  it.live("TCP-SSL-002 SNI without verification: the name is sent, the certificate not checked", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(selfSignedCert, httpAnswer("201 Created"))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const session = yield* socket.sslHandshake({ serverName: "openresty.org", verify: false })
      expect(Option.isSome(session)).toBe(true)
      yield* serverSaw(peer, 1)
      expect(peer.secure.map((s) => s.servername)).toEqual(["openresty.org"])
      yield* socket.send(REQ53)
      expect(TcpSocket.text(yield* socket.receive())).toBe("HTTP/1.1 201 Created")
    })))

  for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
    it.live(`TCP-SSL-003 session reuse (${version}): the second handshake resumes, as the server sees`, () =>
      run(Effect.gen(function*() {
        const peer = yield* tlsServer({ ...serverCert, maxVersion: version }, httpAnswer("200 OK"))
        const options = { serverName: "localhost", ca }
        const round = (session: TlsApi.TlsSession | undefined) =>
          Effect.scoped(Effect.gen(function*() {
            const socket = yield* TcpSocket.make
            yield* socket.connect("127.0.0.1", peer.port)
            const s = yield* socket.sslHandshake({ ...options, session })
            yield* socket.send(REQ53)
            expect(TcpSocket.text(yield* socket.receive())).toBe("HTTP/1.1 200 OK")
            yield* socket.close
            return Option.getOrThrow(s)
          }))
        const first = yield* round(undefined)
        expect(first.protocol).toBe(version)
        expect(first.resumed).toBe(false)
        expect(first.bytes.length).toBeGreaterThan(0)
        const second = yield* round(first)
        expect(second.resumed).toBe(true)
        expect(peer.secure.map((s) => s.resumed)).toEqual([false, true])
        expect(peer.secure.map((s) => s.protocol)).toEqual([version, version])
      })))
  }

  it.live("TCP-SSL-003 (ours) a session is only offered to a handshake with the same TLS identity", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer({ ...serverCert, maxVersion: "TLSv1.2" }, httpAnswer("200 OK"))
      const round = (options: TlsApi.TlsOptions) =>
        Effect.scoped(Effect.gen(function*() {
          const socket = yield* TcpSocket.make
          yield* socket.connect("127.0.0.1", peer.port)
          const s = Option.getOrThrow(yield* socket.sslHandshake(options))
          yield* socket.close
          return s
        }))
      const first = yield* round({ serverName: "localhost", ca })
      // same server, another identity (a.test): a full handshake, not a resumption
      const other = yield* round({ serverName: "a.test", ca, session: first })
      expect(other.resumed).toBe(false)
      yield* serverSaw(peer, 2)
      expect(peer.secure.map((s) => s.resumed)).toEqual([false, false])
    })))

  it.live("TCP-SSL-005 certificate for another name, verify off: success and the response", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverBCert, httpAnswer("404 Not Found"))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.sslHandshake({ serverName: "openresty.org", verify: false })
      yield* socket.send(REQ53)
      expect(TcpSocket.text(yield* socket.receive())).toBe("HTTP/1.1 404 Not Found")
    })))

  it.live("TCP-SSL-006 verification passes with the right CA and server name", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert, httpAnswer("200 OK"))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const session = Option.getOrThrow(yield* socket.sslHandshake({ serverName: "a.test", ca, verify: true }))
      expect(session.identity).toContain("sni=a.test,verify=1,")
      yield* serverSaw(peer, 1)
      expect(peer.secure.map((s) => s.servername)).toEqual(["a.test"])
      yield* socket.send(REQ53)
      expect(TcpSocket.text(yield* socket.receive())).toBe("HTTP/1.1 200 OK")
    })))

  it.live("TCP-SSL-007 chain errors: `<n>: <text>`, then the connection is closed", () =>
    run(Effect.gen(function*() {
      // the leaf alone, its CA unknown (the platform's roots): OpenSSL's 21
      const leafOnly = yield* tlsServer(serverCert)
      const a = yield* TcpSocket.make
      yield* a.connect("127.0.0.1", leafOnly.port)
      expect(yield* failure(a.sslHandshake({ serverName: "localhost" }))).toEqual({
        _tag: "TlsError",
        reason: "verify",
        message: "21: unable to verify the first certificate"
      })
      expect(yield* closedAfter(a)).toEqual([CLOSED, CLOSED])
      // the server sends its chain (leaf + CA) and the client trusts another CA: 19
      const chain = yield* tlsServer({ key: serverCert.key, cert: Buffer.concat([serverCert.cert, ca]) })
      const b = yield* TcpSocket.make
      yield* b.connect("127.0.0.1", chain.port)
      expect(yield* failure(b.sslHandshake({ serverName: "localhost", ca: fixture("self-signed.crt") }))).toEqual({
        _tag: "TlsError",
        reason: "verify",
        message: "19: self-signed certificate in certificate chain"
      })
      expect(yield* closedAfter(b)).toEqual([CLOSED, CLOSED])
    })))

  it("TCP-SSL-007 the verify codes Node names map to OpenSSL's numbers (20, 22, 62)", () => {
    const error = (code: string, message: string) => Object.assign(new Error(message), { code })
    expect(handshakeError(error("UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "unable to get local issuer certificate")).message)
      .toBe("20: unable to get local issuer certificate")
    expect(handshakeError(error("CERT_CHAIN_TOO_LONG", "certificate chain too long")).message)
      .toBe("22: certificate chain too long")
    expect(handshakeError(error("HOSTNAME_MISMATCH", "hostname mismatch")).message).toBe("62: hostname mismatch")
    // Node 24's advice after OpenSSL's text is not part of it
    const advice = "; if the root CA is installed locally, try running Node.js with --use-system-ca"
    expect(handshakeError(error("DEPTH_ZERO_SELF_SIGNED_CERT", `self-signed certificate${advice}`)).message)
      .toBe("18: self-signed certificate")
    const other = handshakeError(error("ECONNRESET", "socket hang up"))
    expect([other.reason, other.message]).toEqual(["handshake", "handshake failed"])
  })

  it.live("TCP-SSL-009 no common protocol version: handshake failed, then closed", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer({ ...serverCert, maxVersion: "TLSv1.2" })
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* failure(socket.sslHandshake({ ca, minVersion: "TLSv1.3" }))).toEqual({
        _tag: "TlsError",
        reason: "handshake",
        message: "handshake failed"
      })
      expect(yield* closedAfter(socket)).toEqual([CLOSED, CLOSED])
    })))

  it.live("TCP-SSL-011 unix-domain TLS (no verify): session and exchange; a plain peer: handshake failed", () =>
    run(Effect.gen(function*() {
      const tlsPeer = yield* unixTlsServer(selfSignedCert, httpAnswer("200 OK"))
      const socket = yield* TcpSocket.make
      yield* socket.connect(`unix:${tlsPeer.path}`)
      expect(Option.isSome(yield* socket.sslHandshake({ verify: false }))).toBe(true)
      yield* socket.send(REQ53)
      expect(TcpSocket.text(yield* socket.receive())).toBe("HTTP/1.1 200 OK")
      const plain = yield* server((s) => s.on("data", () => s.end("HTTP/1.1 400 Bad Request\r\n\r\n")), {
        unix: true
      })
      const other = yield* TcpSocket.make
      yield* other.connect(`unix:${plain.path}`)
      expect(yield* failure(other.sslHandshake({ verify: false }))).toEqual({
        _tag: "TlsError",
        reason: "handshake",
        message: "handshake failed"
      })
      expect(yield* closedAfter(other)).toEqual([CLOSED, CLOSED])
    })))

  it.live("TCP-SSL-013 keepSession: false returns Option.none(); by default a session", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert)
      const a = yield* TcpSocket.make
      yield* a.connect("127.0.0.1", peer.port)
      expect(yield* a.sslHandshake({ ca, keepSession: false })).toEqual(Option.none())
      const b = yield* TcpSocket.make
      yield* b.connect("127.0.0.1", peer.port)
      const session = yield* b.sslHandshake({ ca, keepSession: true })
      expect(Option.isSome(session)).toBe(true)
      // the connection works after both
      yield* a.send("ping\n")
      expect(TcpSocket.text(yield* a.receive())).toBe("ping")
    })))

  it.live("TCP-SSL-014 unix socket, verify without server name: chain only (trusted passes, untrusted is 18)", () =>
    run(Effect.gen(function*() {
      const peer = yield* unixTlsServer(selfSignedCert, (s) => s.pipe(s))
      const trusted = yield* TcpSocket.make
      yield* trusted.connect(`unix:${peer.path}`)
      const session = Option.getOrThrow(yield* trusted.sslHandshake({ ca: fixture("self-signed.crt") }))
      expect(session.identity.startsWith("sni=-,verify=1,")).toBe(true)
      yield* trusted.send("hi\n")
      expect(TcpSocket.text(yield* trusted.receive())).toBe("hi")
      const untrusted = yield* TcpSocket.make
      yield* untrusted.connect(`unix:${peer.path}`)
      expect(yield* failure(untrusted.sslHandshake({ ca }))).toEqual({
        _tag: "TlsError",
        reason: "verify",
        message: "18: self-signed certificate"
      })
    })))

  it.live("TCP-SSL-017 a certificate without its key (or the reverse): setup error, connection unchanged", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer({ ...serverCert, requestCert: true, rejectUnauthorized: true, ca })
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const setup = {
        _tag: "TlsError",
        reason: "setup",
        message: "client certificate must be supplied with corresponding private key"
      }
      expect(yield* failure(socket.sslHandshake({ ca, cert: clientCert.cert }))).toEqual(setup)
      expect(yield* failure(socket.sslHandshake({ ca, key: clientCert.key }))).toEqual(setup)
      // wrong types (the runtime side of "bad cert arg"): InvalidArgument
      expect(yield* failure(socket.sslHandshake({ ca, cert: 42 as never, key: clientCert.key }))).toEqual({
        _tag: "InvalidArgument",
        message: "bad \"cert\" option: string or Uint8Array expected, got number"
      })
      // a key that does not belong to the certificate: setup, before anything is sent
      const mismatched = yield* Effect.flip(socket.sslHandshake({ ca, cert: clientCert.cert, key: serverCert.key }))
      expect([mismatched._tag, (mismatched as CosocketError.TlsError).reason, mismatched.message]).toEqual([
        "TlsError",
        "setup",
        "bad certificate or key: key values mismatch"
      ])
      expect(CosocketError.disposition(mismatched as CosocketError.TlsError)).toBe("reusable")
      // nothing was sent: the same connection still completes a proper mutual-TLS handshake
      expect(peer.accepted()).toBe(1)
      yield* socket.sslHandshake({ ca, ...clientCert })
      yield* socket.send("still here\n")
      expect(TcpSocket.text(yield* socket.receive())).toBe("still here")
      expect(peer.secure.map((s) => [s.authorized, s.clientCn])).toEqual([[true, "effect-cosocket-test-client"]])
    })))

  it.live("TCP-SSL-018 before any connect and after close: closed (ours: a value, not a thrown error)", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert)
      const socket = yield* TcpSocket.make
      expect(yield* failure(socket.sslHandshake({ ca }))).toEqual(CLOSED)
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.close
      expect(yield* failure(socket.sslHandshake({ ca }))).toEqual(CLOSED)
      expect(peer.secure.length).toBe(0)
    })))
})

describe("sslHandshake: verification on by default (ours: a deliberate difference listed in the README)", () => {
  const cases = [
    ["self-signed", selfSignedCert, "18: self-signed certificate"],
    ["expired", expiredCert, "10: certificate has expired"]
  ] as const
  for (const [name, cert, detail] of cases) {
    it.live(`a ${name} certificate: TlsError verify "${detail}"; verify: false connects`, () =>
      run(Effect.gen(function*() {
        const peer = yield* tlsServer(cert)
        const socket = yield* TcpSocket.make
        yield* socket.connect("127.0.0.1", peer.port)
        const error = yield* Effect.flip(socket.sslHandshake({ ca }))
        expect(error).toBeInstanceOf(CosocketError.TlsError)
        expect([(error as CosocketError.TlsError).reason, error.message]).toEqual(["verify", detail])
        expect(CosocketError.disposition(error as CosocketError.TlsError)).toBe("dead")
        const off = yield* TcpSocket.make
        yield* off.connect("127.0.0.1", peer.port)
        yield* off.sslHandshake({ ca, verify: false })
        yield* off.send("ok?\n")
        expect(TcpSocket.text(yield* off.receive())).toBe("ok?")
      })))
  }

  it.live("an unknown CA (platform roots, nothing passed): 21; the test CA passed: success", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert)
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* failure(socket.sslHandshake())).toEqual({
        _tag: "TlsError",
        reason: "verify",
        message: "21: unable to verify the first certificate"
      })
      const ok = yield* TcpSocket.make
      yield* ok.connect("127.0.0.1", peer.port)
      expect(Option.isSome(yield* ok.sslHandshake({ ca }))).toBe(true)
    })))

  it.live("host mismatch: the certificate is valid but not for the name (explicit and default)", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverBCert)
      const mismatch = { _tag: "TlsError", reason: "hostMismatch", message: "certificate host mismatch" }
      const explicit = yield* TcpSocket.make
      yield* explicit.connect("127.0.0.1", peer.port)
      expect(yield* failure(explicit.sslHandshake({ serverName: "a.test", ca }))).toEqual(mismatch)
      expect(yield* closedAfter(explicit)).toEqual([CLOSED, CLOSED])
      // no serverName: the connect host (127.0.0.1) is checked; server-b is for b.test only
      const byDefault = yield* TcpSocket.make
      yield* byDefault.connect("127.0.0.1", peer.port)
      expect(yield* failure(byDefault.sslHandshake({ ca }))).toEqual(mismatch)
      const right = yield* TcpSocket.make
      yield* right.connect("127.0.0.1", peer.port)
      yield* right.sslHandshake({ serverName: "b.test", ca })
      const off = yield* TcpSocket.make
      yield* off.connect("127.0.0.1", peer.port)
      yield* off.sslHandshake({ serverName: "a.test", verify: false })
      yield* serverSaw(peer, 2)
      expect(peer.secure.map((s) => s.servername)).toEqual(["b.test", "a.test"])
    })))

  it.live("the connect host as server name: an IP address is verified against IP entries, not sent", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert)
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const session = Option.getOrThrow(yield* socket.sslHandshake({ ca }))
      expect(session.identity.startsWith("sni=127.0.0.1,verify=1,ca=")).toBe(true)
      yield* serverSaw(peer, 1)
      expect(peer.secure.map((s) => s.servername)).toEqual([false])
    })))

  it.live("A.20: error text comes from the current handshake only (no stale verify code)", () =>
    run(Effect.gen(function*() {
      const selfSigned = yield* tlsServer(selfSignedCert)
      const plain = yield* server((s) => s.on("data", () => s.end("HTTP/1.1 400 Bad Request\r\n\r\n")))
      const a = yield* TcpSocket.make
      yield* a.connect("127.0.0.1", selfSigned.port)
      expect((yield* failure(a.sslHandshake({ ca }))).message).toBe("18: self-signed certificate")
      const b = yield* TcpSocket.make
      yield* b.connect("127.0.0.1", plain.port)
      expect(yield* failure(b.sslHandshake({ ca }))).toEqual({
        _tag: "TlsError",
        reason: "handshake",
        message: "handshake failed"
      })
      expect(yield* failure(b.close)).toEqual(CLOSED)
    })))

  it.live("invalid options are InvalidArgument and change nothing", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert)
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const bad: ReadonlyArray<[unknown, string]> = [
        ["yes", "tls options must be an object, got string"],
        [{ verify: "no" }, "bad \"verify\" option type: string"],
        [{ serverName: "" }, "bad \"serverName\" option: \"\""],
        [{ ca: [1] }, "bad \"ca\" option: string, Uint8Array or an array of them expected"],
        [{ alpnProtocols: [""] }, "bad \"alpnProtocols\" option: non-empty protocol names expected"],
        [{ session: "abc" }, "bad \"session\" option: TlsSession expected, got string"],
        [{ keepSession: 0 }, "bad \"keepSession\" option type: number"],
        [{ minVersion: "TLSv1" }, "bad \"minVersion\" option: \"TLSv1\""],
        [{ minVersion: "TLSv1.3", maxVersion: "TLSv1.2" }, "\"minVersion\" TLSv1.3 is above \"maxVersion\" TLSv1.2"]
      ]
      for (const [options, message] of bad) {
        expect(yield* failure(socket.sslHandshake(options as TlsApi.TlsOptions))).toEqual({
          _tag: "InvalidArgument",
          message
        })
      }
      expect(peer.accepted()).toBe(1)
      expect(Option.isSome(yield* socket.sslHandshake({ ca }))).toBe(true)
    })))
})

describe("sslHandshake: mutual TLS, ALPN, timeouts", () => {
  const mtls = { ...serverCert, requestCert: true, rejectUnauthorized: true, ca }

  it.live("mutual TLS: the server verifies the client certificate", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(mtls)
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.sslHandshake({ ca, cert: clientCert.cert, key: clientCert.key })
      yield* socket.send("mutual\n")
      expect(TcpSocket.text(yield* socket.receive())).toBe("mutual")
      expect(peer.secure.map((s) => [s.authorized, s.clientCn])).toEqual([[true, "effect-cosocket-test-client"]])
    })))

  it.live("mutual TLS without a client certificate (TLS 1.2): handshake failed, then closed", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer({ ...mtls, maxVersion: "TLSv1.2" })
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      expect(yield* failure(socket.sslHandshake({ ca }))).toEqual({
        _tag: "TlsError",
        reason: "handshake",
        message: "handshake failed"
      })
      expect(yield* closedAfter(socket)).toEqual([CLOSED, CLOSED])
      expect(peer.secure.length).toBe(0)
    })))

  it.live("mutual TLS without a client certificate (TLS 1.3): the server's alert fails the first read", () =>
    run(Effect.gen(function*() {
      // Under TLS 1.3 the client finishes its handshake before the server checks the client
      // certificate: the refusal arrives as an alert on the next read (as with OpenSSL in nginx).
      const peer = yield* tlsServer(mtls)
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.sslHandshake({ ca })
      const error = yield* Effect.flip(socket.receive())
      expect(error._tag).toBe("SocketIoError")
      expect((error as CosocketError.SocketIoError).code).toBe("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED")
      expect(peer.secure.length).toBe(0)
    })))

  it.live("ALPN: the negotiated protocol is in the session", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer({ ...serverCert, ALPNProtocols: ["http/1.1"] })
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const session = Option.getOrThrow(yield* socket.sslHandshake({ ca, alpnProtocols: ["h2", "http/1.1"] }))
      expect(session.alpnProtocol).toBe("http/1.1")
      yield* serverSaw(peer, 1)
      expect(peer.secure.map((s) => s.alpn)).toEqual(["http/1.1"])
    })))

  it.live("a silent peer: the handshake times out with the connect timeout and closes the connection", () =>
    run(Effect.gen(function*() {
      const silent = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.setTimeouts(150, 10_000, 10_000)
      yield* socket.connect("127.0.0.1", silent.port)
      expect(yield* failure(socket.sslHandshake({ ca }))).toEqual({ _tag: "SocketTimeout", message: "timeout" })
      expect(yield* closedAfter(socket)).toEqual([CLOSED, CLOSED])
    })))

  it.live("interrupting a handshake closes the connection and frees its pool slot", () =>
    run(Effect.gen(function*() {
      const silent = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", silent.port)
      const fiber = yield* Effect.forkChild(socket.sslHandshake({ ca }))
      yield* Effect.sleep(50)
      yield* Fiber.interrupt(fiber)
      expect(yield* closedAfter(socket)).toEqual([CLOSED, CLOSED])
      const stats = yield* ConnectionPool.stats
      expect(stats.get(`127.0.0.1:${silent.port}`)?.active ?? 0).toBe(0)
    })))
})

describe("connect with { tls }", () => {
  it.live("a fresh connection is upgraded as part of connect; the key carries the identity", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert)
      const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, { tls: { ca } })
      yield* socket.send("over tls\n")
      expect(TcpSocket.text(yield* socket.receive())).toBe("over tls")
      // the handshake is already done: the same identity returns at once
      const session = Option.getOrThrow(yield* socket.sslHandshake({ ca }))
      expect(peer.secure.length).toBe(1)
      const keys = [...(yield* ConnectionPool.stats).keys()]
      expect(keys).toEqual([`127.0.0.1:${peer.port} tls=${session.identity}`])
    })))

  it.live("`tls: true` verifies against the platform roots and the host: the test CA is unknown (21)", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert)
      const socket = yield* TcpSocket.make
      expect(yield* failure(socket.connect("127.0.0.1", peer.port, { tls: true }))).toEqual({
        _tag: "TlsError",
        reason: "verify",
        message: "21: unable to verify the first certificate"
      })
      expect(yield* closedAfter(socket)).toEqual([CLOSED, CLOSED])
      const stats = yield* ConnectionPool.stats
      expect([...stats.values()].map((s) => s.active)).toEqual([])
    })))

  it.live("the connect timeout covers TCP connect and handshake together", () =>
    run(Effect.gen(function*() {
      const silent = yield* server(() => {})
      const socket = yield* TcpSocket.make
      yield* socket.setTimeouts(150, 10_000, 10_000)
      expect(yield* failure(socket.connect("127.0.0.1", silent.port, { tls: { ca } }))).toEqual({
        _tag: "SocketTimeout",
        message: "timeout"
      })
      expect(yield* closedAfter(socket)).toEqual([CLOSED, CLOSED])
    })))

  it.live("invalid tls options fail before anything changes (the previous connection stays)", () =>
    run(Effect.gen(function*() {
      const peer = yield* tlsServer(serverCert)
      const socket = yield* TcpSocket.connect("127.0.0.1", peer.port, { tls: { ca } })
      expect(yield* failure(socket.connect("127.0.0.1", peer.port, { tls: { ca, cert: clientCert.cert } }))).toEqual({
        _tag: "TlsError",
        reason: "setup",
        message: "client certificate must be supplied with corresponding private key"
      })
      expect(yield* failure(socket.connect("127.0.0.1", peer.port, { tls: { verify: 1 as never } }))).toEqual({
        _tag: "InvalidArgument",
        message: "bad \"verify\" option type: number"
      })
      yield* socket.send("alive\n")
      expect(TcpSocket.text(yield* socket.receive())).toBe("alive")
    })))
})

describe("openssl s_server", () => {
  it.live(
    "handshake and exchange against a real openssl s_server (-www); resumption seen by openssl",
    () =>
      run(Effect.gen(function*() {
        const openssl = yield* opensslServer(["-www"])
        const round = (session: TlsApi.TlsSession | undefined) =>
          Effect.scoped(Effect.gen(function*() {
            const socket = yield* TcpSocket.make
            yield* socket.setTimeout(10_000)
            yield* socket.connect("127.0.0.1", openssl.port)
            const s = Option.getOrThrow(yield* socket.sslHandshake({ serverName: "localhost", ca, session }))
            yield* socket.send("GET / HTTP/1.0\r\n\r\n")
            const page = TcpSocket.text(yield* socket.receive("*a"))
            return { s, page }
          }))
        const first = yield* round(undefined)
        expect(first.page.startsWith("HTTP/1.0 200 ok\r\n")).toBe(true)
        expect(first.page).toContain("New, TLSv1.3")
        const second = yield* round(first.s)
        expect(second.s.resumed).toBe(true)
        expect(second.page).toContain("Reused, TLSv1.3")
      })),
    30_000
  )
})
