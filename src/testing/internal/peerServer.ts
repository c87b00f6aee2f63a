/**
 * The scripted peer's server: a `node:net` (or `node:tls`) listener on a free loopback port or a
 * fresh unix socket that numbers the connections it accepts, pairs each TLS socket with the TCP
 * connection under it, starts the script on each (after the handshake for TLS), and closes
 * everything with its `Scope`.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tls from "node:tls"
import type * as ScriptedPeer from "../ScriptedPeer.js"
import { AcceptedConnection } from "./acceptedConnection.js"
import * as listener from "./listener.js"
import { ScriptError } from "./scriptError.js"
import * as scriptRunner from "./scriptRunner.js"
import * as steps from "./steps.js"

let unixCounter = 0

const freshUnixPath = (): string =>
  Path.join(
    Os.tmpdir(),
    `effect-cosocket-${process.pid}-${++unixCounter}-${Math.random().toString(36).slice(2, 8)}.sock`
  )

/** See `ScriptedPeer.make`: the server, its connections and its scope. */
export const make = (
  options: ScriptedPeer.Options = {}
): Effect.Effect<ScriptedPeer.ScriptedPeer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const connections: Array<AcceptedConnection> = []
    /** Resolved when connection `index` is accepted: the per-connection accessors wait on it. */
    const acceptedByIndex = new Map<number, Deferred.Deferred<AcceptedConnection>>()
    const whenAccepted = (index: number): Deferred.Deferred<AcceptedConnection> => {
      let deferred = acceptedByIndex.get(index)
      if (deferred === undefined) {
        deferred = Deferred.makeUnsafe<AcceptedConnection>()
        acceptedByIndex.set(index, deferred)
      }
      return deferred
    }
    let closing = false
    const path = options.unix ? freshUnixPath() : undefined
    const tlsOptions = options.tls
    const server: Net.Server = tlsOptions === undefined
      ? Net.createServer({ allowHalfOpen: true })
      // TLS sockets become half-open once secure (see "secureConnection"): a half-open socket in
      // mid-handshake would never notice that the client gave up (e.g. rejected the certificate)
      : Tls.createServer({ ...tlsOptions, allowHalfOpen: false })

    // finalizers run in reverse order: first the script fibers are interrupted (clearing their
    // timers), then the sockets are destroyed and the server closed
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing = true
        for (const connection of connections) {
          connection.destroy()
        }
        const pending = connections.map((connection) => connection.whenClosed)
        return listener.close(server).pipe(
          Effect.andThen(Effect.promise(() => Promise.all(pending))),
          Effect.andThen(Effect.sync(() => {
            if (path !== undefined) {
              Fs.rmSync(path, { force: true })
            }
          }))
        )
      })
    )
    const fibers = yield* FiberSet.make<void, never>()
    const run = yield* FiberSet.runtime(fibers)<never>()

    const startScript = (connection: AcceptedConnection, socket: Net.Socket) => {
      connection.attach(socket)
      run(Effect.suspend(() => scriptRunner.play(connection, steps.stepsFor(options.script, connection.index))))
    }

    const byTcp = new WeakMap<Net.Socket, AcceptedConnection>()
    const findTls = (socket: Tls.TLSSocket): AcceptedConnection | undefined => {
      // node:tls keeps the wrapped TCP socket in `_parent`; fall back to the remote endpoint
      const parent = (socket as unknown as { _parent?: unknown })._parent
      const found = parent instanceof Net.Socket ? byTcp.get(parent) : undefined
      return found ?? connections.find((connection) =>
        connection.socket === undefined && connection.remotePort === socket.remotePort &&
        connection.remoteAddress === socket.remoteAddress
      )
    }

    server.on("connection", (tcp: Net.Socket) => {
      tcp.on("error", () => {})
      if (closing) {
        tcp.destroy()
        return
      }
      const connection = new AcceptedConnection(connections.length, tcp)
      connections.push(connection)
      byTcp.set(tcp, connection)
      Deferred.doneUnsafe(whenAccepted(connection.index), Effect.succeed(connection))
      if (tlsOptions === undefined) {
        startScript(connection, tcp)
      }
    })
    if (tlsOptions !== undefined) {
      server.on("secureConnection", (socket: Tls.TLSSocket) => {
        socket.on("error", () => {})
        // half-open only once secure: a client that closes mid-handshake must end the socket
        socket.allowHalfOpen = true
        const connection = findTls(socket)
        if (connection === undefined || closing) {
          socket.destroy()
          return
        }
        startScript(connection, socket)
      })
      server.on("tlsClientError", (error: Error, socket: Tls.TLSSocket) => {
        const connection = findTls(socket)
        if (connection !== undefined) {
          connection.failure ??= error
          Deferred.doneUnsafe(
            connection.done,
            Effect.fail(new ScriptError({ connection: connection.index, step: 0, reason: "TlsError", cause: error }))
          )
        }
      })
    }

    yield* listener.listen(server, path !== undefined ? { path } : { host: options.host ?? "127.0.0.1", port: 0 })

    const address = server.address()
    const host = path !== undefined
      ? `unix:${path}`
      : typeof address === "object" && address !== null
      ? address.address
      : options.host ?? "127.0.0.1"
    const port = typeof address === "object" && address !== null ? address.port : 0
    const connection = (index: number) => Deferred.await(whenAccepted(index))

    return {
      host,
      port,
      path,
      accepted: Effect.sync(() => connections.length),
      open: Effect.sync(() => connections.filter((c) => c.tcpOpen).length),
      received: (index) => Effect.map(connection(index), (c) => c.received()),
      done: (index) => Effect.flatMap(connection(index), (c) => Deferred.await(c.done)),
      remoteAddress: (index) => Effect.map(connection(index), (c) => c.remoteAddress),
      remotePort: (index) => Effect.map(connection(index), (c) => c.remotePort)
    } satisfies ScriptedPeer.ScriptedPeer
  })
