/**
 * A memcached client (text protocol: get, set, delete, incr) written cosocket-style: a reply's
 * lines with `receive("*l")`, a value's data block with `receive(n + 2)`, connections reused
 * through the keepalive pool (key `host:port`).
 *
 * A read timeout or a garbage reply closes the connection at once (never pooled);
 * after an error line from the server the connection is closed at `release` instead of pooled,
 * as memcached may still be reading the rest of a rejected request.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ConnectionPool, CosocketError, Transport } from "../../src/index.js"
import { TcpSocket } from "../../src/index.js"
import * as Protocol from "./Protocol.js"

export { InvalidRequest, MemcachedError, ProtocolError } from "./Protocol.js"
export type { Item } from "./Protocol.js"

/** Everything a command can fail with. */
export type MemcachedFailure =
  | Protocol.MemcachedError
  | Protocol.ProtocolError
  | Protocol.InvalidRequest
  | TcpSocket.ReceiveError
  | TcpSocket.SendError
  | CosocketError.InvalidArgument

export interface ConnectOptions {
  readonly host: string
  readonly port: number
  /** Connect, send and read timeout (default: `CosocketConfig`). */
  readonly timeout?: Duration.Input | undefined
  /** Pool capacity and connect backlog of this key (see `TcpSocket.ConnectOptions`). */
  readonly poolSize?: number | undefined
  readonly backlog?: number | undefined
}

/** memcached's `noreply`: the server sends no reply to the command, not even an error. */
export interface NoReply {
  readonly noreply: true
}

/** A command's `noreply` switch (default `false`: wait for the reply). */
export interface ReplyOptions {
  readonly noreply?: boolean | undefined
}

export interface SetOptions extends ReplyOptions {
  readonly flags?: number | undefined
  /** Seconds (or a unix time); negative: stored already expired; default 0 (never expires). */
  readonly exptime?: number | undefined
}

export interface Memcached {
  /** The underlying cosocket (do not read or write on it directly). */
  readonly socket: TcpSocket.TcpSocket
  /** How many times this connection came out of the pool (0: fresh). */
  readonly reusedTimes: number
  /** The item, or `undefined` when the key is missing. */
  readonly get: (key: string) => Effect.Effect<Protocol.Item | undefined, MemcachedFailure>
  /** The items found, in the server's order (missing keys are absent). */
  readonly getMulti: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Protocol.Item>, MemcachedFailure>
  /**
   * Stores the value; `true` for STORED, `false` for NOT_STORED. A negative `exptime` stores it
   * already expired. With `noreply: true` the server sends nothing back: the effect succeeds once
   * the request is sent, and the outcome (even an error) is unknown.
   */
  readonly set: {
    (key: string, value: Uint8Array | string, options: SetOptions & NoReply): Effect.Effect<void, MemcachedFailure>
    (key: string, value: Uint8Array | string, options?: SetOptions): Effect.Effect<boolean, MemcachedFailure>
  }
  /** `true` for DELETED, `false` for NOT_FOUND; with `noreply: true`, nothing (see `set`). */
  readonly delete: {
    (key: string, options: NoReply): Effect.Effect<void, MemcachedFailure>
    (key: string, options?: ReplyOptions): Effect.Effect<boolean, MemcachedFailure>
  }
  /** The new value, or `undefined` for NOT_FOUND; with `noreply: true`, nothing (see `set`). */
  readonly incr: {
    (key: string, delta: bigint | number, options: NoReply): Effect.Effect<void, MemcachedFailure>
    (key: string, delta?: bigint | number, options?: ReplyOptions): Effect.Effect<bigint | undefined, MemcachedFailure>
  }
  /** Puts the connection into the pool; `false` when it was closed instead. */
  readonly release: Effect.Effect<boolean>
}

// -------------------------------------------------------------------------------------------------
// the straight-line reader

/**
 * Reads the reply to `command`, cosocket-style: line by line with `receive("*l")`, data blocks
 * with `receive(n + 2)`. Shares `Protocol.parseLine` with the pure parser and returns the same
 * value for every valid reply. (`"*l"` drops CRs, so it accepts a bare LF as a line end.)
 */
export const readReply = Effect.fnUntraced(function*(
  socket: TcpSocket.TcpSocket,
  command: Protocol.Command
): Effect.fn.Return<Protocol.Reply, Protocol.ProtocolError | TcpSocket.ReceiveError | CosocketError.InvalidArgument> {
  const items: Array<Protocol.Item> = []
  for (;;) {
    const line = Protocol.parseLine(command, yield* socket.receive("*l"))
    switch (line._tag) {
      case "ProtocolError":
        return yield* line
      case "End":
        return { _tag: "Values", items }
      case "ValueHeader": {
        const block = yield* socket.receive(line.length + 2)
        if (!Protocol.isCrlf(block, line.length)) {
          return yield* new Protocol.ProtocolError({ reason: "data block not terminated by CRLF" })
        }
        items.push(Protocol.item(line, block.slice(0, line.length)))
        continue
      }
      default:
        return line
    }
  }
})

// -------------------------------------------------------------------------------------------------
// the client

const outOfSync = (error: MemcachedFailure): boolean =>
  error._tag === "ProtocolError" || error._tag === "SocketReadTimeout" || error._tag === "ReceiveLimitExceeded"

/**
 * Connects (or takes an idle connection of `host:port` from the pool). The socket belongs to the
 * caller's scope: when it ends without `release`, the connection is closed.
 */
export const connect = Effect.fnUntraced(function*(
  options: ConnectOptions
): Effect.fn.Return<
  Memcached,
  TcpSocket.ConnectFailure,
  Scope.Scope | Transport.TcpConnector | ConnectionPool.ConnectionPool
> {
  const socket = yield* TcpSocket.make
  if (options.timeout !== undefined) yield* socket.setTimeout(options.timeout)
  yield* socket.connect(options.host, options.port, { poolSize: options.poolSize, backlog: options.backlog })
  const reusedTimes = yield* socket.getReusedTimes
  let tainted = false

  /** Sends one request and reads its reply; error lines fail with `MemcachedError`. */
  const exchange = Effect.fnUntraced(
    function*(
      command: Protocol.Command,
      request: Uint8Array | Protocol.InvalidRequest
    ): Effect.fn.Return<Protocol.Reply, MemcachedFailure> {
      if (request instanceof Protocol.InvalidRequest) return yield* request
      yield* socket.send(request)
      const reply = yield* readReply(socket, command)
      if (reply._tag === "ServerError") {
        tainted = true
        return yield* new Protocol.MemcachedError({ kind: reply.kind, detail: reply.message })
      }
      return reply
    },
    Effect.tapError((error) => outOfSync(error) ? Effect.ignore(socket.close) : Effect.void)
  )

  const getMulti = (keys: ReadonlyArray<string>) =>
    Effect.map(exchange("get", Protocol.encodeGet(keys)), (reply) => reply._tag === "Values" ? reply.items : [])

  /** Sends a `noreply` request: nothing comes back, so nothing is read. */
  const sendOnly = Effect.fnUntraced(
    function*(request: Uint8Array | Protocol.InvalidRequest): Effect.fn.Return<void, MemcachedFailure> {
      if (request instanceof Protocol.InvalidRequest) return yield* request
      yield* socket.send(request)
    }
  )

  const set = (key: string, value: Uint8Array | string, opts?: SetOptions) => {
    const request = Protocol.encodeSet(key, value, opts?.flags ?? 0, opts?.exptime ?? 0, opts?.noreply === true)
    return opts?.noreply === true
      ? sendOnly(request)
      : Effect.map(exchange("set", request), (reply) => reply._tag === "Stored")
  }
  const del = (key: string, opts?: ReplyOptions) => {
    const request = Protocol.encodeDelete(key, opts?.noreply === true)
    return opts?.noreply === true
      ? sendOnly(request)
      : Effect.map(exchange("delete", request), (reply) => reply._tag === "Deleted")
  }
  const incr = (key: string, delta: bigint | number = 1, opts?: ReplyOptions) => {
    const request = Protocol.encodeIncr(key, delta, opts?.noreply === true)
    return opts?.noreply === true
      ? sendOnly(request)
      : Effect.map(exchange("incr", request), (reply) => reply._tag === "Number" ? reply.value : undefined)
  }

  const memcached: Memcached = {
    socket,
    reusedTimes,
    get: (key) => Effect.map(getMulti([key]), (items) => items.find((item) => item.key === key)),
    getMulti,
    set: set as Memcached["set"],
    delete: del as Memcached["delete"],
    incr: incr as Memcached["incr"],
    release: Effect.suspend(() =>
      tainted
        ? Effect.as(Effect.ignore(socket.close), false)
        : socket.setKeepalive().pipe(Effect.as(true), Effect.orElseSucceed(() => false))
    )
  }
  return memcached
})

/**
 * Runs `use` with a connection: on success the connection goes back to the pool, on failure or
 * interruption it is closed.
 */
export const use = <A, E, R>(
  options: ConnectOptions,
  f: (memcached: Memcached) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | TcpSocket.ConnectFailure, R | Transport.TcpConnector | ConnectionPool.ConnectionPool> =>
  Effect.scoped(Effect.flatMap(connect(options), (memcached) => Effect.tap(f(memcached), () => memcached.release)))
