/**
 * The three lifetimes of a socket object: `make` (bound to a `Scope`), `withSocket` (while a
 * function runs) and `withConnection` (one pooled exchange: connect, use, check in or close).
 * Whatever the lifetime, when it ends a connection that was neither closed nor pooled is closed.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type * as Pool from "../../ConnectionPool.js"
import type * as CosocketConfig from "../../CosocketConfig.js"
import type { InvalidArgument, TlsError } from "../../CosocketError.js"
import type * as Api from "../../TcpSocket.js"
import type { StreamConnector } from "../../Transport.js"
import * as timer from "../timer.js"
import type * as tracing from "../tracing.js"
import * as validate from "../validate.js"
import * as args from "./arguments.js"
import * as connect from "./connect.js"
import { TcpSocketImpl } from "./socket.js"

/** The services a socket object is made with. */
export interface Services {
  readonly connector: StreamConnector
  readonly pool: Pool.ConnectionPool
  readonly config: CosocketConfig.Settings
  readonly clock: Clock.Clock
  /** Timers on `clock`, chosen once for the services rather than per socket. */
  readonly schedule: timer.Schedule
  /** What sockets made here trace (`undefined`: no tracer installed, nothing). */
  readonly tracing: tracing.Tracing | undefined
}

/** The services of sockets made on `clock` (its timers chosen here, once). */
export const makeServices = (
  connector: StreamConnector,
  pool: Pool.ConnectionPool,
  config: CosocketConfig.Settings,
  clock: Clock.Clock,
  tracing: tracing.Tracing | undefined
): Services => ({ connector, pool, config, clock, schedule: timer.forClock(clock), tracing })

const socketOf = (services: Services): TcpSocketImpl =>
  new TcpSocketImpl(
    services.connector,
    services.pool,
    services.config,
    services.schedule,
    services.tracing
  )

/** `ngx.socket.tcp()`: a socket object bound to `scope`. */
export const make = (services: Services, scope: Scope.Scope): Effect.Effect<TcpSocketImpl> => {
  const socket = socketOf(services)
  // Scope.addFinalizer, not Effect.addFinalizer: the latter diffs and patches fiber state.
  return Effect.as(Scope.addFinalizer(scope, Effect.sync(() => socket.release())), socket)
}

/**
 * A socket object whose lifetime is `use` instead of a `Scope`. Cheaper than a scope per request
 * (no scope to make, provide and close).
 */
export const withSocket = <A, E, R>(
  services: Services,
  use: (socket: TcpSocketImpl) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidArgument, R> => {
  if (typeof use !== "function") return Effect.fail(notAFunction(use))
  const socket = socketOf(services)
  // A socket without a connection owns nothing, so `use` may be interrupted before `onExit` runs.
  return Effect.onExitPrimitive(Effect.suspend(() => use(socket)), () => {
    socket.release()
    return undefined
  })
}

const notAFunction = (use: unknown): InvalidArgument =>
  validate.invalid("use", `use must be a function, got ${validate.typeName(use)}`)

/**
 * `withConnection`'s arguments, validated once when the effect is made (a constant exchange run
 * many times parses nothing again).
 */
export class PreparedConnection<A, E, R> {
  /** The connect, planned for a fresh socket (bound to no local address). */
  readonly plan: connect.ConnectPlan
  constructor(
    request: args.ConnectRequest,
    readonly options: args.ConnectionOptions,
    readonly use: (socket: TcpSocketImpl) => Effect.Effect<A, E, R>
  ) {
    this.plan = connect.planOf(request, undefined)
  }
}

/** Validates `withConnection`'s arguments: the target, `connect`'s options, `timeout`, `idleTimeout`. */
export const prepareConnection = <A, E, R>(
  host: unknown,
  port: unknown,
  options: unknown,
  use: (socket: TcpSocketImpl) => Effect.Effect<A, E, R>
): PreparedConnection<A, E, R> | InvalidArgument | TlsError => {
  if (typeof use !== "function") return notAFunction(use)
  const request = port === undefined ? args.parseConnect(host, options) : args.parseConnect(host, port, options)
  if (!(request instanceof args.ConnectRequest)) return request
  const o = args.parseConnectionOptions(options)
  if (validate.isInvalid(o)) return o
  return new PreparedConnection(request, o, use)
}

/**
 * One pooled exchange: connect, run `use`, then put the connection into the pool when `use`
 * succeeded (a refusal closes it and is not an error of `use`) or close it when `use` failed or
 * was interrupted.
 */
export const withConnection = <A, E, R>(
  services: Services,
  prepared: PreparedConnection<A, E, R>
): Effect.Effect<A, E | Api.ConnectFailure, R> => {
  const socket = socketOf(services)
  socket.setAllTimeouts(prepared.options.timeout)
  const plan = prepared.plan
  const refused = socket.begin(plan)
  if (refused !== undefined) return Effect.fail(refused)
  const idleTimeout: Duration.Duration = prepared.options.idleTimeout ?? services.config.keepaliveTimeout
  const use = prepared.use
  // The exit frame is in place before anything is taken from the pool: whatever happens after
  // (an interruption included), the finalizer checks the connection in or closes it. Only the
  // slow open (a wait in the backlog, a fresh connect) needs an uninterruptible region of its own.
  // The finalizer is synchronous and returns no effect, so it adds no step to the request.
  return Effect.onExitPrimitive(
    Effect.suspend(() => {
      if (socket.tracing === undefined && connect.reuseIdle(socket, plan)) return use(socket)
      return Effect.flatMap(
        Effect.uninterruptibleMask((restore) => socket.open(restore, plan) ?? Effect.void),
        () => use(socket)
      )
    }),
    (exit) => {
      if (exit._tag === "Success" && !socket.isBusy) socket.checkin(idleTimeout, false)
      socket.release()
      return undefined
    }
  )
}
