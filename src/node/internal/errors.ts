/**
 * Node error codes to OpenResty's lower-cased `strerror` wording (Linux glibc), so messages are
 * the same on every platform (OpenResty users get different texts per OS).
 *
 * @internal
 */
import type { TransportFailure } from "../../Transport.js"

const reasons: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ENOENT: "no such file or directory",
  EADDRNOTAVAIL: "cannot assign requested address",
  EADDRINUSE: "address already in use",
  ECONNRESET: "connection reset by peer",
  EPIPE: "broken pipe",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network is unreachable",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ECONNABORTED: "software caused connection abort",
  ENOTSOCK: "socket operation on non-socket",
  EINVAL: "invalid argument",
  EMSGSIZE: "message too long",
  ENOBUFS: "no buffer space available",
  ENOTCONN: "transport endpoint is not connected",
  ERR_STREAM_DESTROYED: "closed",
  ERR_SOCKET_CLOSED: "closed",
  EPROTO: "protocol error"
}

export const codeOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : "EUNKNOWN"
}

export const reasonOf = (error: unknown): string => {
  const known = reasons[codeOf(error)]
  if (known !== undefined) return known
  const message = (error as { message?: unknown } | undefined)?.message
  return typeof message === "string" && message.length > 0 ? message.toLowerCase() : "error"
}

export const failure = (error: unknown): TransportFailure => ({
  code: codeOf(error),
  reason: reasonOf(error),
  cause: error
})
