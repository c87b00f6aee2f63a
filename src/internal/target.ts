/**
 * Where a socket goes: `host, port` or `"unix:path"`, as TCP's `connect` and UDP's `setPeername`
 * both take it. Pure: returns the parsed target and its printable name, or `InvalidArgument`.
 *
 * @internal
 */
import type { InvalidArgument } from "../CosocketError.js"
import type { StreamTarget } from "../Transport.js"
import * as validate from "./validate.js"

/** A parsed destination and its name as given (`host:port` or `unix:path`), the default pool key. */
export interface ParsedTarget {
  readonly target: StreamTarget
  readonly name: string
}

/** Whether `host` names a unix-domain socket (`unix:` prefix, any case, as OpenResty reads it). */
export const isUnix = (host: unknown): boolean => typeof host === "string" && host.slice(0, 5).toLowerCase() === "unix:"

/**
 * Parses a destination. `minPort` is the lowest port accepted (a datagram peer needs 1: node:dgram
 * cannot connect to port 0).
 */
export const parse = (host: unknown, port: unknown, minPort: 0 | 1): ParsedTarget | InvalidArgument => {
  if (typeof host !== "string") return validate.invalid("host", `string expected, got ${validate.typeName(host)}`)
  if (isUnix(host)) {
    const path = validate.unixPath(host, host.slice(5))
    if (validate.isInvalid(path)) return path
    return { target: { _tag: "Unix", path }, name: host }
  }
  const p = validate.port(port, minPort)
  if (validate.isInvalid(p)) return p
  const bare = validate.host(host)
  if (validate.isInvalid(bare)) return bare
  return { target: { _tag: "Inet", host: bare, port: p }, name: `${host}:${p}` }
}
