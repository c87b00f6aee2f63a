/**
 * A Redis client written cosocket-style: straight-line reads (`receive("*l")` for a reply's
 * header line, `receive(n + 2)` for a bulk body), pipelining in one `send`, and connections
 * reused through the keepalive pool under a key that includes the database and the user.
 *
 * Like lua-resty-redis, a connection whose protocol state is unknown (a read timed out, the reply
 * was garbage) is closed at once and never pooled; the engine's `DirtyConnection`
 * refusal in `setKeepalive` is the second line of defence.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { CosocketError, Transport } from "../../src/index.js"
import { ConnectionPool, TcpSocket } from "../../src/index.js"
import * as Resp from "./Resp.js"

export { ProtocolError, RedisError } from "./Resp.js"
export type { Arg, RespValue } from "./Resp.js"

/** Everything a command can fail with. */
export type RedisFailure =
  | Resp.RedisError
  | Resp.ProtocolError
  | TcpSocket.ReceiveError
  | TcpSocket.SendError
  | CosocketError.InvalidArgument

/** Everything `connect` can fail with (the AUTH and SELECT of a fresh connection included). */
export type ConnectFailure = TcpSocket.ConnectFailure | RedisFailure

export interface ConnectOptions {
  readonly host: string
  readonly port: number
  /** The database to SELECT (default 0). Part of the pool key. */
  readonly db?: number | undefined
  /** The ACL user to AUTH as (default: Redis's `default` user). Part of the pool key. */
  readonly username?: string | undefined
  /** Sent with AUTH; an opaque id of it (`ConnectionPool.credentialId`, never the password) is part of the pool key. */
  readonly password?: string | undefined
  /** Connect, send and read timeout (default: `CosocketConfig`). */
  readonly timeout?: Duration.Input | undefined
  /** Read timeout, overriding `timeout` for reads. */
  readonly readTimeout?: Duration.Input | undefined
  /** Pool capacity and connect backlog of this key (see `TcpSocket.ConnectOptions`). */
  readonly poolSize?: number | undefined
  readonly backlog?: number | undefined
}

export interface Redis {
  /** The underlying cosocket (for timeouts and the like; do not read or write on it directly). */
  readonly socket: TcpSocket.TcpSocket
  /** The pool key this connection belongs to. */
  readonly poolKey: string
  /** How many times this connection came out of the pool (0: fresh, AUTH and SELECT were sent). */
  readonly reusedTimes: number
  /** Sends one command and reads its reply; an error reply fails with `RedisError`. */
  readonly command: (...args: ReadonlyArray<Resp.Arg>) => Effect.Effect<Resp.RespValue, RedisFailure>
  /**
   * Sends every command in one `send`, then reads one reply per command. Error replies are
   * returned as `ErrorReply` values (one failing command does not fail the others).
   */
  readonly pipeline: (
    commands: ReadonlyArray<ReadonlyArray<Resp.Arg>>
  ) => Effect.Effect<ReadonlyArray<Resp.RespValue>, RedisFailure>
  readonly ping: Effect.Effect<string, RedisFailure>
  /** GET: the value, or `undefined` for a missing key. */
  readonly get: (key: Resp.Arg) => Effect.Effect<Uint8Array | undefined, RedisFailure>
  readonly set: (key: Resp.Arg, value: Resp.Arg) => Effect.Effect<void, RedisFailure>
  readonly incr: (key: Resp.Arg) => Effect.Effect<bigint, RedisFailure>
  readonly del: (...keys: ReadonlyArray<Resp.Arg>) => Effect.Effect<bigint, RedisFailure>
  /**
   * Puts the connection into the pool; `false` when it was closed instead (it is dirty, has
   * unread bytes, or a command changed its connection state, such as SELECT or AUTH).
   */
  readonly release: Effect.Effect<boolean>
}

// -------------------------------------------------------------------------------------------------
// the straight-line reader

/** Everything reading one reply can fail with. */
export type ReadError = Resp.ProtocolError | TcpSocket.ReceiveError | CosocketError.InvalidArgument

/**
 * Reads one reply from the socket, cosocket-style: the header with `receive("*l")`, a bulk body
 * with `receive(n + 2)`, array items one after the other. It shares `Resp.parseHeader` with the
 * pure parser and returns the same value for every valid reply. (`"*l"` drops CRs, so unlike the
 * pure parser it accepts a bare LF as a line end.)
 */
export const readReply = Effect.fnUntraced(function*(
  socket: TcpSocket.TcpSocket
): Effect.fn.Return<Resp.RespValue, ReadError> {
  const header = Resp.parseHeader(yield* socket.receive("*l"))
  switch (header._tag) {
    case "ProtocolError":
      return yield* header
    case "BulkHeader": {
      const body = yield* socket.receive(header.length + 2)
      if (!Resp.isCrlf(body, header.length)) {
        return yield* new Resp.ProtocolError({ reason: "bulk string not terminated by CRLF" })
      }
      return Resp.bulk(body.slice(0, header.length))
    }
    case "ArrayHeader": {
      const items: Array<Resp.RespValue> = []
      for (let i = 0; i < header.length; i++) items.push(yield* readReply(socket))
      return Resp.array(items)
    }
    default:
      return header
  }
})

// -------------------------------------------------------------------------------------------------
// the client

/** Commands after which a connection must not be shared: they change its server-side state. */
const stateChanging: ReadonlySet<string> = new Set([
  "SELECT",
  "AUTH",
  "HELLO",
  "RESET",
  "CLIENT",
  "MULTI",
  "WATCH",
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "MONITOR"
])

const decoder = new TextDecoder()

const commandName = (args: ReadonlyArray<Resp.Arg>): string => {
  const first = args[0]
  if (first === undefined) return ""
  return (first instanceof Uint8Array ? decoder.decode(first) : String(first)).toUpperCase()
}

/**
 * The pool key: `redis://user@host:port/db`, plus `#` and an opaque id of the credential
 * (`ConnectionPool.credentialId`) when a password is given, so that a caller with another password
 * never gets a connection authenticated by someone else, and neither the password nor anything
 * testable against it appears in pool statistics, metrics or spans.
 */
export const poolKey = (options: ConnectOptions): string => {
  const user = options.username ?? "default"
  const base = `redis://${encodeURIComponent(user)}@${options.host}:${options.port}/${options.db ?? 0}`
  if (options.password === undefined) return base
  // A keyed hash under a per-process random key: an unkeyed hash of the password in a key that
  // reaches metrics and spans would let anyone reading them test password guesses offline.
  return `${base}#${ConnectionPool.credentialId(user, options.password)}`
}

/** Whether a cosocket error leaves the connection's protocol state unknown (close, never pool). */
const outOfSync = (error: RedisFailure): boolean =>
  error._tag === "ProtocolError" || error._tag === "SocketReadTimeout" || error._tag === "ReceiveLimitExceeded"

const asText = (value: Resp.RespValue): string =>
  value._tag === "SimpleString" ? value.value : value._tag === "Bulk" ? decoder.decode(value.value) : ""

const unexpected = (command: string, value: Resp.RespValue) =>
  new Resp.ProtocolError({ reason: `unexpected reply to ${command}: ${value._tag}` })

/**
 * Connects (or takes an idle connection of the same key from the pool). A fresh connection is
 * authenticated and switched to `db`; a reused one already is. The socket belongs to the
 * caller's scope: when it ends without `release`, the connection is closed.
 */
export const connect = (
  options: ConnectOptions
): Effect.Effect<Redis, ConnectFailure, Scope.Scope | Transport.TcpConnector | ConnectionPool.ConnectionPool> =>
  Effect.flatMap(TcpSocket.make, (socket) => open(socket, options))

/** Connects `socket` and sets the connection up (AUTH and SELECT on a fresh one). */
const open = Effect.fnUntraced(function*(
  socket: TcpSocket.TcpSocket,
  options: ConnectOptions
): Effect.fn.Return<Redis, ConnectFailure> {
  if (options.timeout !== undefined) yield* socket.setTimeout(options.timeout)
  if (options.readTimeout !== undefined) {
    const all = options.timeout === undefined ? 0 : options.timeout
    yield* socket.setTimeouts(all, all, options.readTimeout)
  }
  const key = poolKey(options)
  yield* socket.connect(options.host, options.port, {
    pool: key,
    poolSize: options.poolSize,
    backlog: options.backlog
  })
  const reusedTimes = yield* socket.getReusedTimes
  let tainted = false

  /** Closes the connection when the failure left it out of sync. */
  const guard = <A>(self: Effect.Effect<A, RedisFailure>): Effect.Effect<A, RedisFailure> =>
    Effect.tapError(self, (error) => outOfSync(error) ? Effect.ignore(socket.close) : Effect.void)

  const pipeline = Effect.fnUntraced(function*(commands: ReadonlyArray<ReadonlyArray<Resp.Arg>>) {
    if (commands.some((args) => stateChanging.has(commandName(args)))) tainted = true
    yield* socket.send(Resp.encodeCommands(commands))
    const replies: Array<Resp.RespValue> = []
    for (let i = 0; i < commands.length; i++) replies.push(yield* readReply(socket))
    return replies
  }, guard)

  const command = (...args: ReadonlyArray<Resp.Arg>) =>
    Effect.flatMap(
      pipeline([args]),
      ([reply]) =>
        reply._tag === "ErrorReply"
          ? Effect.fail(new Resp.RedisError({ reply: reply.message, bytes: reply.bytes }))
          : Effect.succeed(reply)
    )

  // Only a fresh connection needs AUTH and SELECT; the pool key guarantees a reused one has them.
  if (reusedTimes === 0) {
    const setup: Array<ReadonlyArray<Resp.Arg>> = []
    if (options.password !== undefined) {
      setup.push(
        options.username === undefined ? ["AUTH", options.password] : ["AUTH", options.username, options.password]
      )
    }
    if ((options.db ?? 0) !== 0) setup.push(["SELECT", options.db ?? 0])
    if (setup.length > 0) {
      const replies = yield* pipeline(setup)
      tainted = false
      const failed = replies.find((reply) => reply._tag === "ErrorReply")
      if (failed !== undefined && failed._tag === "ErrorReply") {
        yield* Effect.ignore(socket.close)
        return yield* new Resp.RedisError({ reply: failed.message, bytes: failed.bytes })
      }
    }
  }

  const redis: Redis = {
    socket,
    poolKey: key,
    reusedTimes,
    command,
    pipeline,
    ping: Effect.map(command("PING"), asText),
    get: (k) =>
      Effect.flatMap(command("GET", k), (reply) =>
        reply._tag === "Bulk"
          ? Effect.succeed(reply.value)
          : reply._tag === "Nil"
          ? Effect.succeed(undefined)
          : Effect.fail(unexpected("GET", reply))),
    set: (k, v) =>
      Effect.flatMap(
        command("SET", k, v),
        (reply) => reply._tag === "SimpleString" ? Effect.void : Effect.fail(unexpected("SET", reply))
      ),
    incr: (k) =>
      Effect.flatMap(
        command("INCR", k),
        (reply) => reply._tag === "Integer" ? Effect.succeed(reply.value) : Effect.fail(unexpected("INCR", reply))
      ),
    del: (...keys) =>
      Effect.flatMap(
        command("DEL", ...keys),
        (reply) => reply._tag === "Integer" ? Effect.succeed(reply.value) : Effect.fail(unexpected("DEL", reply))
      ),
    release: Effect.suspend(() =>
      tainted
        ? Effect.as(Effect.ignore(socket.close), false)
        : socket.setKeepalive().pipe(Effect.as(true), Effect.orElseSucceed(() => false))
    )
  }
  return redis
})

/**
 * Runs `use` with a connection: on success the connection goes back to the pool, on failure or
 * interruption it is closed. Needs no `Scope` (`TcpSocket.withSocket`): the cheap form for one
 * request at a time.
 */
export const use = <A, E, R>(
  options: ConnectOptions,
  f: (redis: Redis) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | ConnectFailure, R | Transport.TcpConnector | ConnectionPool.ConnectionPool> =>
  TcpSocket.withSocket((socket) =>
    Effect.flatMap(open(socket, options), (redis) => Effect.tap(f(redis), () => redis.release))
  )

/** The reply as text: simple strings and bulk strings (UTF-8); other replies give `""`. */
export const text = asText

/** A short human-readable rendering of a reply (for logs and examples). */
export const show = (value: Resp.RespValue): string => {
  switch (value._tag) {
    case "SimpleString":
      return value.value
    case "ErrorReply":
      return `(error) ${value.message}`
    case "Integer":
      return `(integer) ${value.value}`
    case "Bulk":
      return JSON.stringify(decoder.decode(value.value))
    case "Nil":
    case "NilArray":
      return "(nil)"
    case "Array":
      return `[${value.items.map(show).join(", ")}]`
  }
}
