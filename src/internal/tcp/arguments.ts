/**
 * The TCP socket's arguments, validated before any state changes: `connect`'s target and options,
 * `receive`'s pattern, `receiveUntil`'s and `setKeepalive`'s options, the option names of
 * `setOption` / `getOption`, and `withConnection`'s options. Pure: each returns the parsed value
 * or the error to fail with.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import type * as Pool from "../../ConnectionPool.js"
import { type InvalidArgument, TlsError } from "../../CosocketError.js"
import type { StreamTarget } from "../../Transport.js"
import * as target from "../target.js"
import * as tlsOptions from "../tlsOptions.js"
import * as validate from "../validate.js"

/** `connect`'s arguments, validated (no socket needed). `key` is the pool key before the bind
 * address and the TLS identity are appended. */
export class ConnectRequest {
  constructor(
    readonly target: StreamTarget,
    readonly key: string,
    readonly limits: Pool.PoolLimits,
    readonly tls: tlsOptions.ParsedTls | undefined
  ) {}
}

const connectOptionNames = ["pool", "poolSize", "backlog", "tls"] as const

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
  const unixWithOptions = target.isUnix(host) && typeof portOrOptions === "object"
  const parsed = target.parse(host, unixWithOptions ? undefined : portOrOptions, 0)
  if (validate.isInvalid(parsed)) return parsed
  const rawOptions = unixWithOptions ? portOrOptions : maybeOptions
  if (typeof rawOptions !== "object" && typeof rawOptions !== "undefined") {
    return validate.invalid("options", `options must be an object, got ${validate.typeName(rawOptions)}`)
  }
  // Each field read once: a getter or Proxy cannot answer one check and then another value.
  const o = validate.snapshot("options", rawOptions, connectOptionNames)
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
  // TLS is validated with the other arguments; its identity joins the pool key.
  let parsedTls: tlsOptions.ParsedTls | undefined
  if (o.tls !== undefined && o.tls !== null && o.tls !== false) {
    const t = tlsOptions.parse(o.tls, parsed.target._tag === "Inet" ? parsed.target.host : undefined)
    if (t instanceof TlsError || validate.isInvalid(t)) return t
    parsedTls = t
  }
  return new ConnectRequest(parsed.target, pool ?? parsed.name, { size, backlog }, parsedTls)
}

/** `receive`'s pattern: the typed forms and the runtime forms OpenResty accepts (`"10"`, `2.9`). */
export const parsePattern = (pattern: unknown): "*l" | "*a" | number | InvalidArgument => {
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

/** A positive count argument (`receiveAny`'s `max`, a reader's chunk `size`), truncated. */
export const parseCount = (argument: string, n: unknown): number | InvalidArgument =>
  typeof n !== "number" || !Number.isFinite(n) || Math.trunc(n) <= 0
    ? validate.invalid(argument, `bad ${argument} argument`)
    : Math.trunc(n)

/** `receiveUntil`'s pattern (a copy: the caller may reuse its array) and `inclusive` option. */
export const parseUntil = (
  pattern: unknown,
  options: unknown
): { readonly pattern: Uint8Array; readonly inclusive: boolean } | InvalidArgument => {
  const bytes = typeof pattern === "string"
    ? encoder.encode(pattern)
    : validate.isBytes(pattern)
    ? pattern.slice()
    : undefined
  if (bytes === undefined) return validate.invalid("pattern", `string expected, got ${validate.typeName(pattern)}`)
  if (bytes.length === 0) return validate.invalid("pattern", "pattern is empty")
  const o = validate.snapshot("options", options, untilOptionNames)
  if (validate.isInvalid(o)) return o
  const inclusive = o.inclusive
  if (inclusive !== undefined && typeof inclusive !== "boolean") {
    return validate.invalid("inclusive", `bad "inclusive" option value type: ${validate.typeName(inclusive)}`)
  }
  return { pattern: bytes, inclusive: inclusive === true }
}

const encoder = new TextEncoder()
const untilOptionNames = ["inclusive"] as const

/** `setKeepalive`'s arguments: the idle timeout (`undefined`: the configured one) and `force`. */
export const parseKeepalive = (
  idle: unknown,
  options: unknown
): { readonly idleTimeout: Duration.Duration | undefined; readonly force: boolean } | InvalidArgument => {
  let idleTimeout: Duration.Duration | undefined
  if (idle !== undefined) {
    const r = validate.idleTimeout("idle", idle)
    if (validate.isInvalid(r)) return r
    idleTimeout = r
  }
  const o = validate.snapshot("options", options, keepaliveOptionNames)
  if (validate.isInvalid(o)) return o
  const force = o.force
  if (force !== undefined && typeof force !== "boolean") {
    return validate.invalid("force", `bad "force" option type: ${validate.typeName(force)}`)
  }
  return { idleTimeout, force: force === true }
}

const keepaliveOptionNames = ["force"] as const

/** `withConnection`'s own options (`undefined`: the configured defaults). */
export interface ConnectionOptions {
  readonly timeout: Duration.Duration | undefined
  readonly idleTimeout: Duration.Duration | undefined
}

const connectionOptionNames = ["timeout", "idleTimeout"] as const

/** Parses `withConnection`'s `timeout` and `idleTimeout` (the rest of its options are `connect`'s). */
export const parseConnectionOptions = (options: unknown): ConnectionOptions | InvalidArgument => {
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
  return { timeout, idleTimeout }
}
