/**
 * How a scripted peer reports a failed script: the `ScriptError` class (public: `ScriptedPeer`
 * re-exports it, so its documentation is here) and the escaping of bytes in its `expected` and
 * `got` fields. Not marked internal: the class is part of the public API.
 */
import * as Data from "effect/Data"
import type { ScriptErrorReason } from "../ScriptedPeer.js"

/**
 * A connection's script failed (see {@link ScriptErrorReason}). `step` is the index in the
 * flattened script; `expected` and `got` are escaped text (see {@link escape}).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { ScriptedPeer } from "effect-cosocket/testing"
 *
 * const error = new ScriptedPeer.ScriptError({ connection: 0, step: 0, reason: "Mismatch", expected: "a", got: "b" })
 * console.log(error.message)
 * ```
 */
export class ScriptError extends Data.TaggedError("ScriptError")<{
  readonly connection: number
  readonly step: number
  readonly reason: ScriptErrorReason
  readonly expected?: string | undefined
  readonly got?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const where = `connection ${this.connection}, step ${this.step}`
    switch (this.reason) {
      case "Mismatch":
        return `${where}: expected "${this.expected}", got "${this.got}"`
      case "ClientClosed":
        return `${where}: the client closed early` +
          (this.expected === undefined ? "" : ` (expected "${this.expected}", got "${this.got ?? ""}")`)
      case "SocketError":
        return `${where}: socket error: ${errorText(this.cause)}`
      case "TlsError":
        return `${where}: TLS handshake failed: ${errorText(this.cause)}`
    }
  }
}

const errorText = (cause: unknown): string =>
  cause instanceof Error ? `${(cause as NodeJS.ErrnoException).code ?? cause.name}: ${cause.message}` : String(cause)

/** Bytes as readable text (documented on `ScriptedPeer.escape`). */
export const escape = (bytes: Uint8Array): string => {
  let out = ""
  for (const byte of bytes) {
    switch (byte) {
      case 0x0d:
        out += "\\r"
        break
      case 0x0a:
        out += "\\n"
        break
      case 0x09:
        out += "\\t"
        break
      case 0x5c:
        out += "\\\\"
        break
      case 0x22:
        out += "\\\""
        break
      default:
        out += byte >= 0x20 && byte < 0x7f
          ? String.fromCharCode(byte)
          : `\\x${byte.toString(16).padStart(2, "0")}`
    }
  }
  return out
}
