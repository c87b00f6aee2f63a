/**
 * The socket object (`ngx.socket.tcp()`): settings, the busy flags and the current connection.
 * Each operation validates its arguments, asks the busy table whether it may run, and hands the
 * work to the module that does it: ./connect.ts opens connections, ./readPath.ts and
 * ./writePath.ts move bytes, ./handshake.ts upgrades a connection to TLS.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Pool from "../../ConnectionPool.js"
import type * as CosocketConfig from "../../CosocketConfig.js"
import {
  DirtyConnection,
  DubiousConnection,
  type InvalidArgument,
  SocketClosed,
  TlsError,
  UnreadDataInBuffer,
  type UnsupportedOption
} from "../../CosocketError.js"
import type * as Api from "../../TcpSocket.js"
import type * as TlsApi from "../../Tls.js"
import type { AddressInfo, StreamConnector, StreamTransport } from "../../Transport.js"
import { BatchNeed } from "../batchNeed.js"
import * as needs from "../needs.js"
import { giveBack } from "../pool.js"
import { encode } from "../sendable.js"
import type * as timer from "../timer.js"
import * as tlsOptions from "../tlsOptions.js"
import * as tracing from "../tracing.js"
import * as validate from "../validate.js"
import * as args from "./arguments.js"
import { Busy, type BusyErrorOf, type BusyOperation } from "./busy.js"
import * as connect from "./connect.js"
import { Connection } from "./connection.js"
import * as handshake from "./handshake.js"
import * as readPath from "./readPath.js"
import * as socketOptions from "./socketOptions.js"
import { untilReader } from "./untilReader.js"
import * as writePath from "./writePath.js"

const EMPTY = new Uint8Array(0)

/**
 * What the lifetime constructors (./lifetime.ts) and `NodeCosocket.fromSocket` need beyond the
 * public API, in one place.
 */
export interface SocketInternals {
  /** Starts a planned `connect` on this socket: TLS support and busy checks, closing the previous connection. */
  begin(plan: connect.ConnectPlan): Api.ConnectFailure | undefined
  /** Runs a plan (call it uninterruptibly); `undefined`: an idle pooled connection was attached at once. */
  open(restore: connect.Restore, plan: connect.ConnectPlan): Effect.Effect<void, Api.ConnectFailure> | undefined
  /** Takes an already connected transport (an accepted server-side socket) as the connection. */
  adopt(transport: StreamTransport, lease: Pool.Lease): void
  /** `setKeepalive`'s synchronous part (arguments valid, not busy): pools or closes the connection. */
  checkin(idleTimeout: Duration.Duration, force: boolean): Api.KeepaliveError | undefined
  /** Connect, send and read timeouts at once (`undefined`: the configured defaults). */
  setAllTimeouts(timeout: Duration.Duration | undefined): void
  /** A fiber is connecting, reading or writing. */
  readonly isBusy: boolean
  /** Ends the socket's lifetime: closes what is still open and wakes blocked fibers. */
  release(): void
}

export class TcpSocketImpl implements Api.TcpSocket, SocketInternals, connect.Opener {
  conn: Connection | undefined = undefined
  readonly busy = new Busy()
  /** The owning scope ended: the object is finished. */
  private finished = false
  private localAddress: string | undefined = undefined
  private connectTimeoutSet: Duration.Duration | undefined = undefined
  private sendTimeoutSet: Duration.Duration | undefined = undefined
  private readTimeoutSet: Duration.Duration | undefined = undefined
  /** The current connection's options (made by the first `setOption`: until then, the defaults). */
  private options: socketOptions.SocketOptions | undefined = undefined
  /** The host of the last `connect` (inet targets): the default TLS server name. */
  tlsHost: string | undefined = undefined
  /** A span per read and send. */
  private readonly traceIo: boolean

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

  release(): void {
    this.finished = true
    const conn = this.conn
    this.conn = undefined
    if (conn !== undefined) conn.destroy()
    const grant = this.takeGrant()
    if (grant !== undefined) giveBack(grant)
  }

  get isBusy(): boolean {
    return this.busy.any
  }

  get connectTimeout(): Duration.Duration {
    return this.connectTimeoutSet ?? this.config.connectTimeout
  }

  // ---------------------------------------------------------------------------------------------
  // connect

  connect(
    host: string,
    portOrOptions?: number | Api.ConnectOptions,
    maybeOptions?: Api.ConnectOptions
  ): Effect.Effect<void, Api.ConnectFailure> {
    return Effect.suspend((): Effect.Effect<void, Api.ConnectFailure> => {
      const request = args.parseConnect(host, portOrOptions, maybeOptions)
      if (!(request instanceof args.ConnectRequest)) return Effect.fail(request)
      const plan = connect.planOf(request, this.localAddress)
      const refused = this.begin(plan)
      if (refused !== undefined) return Effect.fail(refused)
      // An idle pooled connection is attached synchronously: nothing is left to clean up.
      if (this.tracing === undefined && connect.reuseIdle(this, plan)) return Effect.void
      // Uninterruptible between the pool's grant and the lease's cleanup: only the pool wait and
      // the connect itself (restore) can be interrupted.
      return Effect.uninterruptibleMask((restore) => this.open(restore, plan) ?? Effect.void)
    })
  }

  /**
   * Starts connecting to `plan`, or the failure when it may not: the previous connection, if
   * any, is closed (not pooled).
   */
  begin(plan: connect.ConnectPlan): Api.ConnectFailure | undefined {
    if (plan.upgrade !== undefined && this.connector.upgradeTls === undefined) return connect.noTlsSupport()
    const busy = this.busy.conflict("connect")
    if (busy !== undefined) return busy
    if (this.finished) return new SocketClosed({ operation: "connect" })
    const previous = this.conn
    this.conn = undefined
    if (previous !== undefined) previous.destroy()
    this.tlsHost = plan.host
    return undefined
  }

  open(restore: connect.Restore, plan: connect.ConnectPlan): Effect.Effect<void, Api.ConnectFailure> | undefined {
    return connect.open(this, restore, plan)
  }

  /** What the backlog granted the waiting connect, until the connect takes it (or gives it back). */
  private grant: Pool.Lease | undefined = undefined

  granted(lease: Pool.Lease): void {
    this.grant = lease
  }

  takeGrant(): Pool.Lease | undefined {
    const grant = this.grant
    this.grant = undefined
    return grant
  }

  /** Makes `conn` the current connection, unless the socket's lifetime ended meanwhile. */
  attach(conn: Connection): void {
    if (this.finished) {
      conn.destroy()
      return
    }
    this.conn = conn
    this.options?.reset()
  }

  adopt(transport: StreamTransport, lease: Pool.Lease): void {
    const previous = this.conn
    if (previous !== undefined) previous.destroy()
    this.attach(new Connection(transport, lease, 0))
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
  private lineRead: Effect.Effect<Uint8Array, Api.ReceiveError> | undefined = undefined

  receive(pattern?: "*l" | "*a" | number): Effect.Effect<Uint8Array, Api.ReceiveError | InvalidArgument> {
    if (pattern === undefined || pattern === "*l") {
      return this.lineRead ??= this.read("receive", new needs.LineNeed(this.config.maxLineLength))
    }
    // Parsed once, when the effect is made: a read effect reused in a loop parses nothing again.
    const p = args.parsePattern(pattern)
    if (validate.isInvalid(p)) return Effect.fail(p)
    if (p === "*l") return this.read("receive", new needs.LineNeed(this.config.maxLineLength))
    if (p === 0) {
      return Effect.suspend(() => {
        const refused = this.readRefusal("receive")
        return refused === undefined ? Effect.succeed(EMPTY) : Effect.fail(refused)
      })
    }
    return this.read("receive", p === "*a" ? new needs.AllNeed(this.config.maxReceiveSize) : new needs.ExactNeed(p))
  }

  receiveMany(
    pattern?: "*l" | number,
    max?: number
  ): Effect.Effect<ReadonlyArray<Uint8Array>, Api.ReceiveError | InvalidArgument> {
    const p = args.parsePattern(pattern)
    if (validate.isInvalid(p)) return Effect.fail(p)
    if (p === "*a" || p === 0) return Effect.fail(validate.invalid("pattern", "bad pattern argument for a batch"))
    const n = max === undefined ? Infinity : args.parseCount("max", max)
    if (validate.isInvalid(n)) return Effect.fail(n)
    const unit = p === "*l" ? new needs.LineNeed(this.config.maxLineLength) : new needs.ExactNeed(p)
    return this.read("receive", new BatchNeed<Uint8Array>(unit, n))
  }

  receiveAny(max: number): Effect.Effect<Uint8Array, Api.ReceiveError | InvalidArgument> {
    const n = args.parseCount("max", max)
    if (validate.isInvalid(n)) return Effect.fail(n)
    return this.read("receiveAny", new needs.AnyNeed(n))
  }

  receiveUntil(
    pattern: string | Uint8Array,
    options?: { readonly inclusive?: boolean | undefined }
  ): Effect.Effect<Api.UntilReader, InvalidArgument> {
    return Effect.suspend((): Effect.Effect<Api.UntilReader, InvalidArgument> => {
      const parsed = args.parseUntil(pattern, options)
      if (validate.isInvalid(parsed)) return Effect.fail(parsed)
      const state = new needs.UntilState(parsed.pattern, parsed.inclusive)
      return Effect.succeed(untilReader(state, this.config.maxReceiveSize, (need) => this.read("receiveUntil", need)))
    })
  }

  /** The up-front check of every read: why it may not run, if it may not. */
  private readRefusal(operation: readPath.ReadOperation): Api.ReceiveError | undefined {
    const busy = this.busy.conflict(operation)
    if (busy !== undefined) return busy
    const conn = this.conn
    if (conn === undefined || !conn.canRead) return new SocketClosed({ operation })
    return undefined
  }

  /**
   * A read of `need`, run anew (the need begun again) every time the effect runs. Untraced, it is
   * one step of the run loop: a callback whose registration makes the checks and the read, and
   * resumes at once when the buffer suffices.
   */
  private read<A>(operation: readPath.ReadOperation, need: needs.Need<A>): Effect.Effect<A, Api.ReceiveError> {
    const untraced = Effect.callback<A, Api.ReceiveError>((resume) => {
      const refused = this.readRefusal(operation)
      if (refused !== undefined) return resume(Effect.fail(refused))
      need.begin()
      const timeout = this.readTimeoutSet ?? this.config.readTimeout
      return readPath.start(resume, this.conn!, operation, need, this.busy, this.schedule, timeout)
    })
    if (!this.traceIo) return untraced
    return Effect.suspend(() => {
      const refused = this.readRefusal(operation)
      if (refused !== undefined) return Effect.fail(refused)
      return tracing.span(
        "cosocket.receive",
        "client",
        { ...this.ioAttributes(), "cosocket.operation": operation },
        untraced,
        (span, value) => {
          if (value instanceof Uint8Array) span.attribute("cosocket.bytes", value.length)
        }
      )
    })
  }

  private ioAttributes(): Record<string, unknown> {
    const key = this.conn?.lease.key
    return key === undefined || key === "" ?
      { "network.transport": "tcp" } :
      { "network.transport": "tcp", "cosocket.pool.key": key }
  }

  // ---------------------------------------------------------------------------------------------
  // writes

  send(data: Api.Sendable): Effect.Effect<number, Api.SendError> {
    return Effect.suspend((): Effect.Effect<number, Api.SendError> => {
      const bytes = encode(data)
      if (validate.isInvalid(bytes)) return Effect.fail(bytes)
      const busy = this.busy.conflict("send")
      if (busy !== undefined) return Effect.fail(busy)
      const conn = this.conn
      if (conn === undefined || !conn.canWrite) return Effect.fail(new SocketClosed({ operation: "send" }))
      if (bytes.length === 0) return Effect.succeed(0)
      if (!this.traceIo) return this.writeNow(conn, bytes)
      return tracing.span(
        "cosocket.send",
        "client",
        this.ioAttributes(),
        Effect.suspend(() => this.writeNow(conn, bytes)),
        (span, sent) => span.attribute("cosocket.bytes", sent)
      )
    })
  }

  private writeNow(conn: Connection, bytes: Uint8Array): Effect.Effect<number, Api.SendError> {
    return writePath.write(conn, bytes, this.busy, this.schedule, this.sendTimeoutSet ?? this.config.sendTimeout)
  }

  // ---------------------------------------------------------------------------------------------
  // ending a connection: close, shutdown, keepalive

  /** The current connection when `operation` may run on it (busy checks, not gone). */
  private usable<O extends BusyOperation>(operation: O): Connection | BusyErrorOf<O> | SocketClosed {
    const busy = this.busy.conflict(operation)
    if (busy !== undefined) return busy
    const conn = this.conn
    return conn === undefined || conn.isGone ? new SocketClosed({ operation }) : conn
  }

  get close(): Effect.Effect<void, Api.CloseError> {
    return Effect.suspend((): Effect.Effect<void, Api.CloseError> => {
      const conn = this.usable("close")
      if (!(conn instanceof Connection)) return Effect.fail(conn)
      this.conn = undefined
      conn.destroy()
      return Effect.void
    })
  }

  shutdown(
    direction: "send"
  ): Effect.Effect<void, SocketClosed | BusyErrorOf<"shutdown"> | InvalidArgument> {
    return Effect.suspend((): Effect.Effect<void, SocketClosed | BusyErrorOf<"shutdown"> | InvalidArgument> => {
      if (direction !== "send") {
        return Effect.fail(validate.invalid("direction", `bad direction: ${validate.describe(direction)}`))
      }
      const conn = this.usable("shutdown")
      if (!(conn instanceof Connection)) return Effect.fail(conn)
      if (!conn.canWrite) return Effect.fail(new SocketClosed({ operation: "shutdown" }))
      // FIN after everything already handed over; reads go on. Never pooled afterwards.
      conn.transport.shutdown()
      conn.closeHalf("write")
      return Effect.void
    })
  }

  setKeepalive(
    idle?: Duration.Input,
    options?: { readonly force?: boolean | undefined }
  ): Effect.Effect<void, Api.KeepaliveError> {
    return Effect.suspend((): Effect.Effect<void, Api.KeepaliveError> => {
      const parsed = args.parseKeepalive(idle, options)
      if (validate.isInvalid(parsed)) return Effect.fail(parsed)
      const busy = this.busy.conflict("setKeepalive")
      if (busy !== undefined) return Effect.fail(busy)
      const refused = this.checkin(parsed.idleTimeout ?? this.config.keepaliveTimeout, parsed.force)
      return refused === undefined ? Effect.void : Effect.fail(refused)
    })
  }

  checkin(idleTimeout: Duration.Duration, force: boolean): Api.KeepaliveError | undefined {
    const conn = this.conn
    if (conn === undefined || conn.isGone) return new SocketClosed({ operation: "setKeepalive" })
    // From here on every refusal comes from the connection's state, so the connection is closed:
    // the caller cannot use it for anything sensible any more.
    const refused = this.refusal(conn, force)
    this.conn = undefined
    if (refused !== undefined) {
      conn.destroy()
      return refused
    }
    // A pooled connection goes back with the options every connection starts with.
    this.options?.restoreDefaults(conn.transport)
    const transport = conn.handOver()
    if (!conn.lease.checkin({ transport, reusedTimes: conn.reusedTimes }, idleTimeout)) transport.destroy()
    return undefined
  }

  /** Why the connection may not go back into the pool, if it may not. */
  private refusal(conn: Connection, force: boolean): Api.KeepaliveError | undefined {
    if (conn.state !== "open" || conn.end !== "open") return new SocketClosed({ operation: "setKeepalive" })
    if (conn.buffer.length > 0) return new UnreadDataInBuffer({ bytes: conn.buffer.length })
    const t = conn.transport
    const pending = t.pendingBytes()
    if (pending > 0) return new DubiousConnection({ pendingBytes: pending, eof: t.isEnded() })
    // The peer already closed (FIN or error), even if no read has seen it yet.
    if (t.isEnded() || t.failure() !== undefined || t.isDestroyed()) {
      return new SocketClosed({ operation: "setKeepalive" })
    }
    if (conn.dirty !== undefined && !force) return new DirtyConnection({ reason: conn.dirty })
    return undefined
  }

  get getReusedTimes(): Effect.Effect<number, SocketClosed> {
    return Effect.suspend((): Effect.Effect<number, SocketClosed> => {
      if (this.busy.connecting) return Effect.succeed(0)
      const conn = this.conn
      if (conn === undefined || conn.isGone) return Effect.fail(new SocketClosed({ operation: "getReusedTimes" }))
      return Effect.succeed(conn.reusedTimes)
    })
  }

  // ---------------------------------------------------------------------------------------------
  // timeouts and options

  setTimeout(timeout: Duration.Input): Effect.Effect<void, InvalidArgument> {
    return Effect.suspend((): Effect.Effect<void, InvalidArgument> => {
      const t = validate.timeout("timeout", timeout)
      if (validate.isInvalid(t)) return Effect.fail(t)
      this.setAllTimeouts(t)
      return Effect.void
    })
  }

  setAllTimeouts(timeout: Duration.Duration | undefined): void {
    this.connectTimeoutSet = timeout
    this.sendTimeoutSet = timeout
    this.readTimeoutSet = timeout
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
      this.connectTimeoutSet = c
      this.sendTimeoutSet = s
      this.readTimeoutSet = r
      return Effect.void
    })
  }

  setOption(
    option: Api.SocketOption,
    value: boolean | number
  ): Effect.Effect<void, SocketClosed | InvalidArgument | UnsupportedOption> {
    return Effect.suspend((): Effect.Effect<void, SocketClosed | InvalidArgument | UnsupportedOption> => {
      const parsed = socketOptions.parseSet(option, value)
      if (!("enabled" in parsed)) return Effect.fail(parsed)
      const conn = this.conn
      if (conn === undefined || conn.isGone) return Effect.fail(new SocketClosed({ operation: "setOption" }))
      this.options ??= new socketOptions.SocketOptions(this.config.noDelay)
      this.options.set(conn.transport, parsed.option, parsed.enabled)
      return Effect.void
    })
  }

  getOption(option: Api.SocketOption): Effect.Effect<number, SocketClosed | InvalidArgument | UnsupportedOption> {
    return Effect.suspend((): Effect.Effect<number, SocketClosed | InvalidArgument | UnsupportedOption> => {
      const parsed = socketOptions.parseGet(option)
      if (typeof parsed !== "string") return Effect.fail(parsed)
      const conn = this.conn
      if (conn === undefined || conn.isGone) return Effect.fail(new SocketClosed({ operation: "getOption" }))
      const options = this.options ??= new socketOptions.SocketOptions(this.config.noDelay)
      return Effect.succeed(options.get(parsed))
    })
  }

  get localAddressInfo(): Effect.Effect<AddressInfo, SocketClosed> {
    return this.addressInfo("localAddressInfo")
  }

  get remoteAddressInfo(): Effect.Effect<AddressInfo, SocketClosed> {
    return this.addressInfo("remoteAddressInfo")
  }

  private addressInfo(
    operation: "localAddressInfo" | "remoteAddressInfo"
  ): Effect.Effect<AddressInfo, SocketClosed> {
    return Effect.suspend((): Effect.Effect<AddressInfo, SocketClosed> => {
      const conn = this.conn
      const t = conn !== undefined && !conn.isGone ? conn.transport : undefined
      const info = operation === "localAddressInfo" ? t?.localAddress() : t?.remoteAddress()
      return info === undefined ? Effect.fail(new SocketClosed({ operation })) : Effect.succeed(info)
    })
  }

  // ---------------------------------------------------------------------------------------------
  // TLS on an established connection

  sslHandshake(options?: TlsApi.TlsOptions): Effect.Effect<Option.Option<TlsApi.TlsSession>, Api.HandshakeFailure> {
    return Effect.suspend((): Effect.Effect<Option.Option<TlsApi.TlsSession>, Api.HandshakeFailure> => {
      const parsed = validate.guard("options", () => tlsOptions.parse(options, this.tlsHost))
      if (parsed instanceof TlsError || validate.isInvalid(parsed)) return Effect.fail(parsed)
      const conn = this.usable("handshake")
      if (!(conn instanceof Connection)) return Effect.fail(conn)
      if (conn.state !== "open") return Effect.fail(new SocketClosed({ operation: "handshake" }))
      this.busy.connecting = true
      return handshake.run(this, conn, parsed).pipe(
        Effect.ensuring(Effect.sync(() => {
          this.busy.connecting = false
        }))
      )
    })
  }

  /** After a TLS upgrade: the upgraded transport becomes the connection (false: the socket moved on). */
  replaceConnection(conn: Connection, transport: StreamTransport): boolean {
    if (this.conn !== conn) {
      transport.destroy()
      return false
    }
    conn.handOver()
    const next = new Connection(transport, conn.lease, conn.reusedTimes)
    next.dirty = conn.dirty
    this.conn = next
    return true
  }
}
