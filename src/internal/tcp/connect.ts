/**
 * Opening a connection for a socket: take a slot (or an idle connection) from the pool, connect
 * through the connector, upgrade to TLS when asked, all within the connect timeout, with the
 * `cosocket.connect`, `cosocket.pool.wait`, `cosocket.resolve` and `cosocket.tls.handshake` spans
 * when a tracer is installed.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Pool from "../../ConnectionPool.js"
import type * as CosocketConfig from "../../CosocketConfig.js"
import { SocketClosed, SocketTimeout, TlsError } from "../../CosocketError.js"
import type * as Api from "../../TcpSocket.js"
import type { StreamConnector, StreamTarget, StreamTransport, TlsUpgradeOptions } from "../../Transport.js"
import { acquireFor, Backlogged, giveBack, type GrantOwner, reuseNow } from "../pool.js"
import * as timer from "../timer.js"
import * as tracing from "../tracing.js"
import * as validate from "../validate.js"
import type * as args from "./arguments.js"
import type { Busy } from "./busy.js"
import { Connection } from "./connection.js"

/** A `connect` ready to run on a socket: where to, the full pool key and limits, the bind address and TLS. */
export class ConnectPlan {
  constructor(
    readonly target: StreamTarget,
    readonly key: string,
    readonly limits: Pool.PoolLimits,
    readonly localAddress: string | undefined,
    readonly upgrade: TlsUpgradeOptions | undefined
  ) {}

  /** The host of an inet target: the default TLS server name. */
  get host(): string | undefined {
    return this.target._tag === "Inet" ? this.target.host : undefined
  }
}

/**
 * The plan of a validated connect request from a socket bound to `localAddress`: the pool key
 * names the bind address and the TLS identity, so connections that differ in either never mix.
 * Pure: a request made once (`withConnection`) is planned once.
 */
export const planOf = (request: args.ConnectRequest, localAddress: string | undefined): ConnectPlan => {
  const upgrade = request.tls?.upgrade
  const key = request.key + (localAddress !== undefined ? ` bind=${localAddress}` : "") +
    (upgrade !== undefined ? ` tls=${upgrade.identity}` : "")
  return new ConnectPlan(request.target, key, request.limits, localAddress, upgrade)
}

/** What opening a connection needs from its socket; a grant from the backlog goes straight to it. */
export interface Opener extends GrantOwner {
  readonly connector: StreamConnector
  readonly pool: Pool.ConnectionPool
  readonly config: CosocketConfig.Settings
  readonly schedule: timer.Schedule
  readonly tracing: tracing.Tracing | undefined
  readonly connectTimeout: Duration.Duration
  /** The server name of the last connect, for the handshake span. */
  readonly tlsHost: string | undefined
  /** The connect flag is set while the open waits. */
  readonly busy: Busy
  /** Makes `conn` the socket's connection (or closes it when the socket's lifetime ended). */
  attach(conn: Connection): void
  /** The socket's connection. */
  readonly conn: Connection | undefined
  /** Takes what the backlog granted (`granted`) and the waiting connect has not taken yet. */
  takeGrant(): Pool.Lease | undefined
}

/** `restore` of the uninterruptible region the open runs in. */
export type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/**
 * The synchronous fast path: attaches an idle pooled connection of the plan's key when there is
 * one (`true`). Takes nothing else from the pool, so a `false` leaves nothing to clean up: the
 * caller then runs `open`. Without a tracer only (a traced connect always makes its span).
 */
export const reuseIdle = (opener: Opener, plan: ConnectPlan): boolean => {
  const lease = reuseNow(opener.pool, plan.key)
  if (lease === undefined) return false
  attachReused(opener, lease, lease.reused!)
  return true
}

/** Attaches the idle pooled connection `lease` hands out. */
const attachReused = (opener: Opener, lease: Pool.Lease, reused: Pool.PooledConnection): void =>
  opener.attach(new Connection(reused.transport, lease, reused.reusedTimes))

/**
 * Opens the planned connection; run it uninterruptibly (`restore` makes the pool wait and the
 * connect interruptible). Returns `undefined` when an idle pooled connection was attached at once
 * (no Effect needed); otherwise the connect flag is set while it waits.
 */
export const open = (
  opener: Opener,
  restore: Restore,
  plan: ConnectPlan
): Effect.Effect<void, Api.ConnectFailure> | undefined => {
  if (opener.tracing === undefined) return openPlanned(opener, restore, plan)
  return tracing.span(
    "cosocket.connect",
    "client",
    tracing.targetAttributes(plan.target, plan.key),
    Effect.suspend(() => openPlanned(opener, restore, plan) ?? Effect.void),
    (span) => {
      const conn = opener.conn
      if (conn === undefined || conn.isGone) return
      span.attribute("cosocket.reused_times", conn.reusedTimes)
      const peer = plan.target._tag === "Inet" ? conn.transport.remoteAddress() : undefined
      if (peer !== undefined) {
        span.attribute("network.peer.address", peer.address)
        span.attribute("network.peer.port", peer.port)
      }
    }
  )
}

const openPlanned = (
  opener: Opener,
  restore: Restore,
  plan: ConnectPlan
): Effect.Effect<void, Api.ConnectFailure> | undefined => {
  const { key, limits } = plan
  const timeout = opener.connectTimeout
  const got = acquireFor(opener.pool, key, limits, timeout, opener)
  if (got === undefined) return openThrough(opener, restore, plan)
  if (got instanceof Backlogged) {
    opener.busy.connecting = true
    const wait = opener.tracing === undefined ? got.wait : tracing.span(
      "cosocket.pool.wait",
      "internal",
      { "cosocket.pool.key": key },
      got.wait
    )
    // The grant waits on the socket (`granted`) from the step that frees the slot: interrupted
    // before it runs again, the connect gives it back, and so does the socket's end.
    return Effect.flatMap(
      Effect.onExitPrimitive(restore(wait), (exit) => {
        if (exit._tag === "Success") return undefined
        opener.busy.connecting = false
        const grant = opener.takeGrant()
        if (grant !== undefined) giveBack(grant)
        return undefined
      }),
      (lease) => {
        // The socket's end gave the grant back before this fiber ran again: nothing to use.
        if (opener.takeGrant() !== lease) {
          opener.busy.connecting = false
          return Effect.fail(new SocketClosed({ operation: "connect" }))
        }
        return useLease(opener, restore, plan, lease)
      }
    )
  }
  if ("_tag" in got) return Effect.fail(got)
  if (got.reused !== undefined) {
    attachReused(opener, got, got.reused)
    return undefined
  }
  opener.busy.connecting = true
  return connectFresh(opener, restore, plan, got)
}

/** Opening through a pool of another kind: its `acquire`, which gives back what an interrupted waiter was granted. */
const openThrough = (
  opener: Opener,
  restore: Restore,
  plan: ConnectPlan
): Effect.Effect<void, Api.ConnectFailure> => {
  opener.busy.connecting = true
  return Effect.flatMap(
    Effect.onExitPrimitive(restore(opener.pool.acquire(plan.key, plan.limits, opener.connectTimeout)), (exit) => {
      if (exit._tag === "Failure") opener.busy.connecting = false
      return undefined
    }),
    (lease) => useLease(opener, restore, plan, lease)
  )
}

/** A waited-for grant: an idle connection is attached, a fresh slot connects. */
const useLease = (
  opener: Opener,
  restore: Restore,
  plan: ConnectPlan,
  lease: Pool.Lease
): Effect.Effect<void, Api.ConnectFailure> => {
  const reused = lease.reused
  if (reused === undefined) return connectFresh(opener, restore, plan, lease)
  opener.busy.connecting = false
  attachReused(opener, lease, reused)
  return Effect.void
}

/**
 * Connects anew on a fresh slot's `lease` (and upgrades to TLS when asked) within the connect
 * timeout; the connection is attached, or the slot released. Ends the connect flag either way.
 */
const connectFresh = (
  opener: Opener,
  restore: Restore,
  plan: ConnectPlan,
  lease: Pool.Lease
): Effect.Effect<void, Api.ConnectFailure> => {
  const { localAddress, target, upgrade } = plan
  const noDelay = opener.config.noDelay
  const connector = opener.connector
  const fresh = opener.tracing !== undefined && target._tag === "Inet" && !validate.isIpAddress(target.host)
    ? tracing.resolving(target.host, (onLookup) => connector.connect(target, { localAddress, noDelay, onLookup }))
    : connector.connect(target, { localAddress, noDelay })
  // A fresh TLS connection is upgraded within the same connect timeout (a pooled one already is).
  const connect = upgrade === undefined ? fresh : upgradeFresh(opener, fresh, upgrade)
  const timeout = opener.connectTimeout
  return Effect.asVoid(Effect.onExitPrimitive(
    restore(timer.withTimeout(opener.schedule, connect, timeout, () => new SocketTimeout({ operation: "connect" }))),
    (exit) => {
      opener.busy.connecting = false
      if (exit._tag === "Success") {
        lease.connected?.()
        opener.attach(new Connection(exit.value, lease, 0))
      } else {
        lease.release()
      }
      return undefined
    }
  ))
}

/** Connect, then upgrade, as one effect; the fresh transport is destroyed if the upgrade fails. */
const upgradeFresh = <E>(
  opener: Opener,
  fresh: Effect.Effect<StreamTransport, E>,
  options: TlsUpgradeOptions
): Effect.Effect<StreamTransport, E | TlsError> => {
  const upgrade = opener.connector.upgradeTls
  if (upgrade === undefined) return Effect.fail(noTlsSupport())
  return Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(
      restore(fresh),
      (transport) =>
        restore(traceHandshake(opener, upgrade(transport, options), options)).pipe(
          Effect.onError(() => Effect.sync(() => transport.destroy()))
        )
    )
  )
}

/** A TLS upgrade in a `cosocket.tls.handshake` span (only when a tracer is installed). */
export const traceHandshake = <E>(
  opener: Opener,
  upgrade: Effect.Effect<StreamTransport, E>,
  options: TlsUpgradeOptions
): Effect.Effect<StreamTransport, E> => {
  if (opener.tracing === undefined) return upgrade
  const attributes: Record<string, unknown> = { "network.transport": "tcp" }
  if (opener.tlsHost !== undefined) attributes["server.address"] = opener.tlsHost
  if (options.serverName !== undefined) attributes["tls.client.server_name"] = options.serverName
  return tracing.span("cosocket.tls.handshake", "client", attributes, upgrade, (span, transport) => {
    if (transport.tls !== undefined) tracing.annotateTls(span, transport.tls)
  })
}

export const noTlsSupport = (): TlsError =>
  new TlsError({ reason: "setup", detail: "tls is not supported by this connector" })
