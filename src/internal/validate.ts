/**
 * Argument validation shared by every public entry point. Pure: each check returns the
 * normalised value or an `InvalidArgument` (never throws), so callers validate everything before
 * touching any state.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type { Settings } from "../CosocketConfig.js"
import { InvalidArgument } from "../CosocketError.js"

export const invalid = (argumentOrDetail: string | InvalidArgument, detail?: string): InvalidArgument =>
  typeof argumentOrDetail === "string"
    ? new InvalidArgument({ argument: argumentOrDetail, detail: detail ?? argumentOrDetail })
    : argumentOrDetail

export const isInvalid = (u: unknown): u is InvalidArgument => u instanceof InvalidArgument

/**
 * Runs a check that reads the caller's values: whatever their own code throws (a getter, a Proxy
 * trap, a `toString`) becomes an `InvalidArgument` naming the argument, never a defect.
 */
export const guard = <A>(argument: string, check: () => A): A | InvalidArgument => {
  try {
    return check()
  } catch {
    return threw(argument)
  }
}

/**
 * Reads the named fields of an options object once each, into a plain object: later checks see
 * one value per field even when a getter or a Proxy would answer differently on every read. A
 * throwing read becomes `InvalidArgument`; `undefined` and `null` read as no options.
 */
export const snapshot = <K extends string>(
  argument: string,
  options: unknown,
  keys: ReadonlyArray<K>
): { readonly [P in K]?: unknown } | InvalidArgument => {
  if (options === undefined || options === null) return noOptions as { readonly [P in K]?: unknown }
  if (typeof options !== "object" && typeof options !== "function") {
    return invalid(argument, `${argument} must be an object, got ${typeName(options)}`)
  }
  try {
    const out: { [P in K]?: unknown } = {}
    for (const key of keys) out[key] = (options as Record<string, unknown>)[key]
    return out
  } catch {
    return threw(argument)
  }
}

const noOptions: { readonly [key: string]: unknown } = Object.freeze({})

const threw = (argument: string): InvalidArgument => invalid(argument, `bad "${argument}" argument: reading it threw`)

/** Longest part of a caller's string an error message quotes. */
export const maxQuoted = 64

/** A caller's string as an error message quotes it: at most {@link maxQuoted} characters. */
export const quote = (s: string): string =>
  s.length <= maxQuoted ? s : `${s.slice(0, maxQuoted)}... (${s.length} characters)`

/** Any value in an error message: strings quoted (capped), others by type; never throws. */
export const describe = (u: unknown): string => typeof u === "string" ? quote(u) : typeName(u)

/**
 * A real `Uint8Array` (a Proxy that claims the prototype is not one: Node would refuse it). The
 * `isView` check comes first: it never runs a Proxy's traps, `instanceof` would.
 */
export const isBytes = (u: unknown): u is Uint8Array => ArrayBuffer.isView(u) && u instanceof Uint8Array

/** Largest timeout OpenResty accepts (2^31 - 1 ms); larger finite values are `bad timeout value`. */
export const maxTimeoutMillis = 2 ** 31 - 1

const durationObjectFields = [
  "weeks",
  "days",
  "hours",
  "minutes",
  "seconds",
  "milliseconds",
  "microseconds",
  "nanoseconds"
]

/**
 * Decodes what `Duration.Input` admits, and nothing looser: a plain object counts only when each
 * of its own keys is a unit field holding a number (Effect's decoder reads any object as one,
 * so `{}` or `{ foo: 1 }` would otherwise become zero, that is "the default"). Negative and NaN
 * inputs are refused, including the ones Effect reads as zero (NaN, "-0 seconds").
 */
const decodeDuration = (input: unknown): Duration.Duration | undefined => {
  try {
    return decodeDurationUnguarded(input)
  } catch {
    // the caller's own code threw (a getter, a Proxy trap)
    return undefined
  }
}

const decodeDurationUnguarded = (input: unknown): Duration.Duration | undefined => {
  // Number.isNaN is true only for the number NaN (it does not coerce)
  if (Number.isNaN(input)) return undefined
  // "-0 seconds" is meant as a negative time, not as zero ("the default"); Effect's decoder
  // refuses a leading blank, so no trimming is needed
  if (typeof input === "string" && input.startsWith("-")) return undefined
  if (typeof input === "object" && input !== null && !Duration.isDuration(input) && !Array.isArray(input)) {
    const keys = Object.keys(input)
    if (keys.length === 0) return undefined
    for (const key of keys) {
      if (!durationObjectFields.includes(key) || typeof (input as Record<string, unknown>)[key] !== "number") {
        return undefined
      }
    }
  }
  if (Array.isArray(input) && input.some((n) => Number.isNaN(n))) return undefined
  const decoded = Duration.fromInput(input as Duration.Input)
  if (decoded._tag === "None" || Duration.isNegative(decoded.value)) return undefined
  return decoded.value
}

/**
 * A socket timeout: `0` means "the configured default" (returned as `undefined`), negative or
 * unparsable values and finite values above 2^31-1 ms are `bad timeout value`; infinity is allowed.
 */
export const timeout = (argument: string, input: unknown): Duration.Duration | undefined | InvalidArgument => {
  const duration = decodeDuration(input)
  if (duration === undefined) return invalid(argument, "bad timeout value")
  if (!Duration.isFinite(duration)) return duration
  const millis = Duration.toMillis(duration)
  if (millis > maxTimeoutMillis) return invalid(argument, "bad timeout value")
  return millis === 0 ? undefined : duration
}

/** A keepalive idle time: `0` or infinity mean unlimited (returned as infinity). */
export const idleTimeout = (argument: string, input: unknown): Duration.Duration | InvalidArgument => {
  const duration = decodeDuration(input)
  if (duration === undefined) return invalid(argument, "bad timeout value")
  return Duration.isFinite(duration) && Duration.toMillis(duration) === 0 ? Duration.infinity : duration
}

/**
 * A TCP/UDP port: an integer (or numeric string) in `min`..65535. TCP takes 0..65535 (OpenResty's
 * range); a UDP peer needs 1..65535 (`node:dgram` cannot connect to port 0).
 */
export const port = (input: unknown, min: 0 | 1 = 0): number | InvalidArgument => {
  const n = typeof input === "string" && /^\s*\d+\s*$/.test(input) ? Number(input) : input
  if (typeof n !== "number" || !Number.isFinite(n)) return invalid("port", "missing the port number")
  const truncated = Math.trunc(n)
  if (truncated < min || truncated > 65535) return invalid("port", `bad port number: ${truncated}`)
  // Math.trunc(-0.5) is -0: print it as 0
  return truncated === 0 ? 0 : truncated
}

/**
 * An inet host of `connect` / `setPeername` (not `unix:`): non-empty, no NUL byte (the resolver
 * would stop at it and connect somewhere else). Returns it without IPv6 brackets.
 */
export const host = (input: string): string | InvalidArgument => {
  if (input.length === 0) return invalid("host", `failed to parse host name "": no host`)
  if (input.includes("\0")) return invalid("host", "failed to parse host name: contains a NUL byte")
  return unbracket(input)
}

/** An IPv6 literal without its brackets (`[::1]` -> `::1`); anything else as it is. */
export const unbracket = (host: string): string => host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host

/** A `unix:` path (given without the prefix): non-empty, no NUL byte. */
export const unixPath = (input: string, path: string): string | InvalidArgument => {
  if (path.length === 0) return invalid("host", `failed to parse host name "${quote(input)}": no path`)
  if (path.includes("\0")) return invalid("host", "failed to parse host name: contains a NUL byte")
  return path
}

/** A positive integer option (`poolSize`, `max`, limits). */
export const positiveInteger = (argument: string, input: unknown): number | InvalidArgument => {
  if (typeof input !== "number" || !Number.isFinite(input)) {
    return invalid(argument, `bad "${argument}" option type: ${typeName(input)}`)
  }
  const n = Math.trunc(input)
  return n > 0 ? n : invalid(argument, `bad "${argument}" option value: ${n}`)
}

/** A non-negative integer option (`backlog`). */
export const nonNegativeInteger = (argument: string, input: unknown): number | InvalidArgument => {
  if (typeof input !== "number" || !Number.isFinite(input)) {
    return invalid(argument, `bad "${argument}" option type: ${typeName(input)}`)
  }
  const n = Math.trunc(input)
  return n >= 0 ? n : invalid(argument, `bad "${argument}" option value: ${n}`)
}

/** The type an error message names; never throws (a revoked Proxy is an "object"). */
export const typeName = (u: unknown): string => {
  if (u === null) return "null"
  try {
    return Array.isArray(u) ? "array" : isBytes(u) ? "Uint8Array" : typeof u
  } catch {
    return typeof u
  }
}

const settingNames: ReadonlyArray<keyof Settings> = [
  "connectTimeout",
  "sendTimeout",
  "readTimeout",
  "keepaliveTimeout",
  "poolSize",
  "maxLineLength",
  "maxReceiveSize",
  "noDelay",
  "traceIo",
  "udpQueueSize"
]

/** Validates `CosocketConfig` options over a base; returns the first problem as a message. */
export const settings = (input: unknown, base: Settings): Settings | InvalidArgument =>
  guard("options", () => settingsOver(input, base))

const settingsOver = (input: unknown, base: Settings): Settings | InvalidArgument => {
  if (typeof input !== "object" || input === null) {
    return invalid("options", `options must be an object, got ${typeName(input)}`)
  }
  if (typeof base !== "object" || base === null) {
    return invalid("base", `base must be settings, got ${typeName(base)}`)
  }
  const options = snapshot("options", input, settingNames)
  if (isInvalid(options)) return options
  const duration = (name: "connectTimeout" | "sendTimeout" | "readTimeout") => {
    if (options[name] === undefined) return base[name]
    const result = timeout(name, options[name])
    return result === undefined ? invalid(name, "bad timeout value") : result
  }
  const connectTimeout = duration("connectTimeout")
  if (isInvalid(connectTimeout)) return connectTimeout
  const sendTimeout = duration("sendTimeout")
  if (isInvalid(sendTimeout)) return sendTimeout
  const readTimeout = duration("readTimeout")
  if (isInvalid(readTimeout)) return readTimeout
  const keepaliveTimeout = options.keepaliveTimeout === undefined
    ? base.keepaliveTimeout
    : idleTimeout("keepaliveTimeout", options.keepaliveTimeout)
  if (isInvalid(keepaliveTimeout)) return keepaliveTimeout
  const poolSize = options.poolSize === undefined ? base.poolSize : positiveInteger("poolSize", options.poolSize)
  if (isInvalid(poolSize)) return poolSize
  const optionalLimit = (name: "maxLineLength" | "maxReceiveSize") =>
    options[name] === undefined ? base[name] : positiveInteger(name, options[name])
  const maxLineLength = optionalLimit("maxLineLength")
  if (isInvalid(maxLineLength)) return maxLineLength
  const maxReceiveSize = optionalLimit("maxReceiveSize")
  if (isInvalid(maxReceiveSize)) return maxReceiveSize
  const udpQueueSize = options.udpQueueSize === undefined
    ? base.udpQueueSize
    : positiveInteger("udpQueueSize", options.udpQueueSize)
  if (isInvalid(udpQueueSize)) return udpQueueSize
  const noDelay = options.noDelay === undefined ? base.noDelay : options.noDelay
  if (typeof noDelay !== "boolean") return invalid("noDelay", `bad "noDelay" option type: ${typeName(noDelay)}`)
  const traceIo = options.traceIo === undefined ? base.traceIo : options.traceIo
  if (typeof traceIo !== "boolean") return invalid("traceIo", `bad "traceIo" option type: ${typeName(traceIo)}`)
  return {
    connectTimeout,
    sendTimeout,
    readTimeout,
    keepaliveTimeout,
    poolSize,
    maxLineLength,
    maxReceiveSize,
    noDelay,
    udpQueueSize,
    traceIo
  }
}

const isIPv4 = (s: string): boolean => {
  const parts = s.split(".")
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)
}

const isIPv6 = (s: string): boolean => {
  // (an address without a colon fails the URL parser's IPv6 check below)
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return false
  try {
    new URL(`http://[${s}]/`)
    return true
  } catch {
    return false
  }
}

/** An IPv4 or IPv6 literal (without brackets), as `bind` accepts. */
export const isIpAddress = (s: string): boolean => isIPv4(s) || isIPv6(s)
