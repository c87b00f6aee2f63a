/**
 * A TCP proxy on cosockets: a `node:net` server accepts clients; for each one a cosocket connects
 * to the upstream, and two fibers pump the bytes, one per direction, each reading one side with
 * `receiveAny` and writing the other (full duplex: one reader and one writer per socket). A FIN
 * from either side is passed on as a half-close (shutdown of the other side's write half), so
 * request/response protocols that half-close still work through the proxy; a failure (upstream
 * refused or reset) aborts the client connection with a RST.
 *
 * Accepted sockets become cosockets with `NodeCosocket.fromSocket`; a FIN is passed on with
 * `socket.shutdown("send")`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import { ConnectionPool, type CosocketError, TcpSocket, Transport } from "../../src/index.js"
import { NodeCosocket } from "../../src/node/index.js"

export interface Options {
  /** Where every client is forwarded. */
  readonly upstream: { readonly host: string; readonly port: number }
  /** Listening address (default `127.0.0.1`) and port (default: a free one). */
  readonly host?: string | undefined
  readonly port?: number | undefined
  /** Most bytes one `receiveAny` returns (default 64 KiB). */
  readonly chunkSize?: number | undefined
  /** Close a connection when a direction sees no data for this long (default: never). */
  readonly idleTimeout?: Duration.Input | undefined
}

export interface Stats {
  readonly accepted: number
  readonly active: number
  /** Bytes client -> upstream, and upstream -> client. */
  readonly bytesUp: number
  readonly bytesDown: number
  /** Connections that ended with an error (upstream refused, reset, timeout, ...). */
  readonly failed: number
}

export interface Proxy {
  readonly host: string
  readonly port: number
  readonly stats: Effect.Effect<Stats>
}

/** A cosocket and how to pass a FIN on to it. */
export interface Endpoint {
  readonly socket: TcpSocket.TcpSocket
  /** Sends FIN: our write half closes, reading goes on. */
  readonly shutdown: Effect.Effect<void>
}

/** A pool that never pools: a proxy's connections are never reused. */
const noPool: ConnectionPool.ConnectionPool = {
  acquire: (key) => Effect.succeed({ key, reused: undefined, release: () => {}, checkin: () => false }),
  stats: Effect.sync(() => new Map())
}

const socketOver = (
  connector: Transport.StreamConnector
): Effect.Effect<TcpSocket.TcpSocket, never, Scope.Scope> =>
  TcpSocket.make.pipe(
    Effect.provideService(Transport.TcpConnector, connector),
    Effect.provideService(ConnectionPool.ConnectionPool, noPool)
  )

/**
 * Wraps an accepted server-side `node:net` socket (from a server created with
 * `allowHalfOpen: true`) as a cosocket bound to the scope. Call it synchronously in the
 * `'connection'` handler, before the socket emits anything: the transport attaches its listeners
 * at once (the returned effect only builds the cosocket).
 */
export const accept = (socket: Net.Socket): Effect.Effect<Endpoint, CosocketError.CosocketError, Scope.Scope> =>
  Effect.map(NodeCosocket.fromSocket(socket), endpoint)

const endpoint = (socket: TcpSocket.TcpSocket): Endpoint => ({
  socket,
  shutdown: Effect.ignore(socket.shutdown("send"))
})

/** Connects a cosocket to `host:port` through the environment's connector, outside the pool. */
export const dial = Effect.fnUntraced(function*(
  host: string,
  port: number
): Effect.fn.Return<Endpoint, TcpSocket.ConnectFailure, Scope.Scope | Transport.TcpConnector> {
  const cosocket = yield* socketOver(yield* Transport.TcpConnector)
  yield* cosocket.connect(host, port)
  return endpoint(cosocket)
})

/**
 * Copies `from` to `to` until `from` reaches EOF, then half-closes `to`. Returns the byte count.
 * Any other read or write failure fails the pump.
 */
export const pump = Effect.fnUntraced(function*(
  from: Endpoint,
  to: Endpoint,
  chunkSize: number,
  onBytes: (n: number) => void = () => {}
): Effect.fn.Return<number, TcpSocket.ReceiveError | TcpSocket.SendError | CosocketError.InvalidArgument> {
  let total = 0
  // Made once, run for every chunk: a read effect (and its error handler) built per chunk costs
  // more than the read itself on a busy proxy.
  const read = from.socket.receiveAny(chunkSize).pipe(
    Effect.catchTag(
      "SocketClosed",
      (closed) => closed.partial === undefined ? Effect.fail(closed) : Effect.succeed(undefined)
    )
  )
  for (;;) {
    const chunk = yield* read
    if (chunk === undefined) {
      yield* to.shutdown
      return total
    }
    yield* to.socket.send(chunk)
    total += chunk.length
    onBytes(chunk.length)
  }
})

/**
 * Starts the proxy; closing the scope stops accepting, interrupts the pumps and closes every
 * connection.
 */
export const make = Effect.fnUntraced(function*(
  options: Options
): Effect.fn.Return<Proxy, never, Scope.Scope | Transport.TcpConnector> {
  const chunkSize = options.chunkSize ?? 64 * 1024
  const idle = options.idleTimeout === undefined ? Duration.infinity : Duration.fromInputUnsafe(options.idleTimeout)
  const counters = { accepted: 0, active: 0, bytesUp: 0, bytesDown: 0, failed: 0 }
  const connector = yield* Transport.TcpConnector
  let closing = false
  const server = Net.createServer({ allowHalfOpen: true })
  const open = new Set<Net.Socket>()
  yield* Effect.addFinalizer(() =>
    Effect.callback<void>((resume) => {
      closing = true
      for (const socket of open) socket.destroy()
      server.close(() => resume(Effect.void))
    })
  )
  const fibers = yield* FiberSet.make<void, never>()
  const run = yield* FiberSet.runtime(fibers)<never>()

  const serve = (client: Net.Socket) => {
    // Synchronously, before the socket emits anything.
    const downstream = accept(client)
    return Effect.gen(function*() {
      const down = yield* downstream
      const up = yield* dial(options.upstream.host, options.upstream.port)
      for (const endpoint of [down, up]) yield* endpoint.socket.setTimeouts(0, 0, idle)
      yield* Effect.all([
        pump(down, up, chunkSize, (n) => counters.bytesUp += n),
        pump(up, down, chunkSize, (n) => counters.bytesDown += n)
      ], { concurrency: 2, discard: true })
    }).pipe(
      // A failure (upstream refused or reset, a timeout) aborts the client connection with a
      // RST, before the scope's finalizers would close it with an orderly FIN.
      Effect.tapCause(() => Effect.sync(() => client.resetAndDestroy())),
      Effect.scoped,
      Effect.provideService(Transport.TcpConnector, connector),
      Effect.catch(() =>
        Effect.sync(() => {
          counters.failed++
        })
      ),
      Effect.ensuring(Effect.sync(() => {
        counters.active--
        client.destroy()
      }))
    )
  }

  server.on("connection", (client: Net.Socket) => {
    client.on("error", () => {})
    if (closing) {
      client.destroy()
      return
    }
    counters.accepted++
    counters.active++
    open.add(client)
    client.once("close", () => open.delete(client))
    run(serve(client))
  })

  yield* Effect.callback<void>((resume) => {
    server.once("error", (error) => resume(Effect.die(error)))
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.removeAllListeners("error")
      server.on("error", () => {})
      resume(Effect.void)
    })
  })
  const address = server.address() as Net.AddressInfo
  return {
    host: address.address,
    port: address.port,
    stats: Effect.sync((): Stats => ({ ...counters }))
  }
})
