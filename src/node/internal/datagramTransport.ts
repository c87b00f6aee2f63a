/**
 * `node:dgram` sockets as connected `DatagramTransport`s. Host names are resolved here (with the
 * family of the bind address, when one is given) so the socket type (`udp4` / `udp6`) matches the
 * peer. Datagrams are only delivered from the connected peer: anything the kernel queued before
 * `connect` from another source is dropped. An `'error'` listener is always attached.
 *
 * `node:dgram` has no unix-domain datagram sockets: `Unix` targets are not supported.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Dgram from "node:dgram"
import * as Dns from "node:dns"
import * as Net from "node:net"
import { ConnectError } from "../../CosocketError.js"
import type {
  DatagramConnector,
  DatagramOpenOptions,
  DatagramTarget,
  DatagramTransport,
  TransportFailure
} from "../../Transport.js"
import * as errors from "./errors.js"

const describe = (target: DatagramTarget): string =>
  target._tag === "Unix"
    ? `unix:${target.path}`
    : Net.isIPv6(target.host)
    ? `[${target.host}]:${target.port}`
    : `${target.host}:${target.port}`

const connectError = (target: DatagramTarget, error: unknown): ConnectError => {
  const code = errors.codeOf(error)
  const reason = target._tag === "Inet" && (code === "ENOTFOUND" || code === "EAI_NONAME" || code === "EAI_NODATA")
    ? `${target.host} could not be resolved (3: Host not found)`
    : target._tag === "Inet" && code === "EAI_AGAIN"
    ? `${target.host} could not be resolved (2: Server failure)`
    : errors.reasonOf(error)
  return new ConnectError({ code, reason, address: describe(target), cause: error })
}

const familyMismatch = (target: DatagramTarget): ConnectError =>
  new ConnectError({
    code: "EAFNOSUPPORT",
    reason: "address family not supported by protocol",
    address: describe(target)
  })

const addressOf = (socket: Dgram.Socket, remote: boolean): { address: string; port: number } | undefined => {
  try {
    const info = remote ? socket.remoteAddress() : socket.address()
    return { address: info.address, port: info.port }
  } catch {
    return undefined
  }
}

const fromSocket = (socket: Dgram.Socket, options: DatagramOpenOptions): DatagramTransport => {
  const { onDatagram, onError } = options.handlers
  const peer = addressOf(socket, true)
  let closed = false
  // The handlers are the engine's own and do not throw.
  socket.on("message", (message: Buffer, rinfo: Dgram.RemoteInfo) => {
    if (closed) return
    // Datagrams the kernel queued before connect() may come from anyone.
    if (peer !== undefined && (rinfo.address !== peer.address || rinfo.port !== peer.port)) return
    onDatagram(new Uint8Array(message.buffer, message.byteOffset, message.byteLength))
  })
  socket.on("error", (error) => {
    if (!closed) onError(errors.failure(error))
  })
  return {
    send: (bytes, done) => {
      if (closed) return done({ code: "ERR_SOCKET_CLOSED", reason: "closed" })
      let called = false
      const finish = (failure: TransportFailure | undefined) => {
        if (called) return
        called = true
        done(failure)
      }
      try {
        socket.send(bytes, (error) => finish(error ? errors.failure(error) : undefined))
      } catch (error) {
        finish(errors.failure(error))
      }
    },
    close: () => {
      if (closed) return
      closed = true
      try {
        socket.close()
      } catch {
        // already closed by the platform
      }
    },
    localAddress: () => closed ? undefined : addressOf(socket, false),
    remoteAddress: () => closed ? undefined : peer
  }
}

/** Opens a connected datagram socket; interruption closes the half-open socket. */
export const open = (
  target: DatagramTarget,
  options: DatagramOpenOptions
): Effect.Effect<DatagramTransport, ConnectError> =>
  Effect.callback<DatagramTransport, ConnectError>((resume) => {
    if (target._tag === "Unix") {
      resume(Effect.fail(familyMismatch(target)))
      return
    }
    let socket: Dgram.Socket | undefined
    let settled = false
    const fail = (error: ConnectError) => {
      if (settled) return
      settled = true
      if (socket !== undefined) closeQuietly(socket)
      resume(Effect.fail(error))
    }
    const localAddress = options.localAddress
    const localFamily = localAddress !== undefined ? Net.isIP(localAddress) : 0

    // Runs inside node:dgram's and node:dns's callbacks: a throw there (node:dgram throws
    // synchronously for arguments it refuses) would escape every Effect and kill the process.
    const guarded = (step: () => void): void => {
      try {
        step()
      } catch (error) {
        fail(connectError(target, error))
      }
    }

    const start = (address: string, family: number) => {
      if (settled) return
      if (localFamily !== 0 && family !== localFamily) return fail(familyMismatch(target))
      const s = Dgram.createSocket({ type: family === 6 ? "udp6" : "udp4" })
      socket = s
      const onSetupError = (error: Error) => fail(connectError(target, error))
      s.on("error", onSetupError)
      const connect = () =>
        guarded(() => {
          if (settled) return
          s.connect(target.port, address, (error?: Error) =>
            guarded(() => {
              if (settled) return
              if (error) return fail(connectError(target, error))
              settled = true
              s.off("error", onSetupError)
              resume(Effect.succeed(fromSocket(s, options)))
            }))
        })
      if (localAddress !== undefined) s.bind({ address: localAddress, port: 0 }, connect)
      else connect()
    }

    const literal = Net.isIP(target.host)
    if (literal !== 0) {
      guarded(() => start(target.host, literal))
    } else {
      guarded(() =>
        Dns.lookup(target.host, { family: localFamily === 0 ? 0 : localFamily }, (error, address, family) =>
          guarded(() => {
            if (error) {
              return fail(connectError(target, error))
            }
            start(address, family)
          }))
      )
    }
    return Effect.sync(() => {
      if (settled) {
        return
      }
      settled = true
      if (socket !== undefined) {
        closeQuietly(socket)
      }
    })
  })

const closeQuietly = (socket: Dgram.Socket): void => {
  socket.on("error", () => {})
  try {
    socket.close()
  } catch {
    // never bound or already closed
  }
}

/** The `node:dgram` connector (no unix-domain datagram sockets). */
export const connector: DatagramConnector = { open, supportsUnix: false }
