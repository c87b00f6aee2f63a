/**
 * Spans through Effect's tracer (so any tracing layer, OpenTelemetry's included, sees them):
 * `cosocket.connect` (name resolution included), `cosocket.pool.wait`, `cosocket.tls.handshake`
 * and, when `CosocketConfig.traceIo` asks for them, `cosocket.receive` / `cosocket.send`.
 * Attributes follow OpenTelemetry's semantic conventions (`server.address`, `server.port`,
 * `network.transport`, `network.peer.address`, `network.peer.port`, `tls.*`, `error.type`) plus
 * ours (`cosocket.pool.key`, `cosocket.reused_times`, `cosocket.operation`, `cosocket.bytes`).
 *
 * Zero cost without a tracer: Effect 4 always has one, the native tracer, whose spans go nowhere.
 * A socket decides once, when it is made (from its fiber's context, cached per context), whether
 * anything is traced; when nothing is, the engine only tests one field per connect (and one per
 * read or send).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import type { StreamTarget, TlsState } from "../Transport.js"

/** What a socket traces; `undefined` (no tracer installed or tracing disabled): nothing. */
export class Tracing {
  constructor(
    /** A span per read and send too. */
    readonly io: boolean
  ) {}
}

const CONNECTS = new Tracing(false)
const CONNECTS_AND_IO = new Tracing(true)

/**
 * The tracing of sockets made in `context`: `undefined` when the tracer is Effect's native one (its
 * spans are never exported) or `References.TracerEnabled` is off.
 */
export const fromContext = (context: Context.Context<never>, io: boolean): Tracing | undefined => {
  if (Context.get(context, Tracer.Tracer) === Tracer.nativeTracer) return undefined
  if (!Context.get(context, References.TracerEnabled)) return undefined
  return io ? CONNECTS_AND_IO : CONNECTS
}

const NO_STACK = { captureStackTrace: false } as const

/** OpenTelemetry's `error.type`: the failure's tag, else a low-cardinality stand-in. */
export const errorType = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some") {
    const e = error.value
    if (typeof e === "object" && e !== null && typeof (e as { _tag?: unknown })._tag === "string") {
      return (e as { _tag: string })._tag
    }
    return "_OTHER"
  }
  return Cause.hasInterruptsOnly(cause) ? "Interrupted" : "_OTHER"
}

/**
 * Runs `effect` in a span (its parent for spans made inside). On failure the span gets `error.type`;
 * on success `onSuccess` may add attributes. Both run before the span ends.
 */
export const span = <A, E>(
  name: string,
  kind: Tracer.SpanKind,
  attributes: Record<string, unknown>,
  effect: Effect.Effect<A, E>,
  onSuccess?: (span: Tracer.Span, value: A) => void
): Effect.Effect<A, E> =>
  Effect.useSpan(name, { kind, attributes }, (span) =>
    Effect.onExit(
      Effect.withParentSpan(effect, span, NO_STACK),
      (exit: Exit.Exit<A, E>) =>
        Effect.sync(() => {
          if (exit._tag === "Failure") span.attribute("error.type", errorType(exit.cause))
          else if (onSuccess !== undefined) onSuccess(span, exit.value)
        })
    ))

/** `server.*` and `network.transport` of a connect target, plus the pool key. */
export const targetAttributes = (target: StreamTarget, poolKey: string): Record<string, unknown> =>
  target._tag === "Inet"
    ? {
      "server.address": target.host,
      "server.port": target.port,
      "network.transport": "tcp",
      "cosocket.pool.key": poolKey
    }
    : { "server.address": target.path, "network.transport": "unix", "cosocket.pool.key": poolKey }

/** `tls.*` attributes of an established TLS stream. */
export const annotateTls = (span: Tracer.Span, state: TlsState): void => {
  span.attribute("tls.established", true)
  span.attribute("tls.resumed", state.resumed)
  const protocol = state.protocol
  if (protocol !== undefined) {
    // Node says "TLSv1.3"; OpenTelemetry wants the name and the version apart.
    const m = /^(TLS|SSL)v?(.*)$/i.exec(protocol)
    span.attribute("tls.protocol.name", m !== null ? m[1].toLowerCase() : protocol.toLowerCase())
    if (m !== null) span.attribute("tls.protocol.version", m[2])
  }
  if (state.alpnProtocol !== undefined) span.attribute("tls.next_protocol", state.alpnProtocol)
}

/**
 * `connect` with a `cosocket.resolve` span for a host name: it starts with the connect and ends when
 * the connector reports the lookup (`StreamConnectOptions.onLookup`), or with the connect if the
 * connector never does.
 */
export const resolving = <A, E>(
  host: string,
  connect: (onLookup: (error: Error | null, address: string | undefined) => void) => Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  Effect.flatMap(
    Effect.makeSpan("cosocket.resolve", { kind: "client", attributes: { "server.address": host } }),
    (span) =>
      Effect.clockWith((clock) => {
        const onLookup = (error: Error | null, address: string | undefined): void => {
          if (span.status._tag === "Ended") return
          if (address !== undefined && error === null) span.attribute("network.peer.address", address)
          if (error !== null) span.attribute("error.type", (error as { code?: unknown }).code ?? "_OTHER")
          span.end(clock.currentTimeNanosUnsafe(), error === null ? Exit.void : Exit.fail(error))
        }
        return Effect.onExit(connect(onLookup), (exit) =>
          Effect.sync(() => {
            if (span.status._tag === "Ended") return
            if (exit._tag === "Failure") span.attribute("error.type", errorType(exit.cause))
            span.end(clock.currentTimeNanosUnsafe(), exit)
          }))
      })
  )
