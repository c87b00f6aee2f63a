/**
 * The TCP cosocket engine: connection state, the busy flags of spec A.17, the pull-based read
 * driver and the write path. Reads run a pure need (./needs.ts) over the connection's buffer;
 * only when the buffer cannot satisfy it does the fiber wait for the transport's waker, with an
 * inactivity timer on Effect's clock around each wait.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Pool from "../ConnectionPool.js"
import type * as CosocketConfig from "../CosocketConfig.js"
import type { InvalidArgument } from "../CosocketError.js"
import {
  DirtyConnection,
  type DirtyReason,
  DubiousConnection,
  type Operation,
  ReceiveLimitExceeded,
  SocketBusyConnecting,
  SocketBusyReading,
  SocketBusyWriting,
  SocketClosed,
  SocketIoError,
  SocketReadTimeout,
  SocketTimeout,
  TlsError,
  UnreadDataInBuffer,
  UnsupportedOption
} from "../CosocketError.js"
import type * as Api from "../TcpSocket.js"
import type * as TlsApi from "../Tls.js"
import type {
  StreamConnector,
  StreamTarget,
  StreamTransport,
  TlsState,
  TlsUpgradeOptions,
  TransportFailure,
  WriteListener
} from "../Transport.js"
import { ByteBuffer } from "./byteBuffer.js"
import * as needs from "./needs.js"
import { encode } from "./sendable.js"
import * as timer from "./timer.js"
import * as tls from "./tls.js"
import * as tracing from "./tracing.js"
import * as validate from "./validate.js"

type ReadOperation = "receive" | "receiveAny" | "receiveUntil"

const EMPTY = new Uint8Array(0)
const encoder = new TextEncoder()

/** One established connection. A socket object may go through many of them. */
export class Connection {
  readonly buffer = new ByteBuffer()
  readOpen = true
  writeOpen = true
  closed = false
  /** Whether the stream can still bring bytes. */
  end: needs.StreamEnd = "open"
  failure: TransportFailure | undefined = undefined
  dirty: DirtyReason | undefined = undefined
  /** Woken when a waiting read or write must look again (data, EOF, error, close). */
  readWaker: (() => void) | undefined = undefined
  writeWaker: (() => void) | undefined = undefined

  constructor(
    readonly transport: StreamTransport,
    readonly lease: Pool.Lease,
    readonly reusedTimes: number
  ) {}

  /** Moves everything the platform has into the buffer and notes EOF or failure. */
  pull(): void {
    const t = this.transport
    for (;;) {
      const chunk = t.read()
      if (chunk === undefined) break
      this.buffer.append(chunk)
    }
    if (this.end === "open") {
      const failure = t.failure()
      if (failure !== undefined) {
        this.failure = failure
        this.end = "error"
      } else if (t.isEnded()) {
        this.end = "eof"
      } else if (t.isDestroyed()) {
        this.end = "error"
      }
    }
  }

  /** Closes both halves, frees the platform socket and the pool slot, and wakes waiters. */
  destroy(): void {
    if (this.closed) return
    this.closed = true
    this.readOpen = false
    this.writeOpen = false
    this.transport.setWaker(undefined)
    this.transport.destroy()
    this.lease.release()
    this.wake()
  }

  /** Closes one half after an error on it; both closed means the connection is gone. */
  closeHalf(half: "read" | "write"): void {
    if (half === "read") {
      this.readOpen = false
      this.buffer.clear()
    } else {
      this.writeOpen = false
    }
    if (!this.readOpen && !this.writeOpen) this.destroy()
  }

  wake(): void {
    const r = this.readWaker
    const w = this.writeWaker
    this.readWaker = undefined
    this.writeWaker = undefined
    if (r !== undefined) r()
    if (w !== undefined) w()
  }
}

interface Timeouts {
  connect: Duration.Duration | undefined
  send: Duration.Duration | undefined
  read: Duration.Duration | undefined
}

/** Accepts the TS-typed pattern and also the runtime forms OpenResty accepts (`"10"`, `2.9`). */
const parsePattern = (pattern: unknown): "*l" | "*a" | number | InvalidArgument => {
  if (pattern === undefined || pattern === "*l") return "*l"
  if (pattern === "*a") return "*a"
  let n = pattern
  if (typeof pattern === "string") {
    if (/^\s*-?\d+(\.\d+)?\s*$/.test(pattern)) n = Number(pattern)
    else if (pattern.length === 2 && pattern[0] === "*") return validate.invalid("pattern", "bad pattern argument")
    else return validate.invalid("pattern", `bad pattern argument: ${validate.quote(pattern)}`)
  }
  if (typeof n !== "number" || Number.isNaN(n)) return validate.invalid("pattern", "bad argument")
  if (n < 0) return validate.invalid("pattern", "bad number argument")
  if (!Number.isFinite(n)) return validate.invalid("pattern", "bad number argument")
  return Math.trunc(n)
}

/** Parses `connect`'s arguments into a target and the default pool key (spec A.4). */
const parseTarget = (
  host: unknown,
  port: unknown
): { readonly target: StreamTarget; readonly key: string } | InvalidArgument => {
  if (typeof host !== "string") return validate.invalid("host", `string expected, got ${validate.typeName(host)}`)
  if (host.slice(0, 5).toLowerCase() === "unix:") {
    const path = validate.unixPath(host, host.slice(5))
    if (validate.isInvalid(path)) return path
    return { target: { _tag: "Unix", path }, key: host }
  }
  if (port === undefined || port === null) return validate.invalid("port", "missing the port number")
  const p = validate.port(port)
  if (validate.isInvalid(p)) return p
  const bare = validate.host(host)
  if (validate.isInvalid(bare)) return bare
  return { target: { _tag: "Inet", host: bare, port: p }, key: `${host}:${p}` }
}

interface ValidConnectOptions {
  readonly pool: string | undefined
  readonly limits: Pool.PoolLimits
  /** The `tls` option as given (parsed by ./tls.ts once the host is known). */
  readonly tls: unknown
}

const connectOptionNames = ["pool", "poolSize", "backlog", "tls"] as const

const parseConnectOptions = (options: unknown): ValidConnectOptions | InvalidArgument => {
  if (typeof options !== "object" && typeof options !== "undefined") {
    return validate.invalid("options", `options must be an object, got ${validate.typeName(options)}`)
  }
  // Each field read once: a getter or Proxy cannot answer one check and then another value.
  const o = validate.snapshot("options", options, connectOptionNames)
  if (validate.isInvalid(o)) return o
  let pool: string | undefined
  if (o.pool !== undefined && o.pool !== null) {
    if (typeof o.pool === "string") pool = o.pool
    else if (typeof o.pool === "number") pool = String(o.pool)
    else return validate.invalid("pool", `bad "pool" option type: ${validate.typeName(o.pool)}`)
  }
  let size: number | undefined
  if (o.poolSize !== undefined && o.poolSize !== null) {
    const r = validate.positiveInteger("poolSize", o.poolSize)
    if (validate.isInvalid(r)) return r
    size = r
  }
  let backlog: number | undefined
  if (o.backlog !== undefined && o.backlog !== null) {
    const r = validate.nonNegativeInteger("backlog", o.backlog)
    if (validate.isInvalid(r)) return r
    backlog = r
  }
  return { pool, limits: { size, backlog }, tls: o.tls }
}

const untilOptionNames = ["inclusive"] as const
const keepaliveOptionNames = ["force"] as const

const optionNames: ReadonlySet<string> = new Set([
  "keepalive",
  "tcp-nodelay",
  "reuseaddr",
  "sndbuf",
  "rcvbuf",
  "keepintvl",
  "keepcnt",
  "ip-transparent"
])

/** `connect`'s arguments, validated (pure: no socket needed). `key` is the key before the bind
 * address and the TLS identity are appended. */
export class ConnectRequest {
  constructor(
    readonly target: StreamTarget,
    readonly key: string,
    readonly limits: Pool.PoolLimits,
    readonly tls: tls.ParsedTls | undefined
  ) {}
}

/** Parses `connect`'s arguments (`host, port, options` or `"unix:path", options`). */
export const parseConnect = (
  host: unknown,
  portOrOptions?: unknown,
  maybeOptions?: unknown
): ConnectRequest | InvalidArgument | TlsError =>
  validate.guard("options", () => parseConnectUnguarded(host, portOrOptions, maybeOptions))

const parseConnectUnguarded = (
  host: unknown,
  portOrOptions: unknown,
  maybeOptions: unknown
): ConnectRequest | InvalidArgument | TlsError => {
  const isUnix = typeof host === "string" && host.slice(0, 5).toLowerCase() === "unix:"
  const port = isUnix && typeof portOrOptions === "object" ? undefined : portOrOptions
  const rawOptions = isUnix && typeof portOrOptions === "object" ? portOrOptions : maybeOptions
  const parsed = parseTarget(host, port)
  if (validate.isInvalid(parsed)) return parsed
  const options = parseConnectOptions(rawOptions)
  if (validate.isInvalid(options)) return options
  // TLS (issue 4): validated with the other arguments; the identity joins the pool key.
  const option = options.tls
  let parsedTls: tls.ParsedTls | undefined
  if (option !== undefined && option !== null && option !== false) {
    const t = tls.parse(option, parsed.target._tag === "Inet" ? parsed.target.host : undefined)
    if (t instanceof TlsError || validate.isInvalid(t)) return t
    parsedTls = t
  }
  return new ConnectRequest(parsed.target, options.pool ?? parsed.key, options.limits, parsedTls)
}

/** A validated `connect` on a socket: where to, the pool key and limits, the bind address and TLS. */
export class ConnectPlan {
  constructor(
    readonly target: StreamTarget,
    readonly key: string,
    readonly limits: Pool.PoolLimits,
    readonly localAddress: string | undefined,
    readonly upgrade: TlsUpgradeOptions | undefined
  ) {}
}

/** The socket object (`ngx.socket.tcp()`): settings, busy flags and the current connection. */
export class TcpSocketImpl implements Api.TcpSocket {
  private conn: Connection | undefined = undefined
  private connecting = false
  private reading = false
  private writing = false
  /** The owning scope ended: the object is finished. */
  private finished = false
  private localAddress: string | undefined = undefined
  private readonly timeouts: Timeouts = { connect: undefined, send: undefined, read: undefined }
  private options = { "tcp-nodelay": 1, keepalive: 0 }

  constructor(
    readonly connector: StreamConnector,
    readonly pool: Pool.ConnectionPool,
    readonly config: CosocketConfig.Settings,
    /** Timers on the Clock of the fiber that made the socket (TestClock in tests). */
    readonly schedule: timer.Schedule,
    /** What to trace; `undefined`: nothing (no tracer installed), the engine makes no span. */
    readonly tracing: tracing.Tracing | undefined = undefined
  ) {
    this.traceIo = tracing !== undefined && tracing.io
  }

  /** A span per read and send. */
  private readonly traceIo: boolean

  /** End of the socket's lifetime: close what is still open and wake blocked fibers. */
  release(): void {
    this.finished = true
    const conn = this.conn
    this.conn = undefined
    if (conn !== undefined) conn.destroy()
  }

  /** The scope finalizer. */
  get finish(): Effect.Effect<void> {
    return Effect.sync(() => this.release())
  }

  /** A fiber is connecting, reading or writing. */
  get isBusy(): boolean {
    return this.connecting || this.reading || this.writing
  }

  // ---------------------------------------------------------------------------------------------
  // state checks (spec A.17): each returns the error to fail with, or undefined

  private busy(operation: Operation): SocketBusyConnecting | SocketBusyReading | SocketBusyWriting | undefined {
    if (this.connecting) return new SocketBusyConnecting({ operation })
    if (this.reading) return new SocketBusyReading({ operation })
    if (this.writing) return new SocketBusyWriting({ operation })
    return undefined
  }

  get readTimeout(): Duration.Duration {
    return this.timeouts.read ?? this.config.readTimeout
  }

  get sendTimeout(): Duration.Duration {
    return this.timeouts.send ?? this.config.sendTimeout
  }

  private get connectTimeout(): Duration.Duration {
    return this.timeouts.connect ?? this.config.connectTimeout
  }

  // ---------------------------------------------------------------------------------------------
  // connect

  connect(
    host: string,
    portOrOptions?: number | Api.ConnectOptions,
    maybeOptions?: Api.ConnectOptions
  ): Effect.Effect<void, Api.ConnectFailure> {
    return Effect.suspend((): Effect.Effect<void, Api.ConnectFailure> => {
      const request = parseConnect(host, portOrOptions, maybeOptions)
      const plan = request instanceof ConnectRequest ? this.plan(request) : request
      if (!(plan instanceof ConnectPlan)) return Effect.fail(plan)
      // Uninterruptible between the pool's grant and the lease's cleanup: only the pool wait (the
      // pool makes it interruptible) and the connect itself (restore) can be interrupted.
      // (uninterruptibleMask calls its function when the effect runs.)
      return Effect.uninterruptibleMask((restore) =>
        this.tracing === undefined ? this.openPlanned(restore, plan) ?? Effect.void : this.openTraced(restore, plan)
      )
    })
  }

  /** `openPlanned` in a `cosocket.connect` span (only when a tracer is installed). */
  openTraced(
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    plan: ConnectPlan
  ): Effect.Effect<void, Api.ConnectFailure> {
    return tracing.span(
      "cosocket.connect",
      "client",
      tracing.targetAttributes(plan.target, plan.key),
      Effect.suspend(() => this.openPlanned(restore, plan) ?? Effect.void),
      (span) => {
        const conn = this.conn
        if (conn === undefined) return
        span.attribute("cosocket.reused_times", conn.reusedTimes)
        const peer = plan.target._tag === "Inet" ? conn.transport.remoteAddress() : undefined
        if (peer !== undefined) {
          span.attribute("network.peer.address", peer.address)
          span.attribute("network.peer.port", peer.port)
        }
      }
    )
  }

  /** A parsed `connect` on this socket: busy checks, the previous connection, the full pool key. */
  plan(request: ConnectRequest): ConnectPlan | Api.ConnectFailure {
    const upgrade = request.tls?.upgrade
    if (upgrade !== undefined && this.connector.upgradeTls === undefined) return noTlsSupport()
    if (this.connecting) return new SocketBusyConnecting({ operation: "connect" })
    if (this.reading) return new SocketBusyReading({ operation: "connect" })
    if (this.writing) return new SocketBusyWriting({ operation: "connect" })
    if (this.finished) return new SocketClosed({ operation: "connect" })
    // Connecting again closes the previous connection (not pooled).
    const previous = this.conn
    this.conn = undefined
    if (previous !== undefined) previous.destroy()
    const local = this.localAddress
    this.tlsHost = request.target._tag === "Inet" ? request.target.host : undefined
    const key = request.key + (local !== undefined ? ` bind=${local}` : "") +
      (upgrade !== undefined ? ` tls=${upgrade.identity}` : "")
    return new ConnectPlan(request.target, key, request.limits, local, upgrade)
  }

  /**
   * Runs a planned connect; call it uninterruptibly (`restore` makes the waits interruptible).
   * Returns `undefined` when an idle pooled connection was attached at once (no Effect needed).
   */
  openPlanned(
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    plan: ConnectPlan
  ): Effect.Effect<void, Api.ConnectFailure> | undefined {
    const { key, limits, localAddress, target, upgrade } = plan
    const now = this.pool.acquireNow(key, limits)
    if (now !== undefined && "_tag" in now) return Effect.fail(now)
    if (now !== undefined && now.reused !== undefined) {
      this.attach(new Connection(now.reused.transport, now, now.reused.reusedTimes))
      return undefined
    }
    this.connecting = true
    const timeout = this.connectTimeout
    const lease = now !== undefined
      ? Effect.succeed(now)
      : this.tracing === undefined
      ? this.pool.acquire(key, limits, timeout)
      : tracing.span(
        "cosocket.pool.wait",
        "internal",
        { "cosocket.pool.key": key },
        this.pool.acquire(key, limits, timeout)
      )
    return (
      lease.pipe(
        Effect.flatMap((lease) => {
          if (lease.reused !== undefined) {
            return Effect.sync(() =>
              this.attach(new Connection(lease.reused!.transport, lease, lease.reused!.reusedTimes))
            )
          }
          const noDelay = this.config.noDelay
          const open = this.tracing !== undefined && target._tag === "Inet" && !validate.isIpAddress(target.host)
            ? tracing.resolving(
              target.host,
              (onLookup) => this.connector.connect(target, { localAddress, noDelay, onLookup })
            )
            : this.connector.connect(target, { localAddress, noDelay })
          // A fresh TLS connection is upgraded within the same connect timeout (a pooled one already is).
          const connect = upgrade === undefined ? open : this.openTls(open, upgrade)
          return restore(timer.withTimeout(connect, timeout, () => new SocketTimeout({ operation: "connect" }))).pipe(
            Effect.onExit((exit) =>
              Effect.sync(() => {
                if (exit._tag === "Success") {
                  lease.connected?.()
                  this.attach(new Connection(exit.value, lease, 0))
                } else {
                  lease.release()
                }
              })
            ),
            Effect.asVoid
          )
        })
      )
    ).pipe(
      Effect.ensuring(Effect.sync(() => {
        this.connecting = false
      }))
    )
  }

  private attach(conn: Connection): void {
    if (this.finished) {
      // The scope ended while we were connecting: do not leak the connection.
      conn.destroy()
      return
    }
    this.conn = conn
  }

  bind(address: string): Effect.Effect<void, InvalidArgument> {
    return Effect.suspend((): Effect.Effect<void, InvalidArgument> => {
      if (typeof address !== "string" || !(validate.isIpAddress(address))) {
        return Effect.fail(validate.invalid("address", "bad address"))
      }
      this.localAddress = address
      return Effect.void
    })
  }

  // ---------------------------------------------------------------------------------------------
  // reads

  /** `receive()` / `receive("*l")`, built on first use: line protocols call it for every line. */
  private lineNeed: needs.LineNeed | undefined = undefined
  private lineRead: Effect.Effect<Uint8Array, Api.ReceiveError> | undefined = undefined
  private get receiveLine(): Effect.Effect<Uint8Array, Api.ReceiveError> {
    return this.lineRead ??= Effect.suspend(() => {
      const need = this.lineNeed ??= new needs.LineNeed(this.config.maxLineLength)
      need.reset()
      return this.read("receive", need)
    })
  }

  receive(pattern?: "*l" | "*a" | number): Effect.Effect<Uint8Array, Api.ReceiveError | InvalidArgument> {
    if (pattern === undefined || pattern === "*l") return this.receiveLine
    // Parsed once, when the effect is made: a read effect reused in a loop parses nothing again.
    const p = parsePattern(pattern)
    if (validate.isInvalid(p)) return Effect.fail(p)
    if (p === "*l") return Effect.suspend(() => this.read("receive", new needs.LineNeed(this.config.maxLineLength)))
    if (p === 0) return Effect.suspend(() => this.readCheck("receive") ?? Effect.succeed(EMPTY))
    // Stateless needs: one serves every run of the effect.
    const need: needs.Need<Uint8Array> = p === "*a"
      ? new needs.AllNeed(this.config.maxReceiveSize)
      : new needs.ExactNeed(p)
    return Effect.suspend(() => this.read("receive", need))
  }

  receiveAny(max: number): Effect.Effect<Uint8Array, Api.ReceiveError | InvalidArgument> {
    if (typeof max !== "number" || !Number.isFinite(max) || Math.trunc(max) <= 0) {
      return Effect.fail(validate.invalid("max", "bad max argument"))
    }
    const need = new needs.AnyNeed(Math.trunc(max))
    return Effect.suspend(() => this.read("receiveAny", need))
  }

  receiveUntil(
    pattern: string | Uint8Array,
    options?: { readonly inclusive?: boolean | undefined }
  ): Effect.Effect<Api.UntilReader, InvalidArgument> {
    return Effect.suspend((): Effect.Effect<Api.UntilReader, InvalidArgument> => {
      const bytes = typeof pattern === "string"
        ? encoder.encode(pattern)
        : validate.isBytes(pattern)
        ? pattern
        : undefined
      if (bytes === undefined) {
        return Effect.fail(validate.invalid("pattern", `string expected, got ${validate.typeName(pattern)}`))
      }
      if (bytes.length === 0) return Effect.fail(validate.invalid("pattern", "pattern is empty"))
      const o = validate.snapshot("options", options, untilOptionNames)
      if (validate.isInvalid(o)) return Effect.fail(o)
      const inclusive = o.inclusive
      if (inclusive !== undefined && typeof inclusive !== "boolean") {
        return Effect.fail(
          validate.invalid("inclusive", `bad "inclusive" option value type: ${validate.typeName(inclusive)}`)
        )
      }
      return Effect.succeed(this.untilReader(new needs.UntilState(bytes.slice(), inclusive === true)))
    })
  }

  private untilReader(state: needs.UntilState): Api.UntilReader {
    // The need holds no state of its own (the reader's state does): one serves every read.
    const need = new needs.UntilNeed(state, this.config.maxReceiveSize)
    const read = Effect.suspend(() => this.read("receiveUntil", need))
    type Chunk = Effect.Effect<Option.Option<Uint8Array>, Api.ReceiveError | InvalidArgument>
    const readChunk = (size: number): Chunk =>
      Effect.suspend((): Chunk => {
        if (typeof size !== "number" || !Number.isFinite(size) || Math.trunc(size) <= 0) {
          return Effect.fail(validate.invalid("size", "bad size argument"))
        }
        return Effect.map(
          this.read("receiveUntil", new needs.UntilChunkNeed(state, Math.trunc(size))),
          Option.fromNullishOr
        )
      })
    return {
      read,
      readChunk,
      // The end marker ends the stream (a `Cause.Done` failure is the end of a pull).
      stream: (size) =>
        Stream.fromEffectRepeat(
          Effect.flatMap(readChunk(size), (chunk) => chunk._tag === "Some" ? Effect.succeed(chunk.value) : Cause.done())
        )
    }
  }

  /** The up-front state check of every read; returns the failure, if any. */
  private readCheck(operation: ReadOperation): Effect.Effect<never, Api.ReceiveError> | undefined {
    if (this.connecting) return Effect.fail(new SocketBusyConnecting({ operation }))
    const conn = this.conn
    if (conn === undefined || !conn.readOpen) return Effect.fail(new SocketClosed({ operation }))
    if (this.reading) return Effect.fail(new SocketBusyReading({ operation }))
    return undefined
  }

  /** Runs a need: synchronously when the buffer suffices, else waiting on the transport. */
  private read<A>(operation: ReadOperation, need: needs.Need<A>): Effect.Effect<A, Api.ReceiveError> {
    const failed = this.readCheck(operation)
    if (failed !== undefined) return failed
    return this.traceIo ? this.traceRead(operation, need) : this.readNow(operation, need)
  }

  /** A read that passed its checks, in a `cosocket.receive` span (only with `CosocketConfig.traceIo` and a tracer). */
  private traceRead<A>(operation: ReadOperation, need: needs.Need<A>): Effect.Effect<A, Api.ReceiveError> {
    return tracing.span(
      "cosocket.receive",
      "client",
      { ...this.ioAttributes(), "cosocket.operation": operation },
      Effect.suspend(() => this.readNow(operation, need)),
      (span, value) => {
        if (value instanceof Uint8Array) span.attribute("cosocket.bytes", value.length)
      }
    )
  }

  private ioAttributes(): Record<string, unknown> {
    const key = this.conn?.lease.key
    return key === undefined || key === "" ?
      { "network.transport": "tcp" } :
      { "network.transport": "tcp", "cosocket.pool.key": key }
  }

  private readNow<A>(operation: ReadOperation, need: needs.Need<A>): Effect.Effect<A, Api.ReceiveError> {
    const conn = this.conn!
    const first = attempt(conn, need)
    if (first !== needs.NEED_MORE) return outcome(conn, operation, first as Settled<A>)
    this.reading = true
    return new ReadWait(this, conn, operation, need).run()
  }

  /** @internal the read wait settled or was interrupted. */
  readStopped(): void {
    this.reading = false
  }

  // ---------------------------------------------------------------------------------------------
  // writes

  send(data: Api.Sendable): Effect.Effect<number, Api.SendError> {
    return Effect.suspend((): Effect.Effect<number, Api.SendError> => {
      const bytes = encode(data)
      if (validate.isInvalid(bytes)) return Effect.fail(bytes)
      if (this.connecting) return Effect.fail(new SocketBusyConnecting({ operation: "send" }))
      const conn = this.conn
      if (conn === undefined || !conn.writeOpen) return Effect.fail(new SocketClosed({ operation: "send" }))
      if (this.writing) return Effect.fail(new SocketBusyWriting({ operation: "send" }))
      const length = bytes.length
      if (length === 0) return Effect.succeed(0)
      return this.traceIo ? this.traceWrite(conn, bytes) : this.write(conn, bytes)
    })
  }

  /** A send that passed its checks, in a `cosocket.send` span (only with `CosocketConfig.traceIo` and a tracer). */
  private traceWrite(conn: Connection, bytes: Uint8Array): Effect.Effect<number, Api.SendError> {
    return tracing.span(
      "cosocket.send",
      "client",
      this.ioAttributes(),
      Effect.suspend(() => this.write(conn, bytes)),
      (span, sent) => span.attribute("cosocket.bytes", sent)
    )
  }

  private write(conn: Connection, bytes: Uint8Array): Effect.Effect<number, Api.SendError> {
    const completion = new WriteCompletion(conn)
    if (conn.transport.write(bytes, completion)) return Effect.succeed(bytes.length)
    this.writing = true
    return new SendWait(this, conn, completion, bytes.length).run()
  }

  /** @internal the send wait settled or was interrupted. */
  sendStopped(): void {
    this.writing = false
  }

  // ---------------------------------------------------------------------------------------------
  // close, keepalive, misc

  get close(): Effect.Effect<void, Api.CloseError> {
    return Effect.suspend((): Effect.Effect<void, Api.CloseError> => {
      const busy = this.busy("close")
      if (busy !== undefined) return Effect.fail(busy)
      const conn = this.conn
      if (conn === undefined || conn.closed) return Effect.fail(new SocketClosed({ operation: "close" }))
      this.conn = undefined
      conn.destroy()
      return Effect.void
    })
  }

  shutdown(
    direction: "send"
  ): Effect.Effect<void, SocketClosed | SocketBusyWriting | SocketBusyConnecting | InvalidArgument> {
    return Effect.suspend(
      (): Effect.Effect<void, SocketClosed | SocketBusyWriting | SocketBusyConnecting | InvalidArgument> => {
        if (direction !== "send") {
          return Effect.fail(validate.invalid("direction", `bad direction: ${validate.describe(direction)}`))
        }
        if (this.connecting) return Effect.fail(new SocketBusyConnecting({ operation: "close" }))
        if (this.writing) return Effect.fail(new SocketBusyWriting({ operation: "close" }))
        const conn = this.conn
        if (conn === undefined || !conn.writeOpen) return Effect.fail(new SocketClosed({ operation: "close" }))
        // FIN after everything already handed over; reads go on. Never pooled afterwards.
        conn.transport.shutdown()
        conn.closeHalf("write")
        return Effect.void
      }
    )
  }

  /** @internal adopts an already connected transport (an accepted server-side socket). */
  adopt(transport: StreamTransport, lease: Pool.Lease): void {
    const previous = this.conn
    if (previous !== undefined) previous.destroy()
    this.attach(new Connection(transport, lease, 0))
  }

  setKeepalive(
    idle?: Duration.Input,
    options?: { readonly force?: boolean | undefined }
  ): Effect.Effect<void, Api.KeepaliveError> {
    return Effect.suspend((): Effect.Effect<void, Api.KeepaliveError> => {
      let idleTimeout = this.config.keepaliveTimeout
      if (idle !== undefined) {
        const r = validate.idleTimeout("idle", idle)
        if (validate.isInvalid(r)) return Effect.fail(r)
        idleTimeout = r
      }
      const o = validate.snapshot("options", options, keepaliveOptionNames)
      if (validate.isInvalid(o)) return Effect.fail(o)
      const force = o.force
      if (force !== undefined && typeof force !== "boolean") {
        return Effect.fail(validate.invalid("force", `bad "force" option type: ${validate.typeName(force)}`))
      }
      const busy = this.busy("setKeepalive")
      if (busy !== undefined) return Effect.fail(busy)
      const refused = this.checkin(idleTimeout, force === true)
      return refused === undefined ? Effect.void : Effect.fail(refused)
    })
  }

  /**
   * The synchronous part of `setKeepalive` (arguments valid, not busy): pools the connection, or
   * closes it and returns why it was refused.
   */
  checkin(idleTimeout: Duration.Duration, force: boolean): Api.KeepaliveError | undefined {
    const conn = this.conn
    if (conn === undefined || conn.closed) return new SocketClosed({ operation: "setKeepalive" })
    // From here on every failure comes from the connection's state: it is closed (pitfall 2).
    const refuse = (error: Api.KeepaliveError) => {
      this.conn = undefined
      conn.destroy()
      return error
    }
    if (!conn.readOpen || !conn.writeOpen || conn.end !== "open") {
      return refuse(new SocketClosed({ operation: "setKeepalive" }))
    }
    if (conn.buffer.length > 0) return refuse(new UnreadDataInBuffer({ bytes: conn.buffer.length }))
    const t = conn.transport
    const pending = t.pendingBytes()
    if (pending > 0) return refuse(new DubiousConnection({ pendingBytes: pending, eof: t.isEnded() }))
    // The peer already closed (FIN or error), even if no read has seen it yet (spec A.11).
    if (t.isEnded() || t.failure() !== undefined || t.isDestroyed()) {
      return refuse(new SocketClosed({ operation: "setKeepalive" }))
    }
    if (conn.dirty !== undefined && !force) return refuse(new DirtyConnection({ reason: conn.dirty }))
    this.conn = undefined
    conn.closed = true
    conn.readOpen = false
    conn.writeOpen = false
    if (!conn.lease.checkin({ transport: t, reusedTimes: conn.reusedTimes }, idleTimeout)) t.destroy()
    return undefined
  }

  get getReusedTimes(): Effect.Effect<number, SocketClosed> {
    return Effect.suspend((): Effect.Effect<number, SocketClosed> => {
      if (this.connecting) return Effect.succeed(0)
      const conn = this.conn
      if (conn === undefined || conn.closed) return Effect.fail(new SocketClosed({ operation: "getReusedTimes" }))
      return Effect.succeed(conn.reusedTimes)
    })
  }

  setTimeout(timeout: Duration.Input): Effect.Effect<void, InvalidArgument> {
    return Effect.suspend((): Effect.Effect<void, InvalidArgument> => {
      const t = validate.timeout("timeout", timeout)
      if (validate.isInvalid(t)) return Effect.fail(t)
      this.setAllTimeouts(t)
      return Effect.void
    })
  }

  /** Connect, send and read timeouts at once (`undefined`: the configured defaults). */
  setAllTimeouts(timeout: Duration.Duration | undefined): void {
    this.timeouts.connect = timeout
    this.timeouts.send = timeout
    this.timeouts.read = timeout
  }

  setTimeouts(
    connect: Duration.Input,
    send: Duration.Input,
    read: Duration.Input
  ): Effect.Effect<void, InvalidArgument> {
    return Effect.suspend((): Effect.Effect<void, InvalidArgument> => {
      const c = validate.timeout("connect", connect)
      if (validate.isInvalid(c)) return Effect.fail(c)
      const s = validate.timeout("send", send)
      if (validate.isInvalid(s)) return Effect.fail(s)
      const r = validate.timeout("read", read)
      if (validate.isInvalid(r)) return Effect.fail(r)
      this.timeouts.connect = c
      this.timeouts.send = s
      this.timeouts.read = r
      return Effect.void
    })
  }

  setOption(
    option: Api.SocketOption,
    value: boolean | number
  ): Effect.Effect<void, SocketClosed | InvalidArgument | UnsupportedOption> {
    return Effect.suspend((): Effect.Effect<void, SocketClosed | InvalidArgument | UnsupportedOption> => {
      if (typeof option !== "string" || option.length === 0) {
        return Effect.fail(validate.invalid("option", `missing the "option" argument`))
      }
      if (!optionNames.has(option)) {
        return Effect.fail(validate.invalid("option", `unsupported option ${validate.quote(option)}`))
      }
      if (typeof value !== "boolean" && (typeof value !== "number" || Number.isNaN(value))) {
        return Effect.fail(validate.invalid("value", `missing the "value" argument`))
      }
      if (option !== "tcp-nodelay" && option !== "keepalive") {
        return Effect.fail(new UnsupportedOption({ option, platform: "node" }))
      }
      const conn = this.conn
      if (conn === undefined || conn.closed) return Effect.fail(new SocketClosed({ operation: "setOption" }))
      const enabled = value === true || (typeof value === "number" && value !== 0)
      if (option === "tcp-nodelay") conn.transport.setNoDelay(enabled)
      else conn.transport.setKeepAlive(enabled, 0)
      this.options[option] = enabled ? 1 : 0
      return Effect.void
    })
  }

  getOption(option: Api.SocketOption): Effect.Effect<number, SocketClosed | InvalidArgument | UnsupportedOption> {
    return Effect.suspend((): Effect.Effect<number, SocketClosed | InvalidArgument | UnsupportedOption> => {
      if (typeof option !== "string" || !optionNames.has(option)) {
        return Effect.fail(validate.invalid("option", `unsupported option ${validate.describe(option)}`))
      }
      if (option !== "tcp-nodelay" && option !== "keepalive") {
        return Effect.fail(new UnsupportedOption({ option, platform: "node" }))
      }
      const conn = this.conn
      if (conn === undefined || conn.closed) return Effect.fail(new SocketClosed({ operation: "setOption" }))
      return Effect.succeed(this.options[option])
    })
  }

  get localAddressInfo(): Effect.Effect<{ readonly address: string; readonly port: number }, SocketClosed> {
    return Effect.suspend((): Effect.Effect<{ readonly address: string; readonly port: number }, SocketClosed> => {
      const info = this.conn?.closed === false ? this.conn.transport.localAddress() : undefined
      return info === undefined ? Effect.fail(new SocketClosed({ operation: "connect" })) : Effect.succeed(info)
    })
  }

  get remoteAddressInfo(): Effect.Effect<{ readonly address: string; readonly port: number }, SocketClosed> {
    return Effect.suspend((): Effect.Effect<{ readonly address: string; readonly port: number }, SocketClosed> => {
      const info = this.conn?.closed === false ? this.conn.transport.remoteAddress() : undefined
      return info === undefined ? Effect.fail(new SocketClosed({ operation: "connect" })) : Effect.succeed(info)
    })
  }

  /** @internal for TLS and tests: the current connection. */
  get connection(): Connection | undefined {
    return this.conn
  }

  /** @internal for TLS: run `f` holding the connect flag, with the busy checks of spec A.17. */
  withConnecting<A, E>(
    operation: Operation,
    f: (conn: Connection) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | SocketClosed | SocketBusyConnecting | SocketBusyReading | SocketBusyWriting> {
    return Effect.suspend(
      (): Effect.Effect<A, E | SocketClosed | SocketBusyConnecting | SocketBusyReading | SocketBusyWriting> => {
        const busy = this.busy(operation)
        if (busy !== undefined) return Effect.fail(busy)
        const conn = this.conn
        if (conn === undefined || conn.closed || !conn.readOpen || !conn.writeOpen) {
          return Effect.fail(new SocketClosed({ operation }))
        }
        this.connecting = true
        return f(conn).pipe(Effect.ensuring(Effect.sync(() => {
          this.connecting = false
        })))
      }
    )
  }

  /** @internal for TLS: swap the connection's transport (after an upgrade). */
  replaceTransport(conn: Connection, transport: StreamTransport): void {
    if (this.conn !== conn) {
      transport.destroy()
      return
    }
    const next = new Connection(transport, conn.lease, conn.reusedTimes)
    next.dirty = conn.dirty
    this.conn = next
  }

  // ---------------------------------------------------------------------------------------------
  // TLS (issue 4; see ./tls.ts and the connector's upgradeTls)

  /** The host of the last `connect` (inet targets): the default TLS server name. */
  private tlsHost: string | undefined = undefined

  /** Connect, then upgrade, as one effect; the fresh transport is destroyed if the upgrade fails. */
  private openTls<E>(
    open: Effect.Effect<StreamTransport, E>,
    options: TlsUpgradeOptions
  ): Effect.Effect<StreamTransport, E | TlsError> {
    const upgrade = this.connector.upgradeTls
    if (upgrade === undefined) return Effect.fail(noTlsSupport())
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        restore(open),
        (transport) =>
          restore(this.traceHandshake(upgrade(transport, options), options)).pipe(
            Effect.onError(() => Effect.sync(() => transport.destroy()))
          )
      )
    )
  }

  /** A TLS upgrade in a `cosocket.tls.handshake` span (only when a tracer is installed). */
  private traceHandshake<E>(
    upgrade: Effect.Effect<StreamTransport, E>,
    options: TlsUpgradeOptions
  ): Effect.Effect<StreamTransport, E> {
    if (this.tracing === undefined) return upgrade
    const attributes: Record<string, unknown> = { "network.transport": "tcp" }
    if (this.tlsHost !== undefined) attributes["server.address"] = this.tlsHost
    if (options.serverName !== undefined) attributes["tls.client.server_name"] = options.serverName
    return tracing.span("cosocket.tls.handshake", "client", attributes, upgrade, (span, transport) => {
      if (transport.tls !== undefined) tracing.annotateTls(span, transport.tls)
    })
  }

  sslHandshake(options?: TlsApi.TlsOptions): Effect.Effect<Option.Option<TlsApi.TlsSession>, Api.HandshakeFailure> {
    return Effect.suspend((): Effect.Effect<Option.Option<TlsApi.TlsSession>, Api.HandshakeFailure> => {
      const parsed = validate.guard("options", () => tls.parse(options, this.tlsHost))
      if (parsed instanceof TlsError || validate.isInvalid(parsed)) return Effect.fail(parsed)
      const result = (state: TlsState): Option.Option<TlsApi.TlsSession> =>
        parsed.keepSession ? Option.some(tls.sessionOf(state)) : Option.none()
      return this.withConnecting(
        "handshake",
        (conn): Effect.Effect<Option.Option<TlsApi.TlsSession>, Api.HandshakeFailure> => {
          const current = conn.transport.tls
          if (current !== undefined) {
            // Already TLS (a second call, or a pooled TLS connection): no new handshake. A different
            // identity is refused instead of silently reusing the connection (TCP-SSL-019, ours).
            return current.identity === parsed.upgrade.identity
              ? Effect.succeed(result(current))
              : Effect.fail(new TlsError({ reason: "mismatch", detail: "tls identity mismatch" }))
          }
          const upgrade = this.connector.upgradeTls
          if (upgrade === undefined) return Effect.fail(noTlsSupport())
          return timer.withTimeout(
            this.traceHandshake(upgrade(conn.transport, parsed.upgrade), parsed.upgrade),
            this.connectTimeout,
            () => new SocketTimeout({ operation: "handshake" })
          ).pipe(
            // A failed, timed-out or interrupted handshake closes the connection; set-up errors
            // (nothing was sent) leave it as it was.
            Effect.onExit((exit) =>
              Effect.sync(() => {
                if (exit._tag === "Success") {
                  this.replaceTransport(conn, exit.value)
                  return
                }
                const failure = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
                if (!(failure instanceof TlsError && failure.reason === "setup")) conn.destroy()
              })
            ),
            Effect.flatMap((transport) =>
              this.conn?.transport === transport && transport.tls !== undefined
                ? Effect.succeed(result(transport.tls))
                : Effect.fail(new SocketClosed({ operation: "handshake" }))
            )
          )
        }
      )
    })
  }
}

// -------------------------------------------------------------------------------------------------
// waits: one object per read or send that cannot complete at once

/**
 * A read waiting for the transport: every wake-up re-runs the need synchronously, and the
 * inactivity timer is re-armed only when bytes arrived.
 */
class ReadWait<A> extends timer.InactivityWait<A, Api.ReceiveError> {
  constructor(
    readonly socket: TcpSocketImpl,
    readonly conn: Connection,
    readonly operation: ReadOperation,
    readonly need: needs.Need<A>
  ) {
    super(socket.schedule, socket.readTimeout)
  }

  /** The transport's waker (a function: the transport keeps it). */
  private readonly wake = (): void => {
    if (this.isSettled) return
    const conn = this.conn
    if (conn.closed || !conn.readOpen) return this.finish(this.closed)
    const received = conn.buffer.consumed + conn.buffer.length
    const result = attempt(conn, this.need)
    if (result !== needs.NEED_MORE) {
      this.result = result as Settled<A>
      return this.finish(this.completed)
    }
    if (conn.buffer.consumed + conn.buffer.length !== received) this.progress()
    this.listen()
  }

  private result: Settled<A> | undefined = undefined

  private completed(): Effect.Effect<A, Api.ReceiveError> {
    return outcome(this.conn, this.operation, this.result!)
  }

  private closed(): Effect.Effect<A, Api.ReceiveError> {
    return Effect.fail(new SocketClosed({ operation: this.operation }))
  }

  private timedOut(): Effect.Effect<A, Api.ReceiveError> {
    this.conn.dirty ??= "readTimeout"
    return Effect.fail(
      new SocketReadTimeout({ operation: this.operation, partial: this.need.partial(this.conn.buffer) })
    )
  }

  private listen(): void {
    const conn = this.conn
    const t = conn.transport
    conn.readWaker = this.wake
    t.setWaker(this.wake)
    // Something may have happened since the last attempt (a close, or bytes a synchronous
    // transport delivered while no waker was set): look again rather than sleep.
    if (conn.closed || t.pendingBytes() > 0 || t.isEnded() || t.failure() !== undefined || t.isDestroyed()) {
      this.wake()
    }
  }

  protected start(): void {
    this.listen()
  }

  protected stop(): void {
    this.socket.readStopped()
    this.conn.readWaker = undefined
    this.conn.transport.setWaker(undefined)
  }

  protected onTimeout(): void {
    const conn = this.conn
    this.finish(conn.closed || !conn.readOpen ? this.closed : this.timedOut)
  }

  // Interruption consumes nothing: the bytes stay in the buffer; the protocol state is unknown.
  protected onInterrupt(): void {
    if (!this.conn.closed) this.conn.dirty ??= "interrupted"
  }
}

/** How one transport write ended (the transport reports to it; a send wait reads it). */
class WriteCompletion implements WriteListener {
  settled = false
  failure: TransportFailure | undefined = undefined

  constructor(readonly conn: Connection) {}

  progress(): void {
    this.conn.writeWaker?.()
  }

  done(failure: TransportFailure | undefined): void {
    this.settled = true
    this.failure = failure
    this.conn.writeWaker?.()
  }
}

/** A send waiting for the transport to report completion; reported progress re-arms the timer. */
class SendWait extends timer.InactivityWait<number, Api.SendError> {
  constructor(
    readonly socket: TcpSocketImpl,
    readonly conn: Connection,
    readonly completion: WriteCompletion,
    readonly length: number
  ) {
    super(socket.schedule, socket.sendTimeout)
  }

  private readonly wake = (): void => {
    if (this.isSettled) return
    const { completion, conn } = this
    if (!completion.settled) return conn.closed ? this.finish(this.closed) : this.progress()
    if (completion.failure === undefined) return this.finish(this.sent)
    this.finish(conn.closed ? this.closed : this.failed)
  }

  private sent(): Effect.Effect<number, Api.SendError> {
    return Effect.succeed(this.length)
  }

  private closed(): Effect.Effect<number, Api.SendError> {
    return Effect.fail(new SocketClosed({ operation: "send" }))
  }

  private failed(): Effect.Effect<number, Api.SendError> {
    const f = this.completion.failure!
    this.conn.dirty ??= "send"
    this.conn.closeHalf("write")
    return Effect.fail(
      new SocketIoError({ operation: "send", code: f.code, reason: f.reason, delivery: "partial", cause: f.cause })
    )
  }

  private timedOut(): Effect.Effect<number, Api.SendError> {
    this.conn.dirty ??= "send"
    this.conn.closeHalf("write")
    return Effect.fail(new SocketTimeout({ operation: "send", delivery: "partial" }))
  }

  protected start(): void {
    this.conn.writeWaker = this.wake
    if (this.completion.settled || this.conn.closed) this.wake()
  }

  protected stop(): void {
    this.socket.sendStopped()
    this.conn.writeWaker = undefined
  }

  protected onTimeout(): void {
    this.finish(this.timedOut)
  }

  // An interrupted send may have handed part of the bytes over: nothing later may follow them on
  // this connection, so it is closed.
  protected onInterrupt(): void {
    if (!this.completion.settled) this.conn.destroy()
  }
}

// -------------------------------------------------------------------------------------------------
// helpers

type Settled<A> = A | needs.EndOfStream | ReceiveLimitExceeded

/** Drains and steps a need; never waits. */
const attempt = <A>(conn: Connection, need: needs.Need<A>): needs.StepResult<A> => {
  const r = need.step(conn.buffer, conn.end)
  if (r !== needs.NEED_MORE || conn.end !== "open") return r
  conn.pull()
  return need.step(conn.buffer, conn.end)
}

/** Turns a completed step into the read's result; end-of-stream closes the read half. */
const outcome = <A>(
  conn: Connection,
  operation: ReadOperation,
  result: Settled<A>
): Effect.Effect<A, Api.ReceiveError> => {
  if (result instanceof needs.EndOfStream) {
    const failure = conn.failure
    conn.closeHalf("read")
    if (failure !== undefined) {
      return Effect.fail(
        new SocketIoError({
          operation,
          code: failure.code,
          reason: failure.reason,
          partial: result.partial,
          cause: failure.cause
        })
      )
    }
    return Effect.fail(new SocketClosed({ operation, partial: result.partial }))
  }
  if (result instanceof ReceiveLimitExceeded) {
    conn.dirty ??= "limit"
    return Effect.fail(result)
  }
  return Effect.succeed(result as A)
}

const noTlsSupport = (): TlsError => new TlsError({ reason: "setup", detail: "tls is not supported by this connector" })

/**
 * A socket object whose lifetime is `use` instead of a `Scope`: when `use` ends, a connection that
 * was neither closed nor pooled is closed. Cheaper than a scope per request (no scope to make,
 * provide and close).
 */
export const withSocket = <A, E, R>(
  connector: StreamConnector,
  pool: Pool.ConnectionPool,
  config: CosocketConfig.Settings,
  clock: Clock.Clock,
  use: (socket: TcpSocketImpl) => Effect.Effect<A, E, R>,
  traced?: tracing.Tracing
): Effect.Effect<A, E | InvalidArgument, R> => {
  if (typeof use !== "function") return Effect.fail(notAFunction(use))
  const socket = new TcpSocketImpl(connector, pool, config, timer.forClock(clock), traced)
  // A socket without a connection owns nothing, so `use` may be interrupted before `onExit` runs.
  return Effect.onExit(Effect.suspend(() => use(socket)), () => socket.finish)
}

const notAFunction = (use: unknown): InvalidArgument =>
  validate.invalid("use", `use must be a function, got ${validate.typeName(use)}`)

/**
 * `withConnection`'s arguments, validated once when the effect is made (a constant exchange run
 * many times parses nothing again). `idleTimeout` undefined: the configured default.
 */
export class PreparedConnection<A, E, R> {
  constructor(
    readonly request: ConnectRequest,
    readonly timeout: Duration.Duration | undefined,
    readonly idleTimeout: Duration.Duration | undefined,
    readonly use: (socket: TcpSocketImpl) => Effect.Effect<A, E, R>
  ) {}
}

const connectionOptionNames = ["timeout", "idleTimeout"] as const

/** Validates `withConnection`'s arguments: the target, `connect`'s options, `timeout`, `idleTimeout`. */
export const prepareConnection = <A, E, R>(
  host: unknown,
  port: unknown,
  options: unknown,
  use: (socket: TcpSocketImpl) => Effect.Effect<A, E, R>
): PreparedConnection<A, E, R> | InvalidArgument | TlsError => {
  if (typeof use !== "function") return notAFunction(use)
  const request = port === undefined ? parseConnect(host, options) : parseConnect(host, port, options)
  if (!(request instanceof ConnectRequest)) return request
  const o = validate.snapshot("options", options, connectionOptionNames)
  if (validate.isInvalid(o)) return o
  let timeout: Duration.Duration | undefined
  if (o.timeout !== undefined) {
    const t = validate.timeout("timeout", o.timeout)
    if (validate.isInvalid(t)) return t
    timeout = t
  }
  let idleTimeout: Duration.Duration | undefined
  if (o.idleTimeout !== undefined) {
    const r = validate.idleTimeout("idleTimeout", o.idleTimeout)
    if (validate.isInvalid(r)) return r
    idleTimeout = r
  }
  return new PreparedConnection(request, timeout, idleTimeout, use)
}

/**
 * One pooled exchange: connect, run `use`, then put the connection into the pool when `use`
 * succeeded (a refusal closes it and is not an error of `use`) or close it when `use` failed or
 * was interrupted.
 */
export const withConnection = <A, E, R>(
  connector: StreamConnector,
  pool: Pool.ConnectionPool,
  config: CosocketConfig.Settings,
  clock: Clock.Clock,
  prepared: PreparedConnection<A, E, R>,
  traced?: tracing.Tracing
): Effect.Effect<A, E | Api.ConnectFailure, R> => {
  const socket = new TcpSocketImpl(connector, pool, config, timer.forClock(clock), traced)
  socket.setAllTimeouts(prepared.timeout)
  const plan = socket.plan(prepared.request)
  if (!(plan instanceof ConnectPlan)) return Effect.fail(plan)
  const idleTimeout = prepared.idleTimeout ?? config.keepaliveTimeout
  const use = prepared.use
  // One uninterruptible region for the whole exchange: the connect's grant and the check-in or
  // close at the end; `use` and the waits inside connect are interruptible.
  // (uninterruptibleMask calls its function when the effect runs, once per run.)
  return Effect.uninterruptibleMask((restore) => {
    const opened = socket.tracing === undefined ? socket.openPlanned(restore, plan) : socket.openTraced(restore, plan)
    const body = opened === undefined
      ? restore(Effect.suspend(() => use(socket)))
      : Effect.flatMap(opened, () => restore(Effect.suspend(() => use(socket))))
    return Effect.matchCauseEffect(body, {
      onFailure: (cause) => {
        socket.release()
        return Effect.failCause(cause)
      },
      onSuccess: (value) => {
        if (!socket.isBusy) socket.checkin(idleTimeout, false)
        socket.release()
        return Effect.succeed(value)
      }
    })
  })
}

/** `ngx.socket.tcp()`: a socket object bound to `scope`. */
export const make = (
  connector: StreamConnector,
  pool: Pool.ConnectionPool,
  config: CosocketConfig.Settings,
  clock: Clock.Clock,
  scope: Scope.Scope,
  traced?: tracing.Tracing
): Effect.Effect<TcpSocketImpl> => {
  const socket = new TcpSocketImpl(connector, pool, config, timer.forClock(clock), traced)
  // Scope.addFinalizer, not Effect.addFinalizer: the latter diffs and patches fiber state.
  return Effect.as(Scope.addFinalizer(scope, socket.finish), socket)
}
