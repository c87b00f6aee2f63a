/**
 * `node:net` / `node:tls` sockets as `StreamTransport`s. The socket is kept in paused mode:
 * `'readable'` only wakes the engine, which pulls with `read()`; `allowHalfOpen` keeps our write
 * half open after the peer's FIN, and an `'error'` listener is always attached.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import { ConnectError } from "../../CosocketError.js"
import type {
  StreamConnectOptions,
  StreamTarget,
  StreamTransport,
  TlsState,
  TransportFailure,
  WriteListener
} from "../../Transport.js"
import * as errors from "./errors.js"

/** Writes above this size go out in pieces, each completion re-arming the send timeout. */
const PIECE = 256 * 1024

export const fromSocket = (socket: Net.Socket, tls?: TlsState): StreamTransport => {
  let waker: (() => void) | undefined
  let failed: TransportFailure | undefined
  let ended = false
  const wake = () => {
    if (waker !== undefined) waker()
  }
  socket.on("readable", wake)
  socket.on("end", () => {
    ended = true
    wake()
  })
  socket.on("error", (error) => {
    failed ??= errors.failure(error)
    wake()
  })
  socket.on("close", wake)

  // A write on a socket Node destroyed after an error reports ERR_STREAM_DESTROYED: the cause
  // the caller wants is the error that destroyed it (e.g. ECONNRESET).
  const writeFailure = (error: Error): TransportFailure => failed ?? errors.failure(error)

  const write = (bytes: Uint8Array, listener: WriteListener): boolean => {
    if (bytes.length <= PIECE) {
      let completedSynchronously = false
      socket.write(bytes, (error) => {
        if (!completedSynchronously) listener.done(error ? writeFailure(error) : undefined)
      })
      // Node updates writableLength synchronously when the kernel took everything at once.
      if (socket.writableLength === 0 && !socket.destroyed && failed === undefined) {
        completedSynchronously = true
        return true
      }
      return false
    }
    let offset = 0
    const next = (): void => {
      const piece = bytes.subarray(offset, offset + PIECE)
      offset += piece.length
      socket.write(piece, (error) => {
        if (error) return listener.done(writeFailure(error))
        if (offset >= bytes.length) return listener.done(undefined)
        listener.progress()
        next()
      })
    }
    next()
    return false
  }

  const address = (local: boolean) => {
    const a = local ? socket.localAddress : socket.remoteAddress
    const p = local ? socket.localPort : socket.remotePort
    if (a !== undefined) return { address: a, port: p ?? 0 }
    return undefined
  }

  const transport: StreamTransport = {
    read: () => {
      const chunk: Buffer | null = socket.read()
      return chunk === null ? undefined : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    },
    // Node emits 'end' a tick after the last read; its state knows the EOF already.
    isEnded: () =>
      ended ||
      (socket.readableLength === 0 &&
        (socket as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true),
    failure: () => failed,
    pendingBytes: () => socket.readableLength,
    setWaker: (w) => {
      waker = w
    },
    write,
    shutdown: () => {
      socket.end()
    },
    destroy: () => {
      if (!socket.destroyed) socket.destroy()
    },
    isDestroyed: () => socket.destroyed,
    setNoDelay: (enabled) => {
      socket.setNoDelay(enabled)
    },
    setKeepAlive: (enabled, initialDelay) => {
      socket.setKeepAlive(enabled, initialDelay)
    },
    localAddress: () => address(true),
    remoteAddress: () => address(false),
    tls
  }
  sockets.set(transport, socket)
  return transport
}

const sockets = new WeakMap<StreamTransport, Net.Socket>()

/** The Node socket behind a transport made here (for the TLS upgrade). */
export const socketOf = (transport: StreamTransport): Net.Socket | undefined => sockets.get(transport)

const describe = (target: StreamTarget): string =>
  target._tag === "Unix" ? `unix:${target.path}` : `${target.host}:${target.port}`

const connectError = (target: StreamTarget, error: unknown): ConnectError => {
  const code = errors.codeOf(error)
  const reason = target._tag === "Inet" && (code === "ENOTFOUND" || code === "EAI_NONAME")
    ? `${target.host} could not be resolved (3: Host not found)`
    : target._tag === "Inet" && code === "EAI_AGAIN"
    ? `${target.host} could not be resolved (2: Server failure)`
    : errors.reasonOf(error)
  return new ConnectError({ code, reason, address: describe(target), cause: error })
}

/** Connects; interruption destroys the half-open socket. */
export const connect = (
  target: StreamTarget,
  options: StreamConnectOptions,
  lookup?: Net.LookupFunction
): Effect.Effect<StreamTransport, ConnectError> =>
  Effect.async<StreamTransport, ConnectError>((resume) => {
    const socket = target._tag === "Unix"
      ? Net.createConnection({ path: target.path, allowHalfOpen: true })
      : Net.createConnection({
        host: target.host,
        port: target.port,
        allowHalfOpen: true,
        noDelay: options.noDelay,
        ...(lookup !== undefined ? { lookup } : {}),
        ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {})
      })
    const onError = (error: Error) => {
      socket.destroy()
      resume(Effect.fail(connectError(target, error)))
    }
    socket.once("error", onError)
    socket.once("connect", () => {
      const transport = fromSocket(socket)
      socket.off("error", onError)
      resume(Effect.succeed(transport))
    })
    return Effect.sync(() => {
      socket.off("error", onError)
      socket.on("error", () => {})
      socket.destroy()
    })
  })
