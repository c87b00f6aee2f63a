/**
 * `setOption` / `getOption`: OpenResty's option names, the two Node implements (`tcp-nodelay`,
 * `keepalive`), and their values for the current connection. A fresh connection starts from
 * `CosocketConfig.noDelay` and keepalive off; a connection goes back into the pool with those
 * values restored, so the next user of it sees what `getOption` reports.
 *
 * @internal
 */
import { type InvalidArgument, UnsupportedOption } from "../../CosocketError.js"
import type * as Api from "../../TcpSocket.js"
import type { StreamTransport } from "../../Transport.js"
import * as validate from "../validate.js"

/** The options OpenResty knows; only two of them exist on Node. */
const names: ReadonlySet<string> = new Set([
  "keepalive",
  "tcp-nodelay",
  "reuseaddr",
  "sndbuf",
  "rcvbuf",
  "keepintvl",
  "keepcnt",
  "ip-transparent"
])

const isName = (option: unknown): option is Api.SocketOption => typeof option === "string" && names.has(option)

/** The options Node implements. */
export type SupportedOption = "tcp-nodelay" | "keepalive"

const isSupported = (option: Api.SocketOption): option is SupportedOption =>
  option === "tcp-nodelay" || option === "keepalive"

/** `setOption`'s arguments, validated (no socket needed): the option and whether it is on. */
export const parseSet = (
  option: unknown,
  value: unknown
): { readonly option: SupportedOption; readonly enabled: boolean } | InvalidArgument | UnsupportedOption => {
  if (typeof option !== "string" || option.length === 0) {
    return validate.invalid("option", `missing the "option" argument`)
  }
  if (!isName(option)) return validate.invalid("option", `unsupported option ${validate.quote(option)}`)
  if (typeof value !== "boolean" && (typeof value !== "number" || Number.isNaN(value))) {
    return validate.invalid("value", `missing the "value" argument`)
  }
  if (!isSupported(option)) return new UnsupportedOption({ option, platform: "node" })
  return { option, enabled: value === true || (typeof value === "number" && value !== 0) }
}

/** `getOption`'s argument, validated (no socket needed). */
export const parseGet = (option: unknown): SupportedOption | InvalidArgument | UnsupportedOption => {
  if (!isName(option)) return validate.invalid("option", `unsupported option ${validate.describe(option)}`)
  if (!isSupported(option)) return new UnsupportedOption({ option, platform: "node" })
  return option
}

export class SocketOptions {
  private noDelay: number
  private keepalive = 0

  constructor(private readonly defaultNoDelay: boolean) {
    this.noDelay = defaultNoDelay ? 1 : 0
  }

  /** A new connection: the defaults again. */
  reset(): void {
    this.noDelay = this.defaultNoDelay ? 1 : 0
    this.keepalive = 0
  }

  /** Applies a validated `setOption` to `transport`. */
  set(transport: StreamTransport, option: SupportedOption, enabled: boolean): void {
    if (option === "tcp-nodelay") {
      transport.setNoDelay(enabled)
      this.noDelay = enabled ? 1 : 0
    } else {
      transport.setKeepAlive(enabled, 0)
      this.keepalive = enabled ? 1 : 0
    }
  }

  get(option: SupportedOption): number {
    return option === "tcp-nodelay" ? this.noDelay : this.keepalive
  }

  /** Before `transport` goes back into the pool: puts back what `setOption` changed. */
  restoreDefaults(transport: StreamTransport): void {
    if (this.noDelay !== (this.defaultNoDelay ? 1 : 0)) transport.setNoDelay(this.defaultNoDelay)
    if (this.keepalive !== 0) transport.setKeepAlive(false, 0)
    this.reset()
  }
}
