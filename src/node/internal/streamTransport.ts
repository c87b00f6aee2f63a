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

const EMPTY = new Uint8Array(0)

/** The transport a Node socket belongs to (set once, read by the shared listeners below). */
const kTransport = Symbol("effect-cosocket/transport")

type OwnedSocket = Net.Socket & { [kTransport]?: NodeStreamTransport }

// One set of listener functions for every socket: Node calls them with the socket as `this`, so an
// idle pooled connection carries no listener closures of its own.
function onWake(this: OwnedSocket): void {
  this[kTransport]?.wake()
}

function onEnd(this: OwnedSocket): void {
  const transport = this[kTransport]
  if (transport === undefined) return
  transport.ended = true
  transport.wake()
}

function onError(this: OwnedSocket, error: Error): void {
  const transport = this[kTransport]
  if (transport === undefined) return
  transport.failed ??= errors.failure(error)
  transport.wake()
}

/**
 * A class, not an object of closures: an idle pooled connection keeps one of these alive, and
 * prototype methods and shared listeners keep it small.
 */
class NodeStreamTransport implements StreamTransport {
  private waker: (() => void) | undefined = undefined
  failed: TransportFailure | undefined = undefined
  ended = false

  constructor(readonly socket: Net.Socket, readonly tls: TlsState | undefined) {
    ;(socket as OwnedSocket)[kTransport] = this
    socket.on("readable", onWake)
    socket.on("close", onWake)
    socket.on("end", onEnd)
    socket.on("error", onError)
  }

  wake(): void {
    if (this.waker !== undefined) this.waker()
  }

  read(): Uint8Array | undefined {
    const chunk: Buffer | null = this.socket.read()
    return chunk === null ? undefined : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  }

  isEnded(): boolean {
    // Node emits 'end' a tick after the last read; its state knows the EOF already.
    return this.ended ||
      (this.socket.readableLength === 0 &&
        (this.socket as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true)
  }

  failure(): TransportFailure | undefined {
    return this.failed
  }

  pendingBytes(): number {
    return this.socket.readableLength
  }

  setWaker(waker: (() => void) | undefined): void {
    this.waker = waker
  }

  /** A write on a socket Node destroyed after an error reports ERR_STREAM_DESTROYED: the cause
   * the caller wants is the error that destroyed it (e.g. ECONNRESET). */
  private writeFailure(error: Error): TransportFailure {
    return this.failed ?? errors.failure(error)
  }

  write(bytes: Uint8Array, listener: WriteListener): boolean {
    const socket = this.socket
    if (bytes.length <= PIECE) {
      // No callback: a write with one costs Node a tick per write even when the kernel takes the
      // bytes at once, which Node reports by leaving nothing in writableLength.
      socket.write(bytes)
      if (socket.writableLength === 0 && !socket.destroyed && this.failed === undefined) return true
      // Not taken whole (or failed): an empty write queued behind the bytes completes after them,
      // in order, with their error if they fail.
      socket.write(EMPTY, (error) => listener.done(error ? this.writeFailure(error) : undefined))
      return false
    }
    let offset = 0
    const next = (): void => {
      const piece = bytes.subarray(offset, offset + PIECE)
      offset += piece.length
      socket.write(piece, (error) => {
        if (error) return listener.done(this.writeFailure(error))
        if (offset >= bytes.length) return listener.done(undefined)
        listener.progress()
        next()
      })
    }
    next()
    return false
  }

  shutdown(): void {
    this.socket.end()
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy()
  }

  isDestroyed(): boolean {
    return this.socket.destroyed
  }

  setNoDelay(enabled: boolean): void {
    this.socket.setNoDelay(enabled)
  }

  setKeepAlive(enabled: boolean, initialDelayMillis: number): void {
    this.socket.setKeepAlive(enabled, initialDelayMillis)
  }

  localAddress(): { readonly address: string; readonly port: number } | undefined {
    const a = this.socket.localAddress
    return a === undefined ? undefined : { address: a, port: this.socket.localPort ?? 0 }
  }

  remoteAddress(): { readonly address: string; readonly port: number } | undefined {
    const a = this.socket.remoteAddress
    return a === undefined ? undefined : { address: a, port: this.socket.remotePort ?? 0 }
  }
}

export const fromSocket = (socket: Net.Socket, tls?: TlsState): StreamTransport => new NodeStreamTransport(socket, tls)

/** The Node socket behind a transport made here (for the TLS upgrade). */
export const socketOf = (transport: StreamTransport): Net.Socket | undefined =>
  transport instanceof NodeStreamTransport ? transport.socket : undefined

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

/**
 * The caller's name resolution as node:net calls it: a throw from it (node:net may call it inside
 * its own callbacks, out of every Effect's reach) becomes a failed lookup.
 */
const guardedLookup = (lookup: Net.LookupFunction): Net.LookupFunction => (hostname, options, callback) => {
  let called = false
  const once: typeof callback = (...args) => {
    if (called) return
    called = true
    callback(...args)
  }
  try {
    lookup(hostname, options, once)
  } catch (error) {
    once(error as NodeJS.ErrnoException, "", 0)
  }
}

/**
 * The `lookup` of `NodeCosocket.tcpConnectorWith`'s options, read once. When reading it throws,
 * or it is not a function, every connect fails with that problem as a `ConnectError` (the layer
 * itself cannot fail).
 */
export const lookupOption = (options: unknown): Net.LookupFunction | undefined => {
  let lookup: unknown
  try {
    lookup = (options as { readonly lookup?: unknown } | undefined)?.lookup
  } catch (error) {
    return failingLookup(error)
  }
  if (lookup === undefined || typeof lookup === "function") return lookup as Net.LookupFunction | undefined
  return failingLookup(new TypeError(`the "lookup" option must be a function, got ${typeof lookup}`))
}

const failingLookup = (error: unknown): Net.LookupFunction => (_hostname, _options, callback) =>
  callback(error as NodeJS.ErrnoException, "", 0)

/** Connects; interruption destroys the half-open socket. */
export const connect = (
  target: StreamTarget,
  options: StreamConnectOptions,
  lookup?: Net.LookupFunction
): Effect.Effect<StreamTransport, ConnectError> =>
  Effect.callback<StreamTransport, ConnectError>((resume) => {
    let socket: Net.Socket
    try {
      // node:net throws synchronously for arguments it refuses.
      socket = target._tag === "Unix"
        ? Net.createConnection({ path: target.path, allowHalfOpen: true })
        : Net.createConnection({
          host: target.host,
          port: target.port,
          allowHalfOpen: true,
          noDelay: options.noDelay,
          ...(lookup !== undefined ? { lookup: guardedLookup(lookup) } : {}),
          ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {})
        })
    } catch (error) {
      resume(Effect.fail(connectError(target, error)))
      return
    }
    const onError = (error: Error) => {
      socket.destroy()
      resume(Effect.fail(connectError(target, error)))
    }
    socket.once("error", onError)
    const onLookup = options.onLookup
    if (onLookup !== undefined) {
      socket.once("lookup", (error: Error | null, address: string | undefined) => onLookup(error, address))
    }
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
