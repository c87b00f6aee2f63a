/**
 * An in-memory `StreamConnector` for engine and pool tests under `TestClock`: every connect
 * creates a `MemoryPeer`, the far end of one connection, which the test drives by hand (send
 * bytes, FIN, an error) and observes (bytes written, FIN, destroy). Nothing here touches the
 * network or real timers; connect delays run on Effect's Clock.
 *
 * Semantics follow the Node transport: the stream is pull-based (`read` takes what the peer sent),
 * `isEnded` turns true once the peer's FIN was reached by `read`, the waker is called
 * (synchronously) on data, FIN, an error and destroy, writes may complete at once or be held.
 *
 * Usage:
 *
 * ```ts
 * const net = MemoryTransport.make()
 * const program = Effect.gen(function*() {
 *   const socket = yield* TcpSocket.connect("10.0.0.1", 6379)
 *   const peer = net.lastPeer()
 *   yield* socket.send("PING\r\n")
 *   expect(peer.takeText()).toBe("PING\r\n")
 *   peer.send("+PONG\r\n")
 *   expect(TcpSocket.text(yield* socket.receive())).toBe("+PONG")
 * }).pipe(Effect.scoped, Effect.provide(Layer.merge(net.layer, ConnectionPool.layer())))
 * ```
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ConnectionPool from "../../src/ConnectionPool.js"
import * as CosocketConfig from "../../src/CosocketConfig.js"
import { ConnectError } from "../../src/CosocketError.js"
import { concat } from "../../src/internal/sendable.js"
import {
  type StreamConnector,
  type StreamTarget,
  type StreamTransport,
  TcpConnector,
  type TransportFailure,
  type WriteListener
} from "../../src/Transport.js"

const encoder = new TextEncoder()
const toBytes = (data: string | Uint8Array): Uint8Array => typeof data === "string" ? encoder.encode(data) : data
const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("latin1")

/** What happens to one connect attempt. */
export type ConnectOutcome =
  | { readonly _tag: "Accept"; readonly delay?: Duration.Input | undefined }
  | { readonly _tag: "Refuse"; readonly code?: string | undefined; readonly reason?: string | undefined }
  | { readonly _tag: "Hang" }

export const accept: ConnectOutcome = { _tag: "Accept" }
export const refuse: ConnectOutcome = { _tag: "Refuse" }
export const hang: ConnectOutcome = { _tag: "Hang" }
export const acceptAfter = (delay: Duration.Input): ConnectOutcome => ({ _tag: "Accept", delay })

/** How a peer completes the client's writes. */
export type WriteMode =
  /** Every write is taken at once (`write` returns true). */
  | "immediate"
  /** Writes are queued until `completeWrites` (they report completion then). */
  | "held"

/** The far end of one in-memory connection. */
export interface MemoryPeer {
  /** 0-based, in connect order; also the transport's local "port". */
  readonly id: number
  readonly target: StreamTarget
  /** The client's end (what the connector returned). */
  readonly transport: StreamTransport
  /** The peer sends bytes to the client. Ignored after FIN, an error or destroy. */
  send(data: string | Uint8Array): void
  /** The peer sends FIN (the client reads EOF after the bytes already sent). */
  fin(): void
  /** The connection breaks (default: a reset); the client sees the failure, the transport is destroyed. */
  fail(code?: string, reason?: string): void
  /** Every byte the client wrote (and that completed), in order. */
  written(): Uint8Array
  writtenText(): string
  /** The bytes written since the last take (and forgets them). */
  take(): Uint8Array
  takeText(): string
  /** Called with each completed client write. */
  onWrite(listener: (bytes: Uint8Array, peer: MemoryPeer) => void): void
  /** Bytes the peer sent that the client has not taken with `read` yet. */
  pending(): number
  /** The client sent FIN (`shutdown`). */
  readonly clientFin: boolean
  /** The client destroyed its end. */
  readonly destroyedByClient: boolean
  /** Neither side destroyed nor broke the connection. */
  readonly isOpen: boolean
  /** How writes complete (default "immediate"). */
  setWriteMode(mode: WriteMode): void
  /** Completes held writes (all of them, or up to `maxBytes`; a partly taken write reports progress). */
  completeWrites(maxBytes?: number): void
  /** Fails every held write and later ones with this failure (e.g. EPIPE). */
  failWrites(code?: string, reason?: string): void
  /** Writes waiting under "held". */
  heldWrites(): number
}

export interface MemoryNetworkOptions {
  /** Decides each connect attempt (default: accept at once). */
  readonly onConnect?: ((target: StreamTarget, attempt: number) => ConnectOutcome) | undefined
  /** Called for each accepted connection before the client gets it (e.g. to install `onWrite`). */
  readonly onAccept?: ((peer: MemoryPeer) => void) | undefined
  /** Largest chunk one `read` returns (default: everything pending). */
  readonly readChunk?: number | undefined
}

export interface MemoryNetwork {
  readonly connector: StreamConnector
  /** `TcpConnector` backed by this network. */
  readonly layer: Layer.Layer<TcpConnector>
  /** Every accepted connection, in order. */
  readonly peers: ReadonlyArray<MemoryPeer>
  /** Connect attempts so far (accepted, refused, hanging). */
  readonly attempts: () => number
  /** The most recently accepted connection. */
  readonly lastPeer: () => MemoryPeer
  /** The peer behind a transport made here. */
  readonly peerOf: (transport: StreamTransport) => MemoryPeer | undefined
  /** Connections still open. */
  readonly openCount: () => number
  /** Replaces the connect policy. */
  readonly setOnConnect: (f: (target: StreamTarget, attempt: number) => ConnectOutcome) => void
  /** Replaces the accept hook. */
  readonly setOnAccept: (f: ((peer: MemoryPeer) => void) | undefined) => void
}

interface HeldWrite {
  bytes: Uint8Array
  offset: number
  listener: WriteListener
}

class Peer implements MemoryPeer {
  readonly transport: StreamTransport
  private inbound: Array<Uint8Array> = []
  private inboundBytes = 0
  private peerFin = false
  private failed: TransportFailure | undefined = undefined
  private destroyed = false
  private waker: (() => void) | undefined = undefined
  private all: Array<Uint8Array> = []
  private fresh: Array<Uint8Array> = []
  private listeners: Array<(bytes: Uint8Array, peer: MemoryPeer) => void> = []
  private mode: WriteMode = "immediate"
  private held: Array<HeldWrite> = []
  private writeFailure: TransportFailure | undefined = undefined
  clientFin = false
  destroyedByClient = false

  constructor(readonly id: number, readonly target: StreamTarget, readChunk: number | undefined) {
    const remote = target._tag === "Unix"
      ? { address: target.path, port: 0 }
      : { address: target.host, port: target.port }
    this.transport = {
      read: () => {
        if (this.inbound.length === 0) return undefined
        let out: Uint8Array
        if (readChunk === undefined) {
          out = concat(this.inbound)
          this.inbound = []
        } else {
          const first = this.inbound[0]
          out = first.subarray(0, readChunk)
          if (out.length === first.length) this.inbound.shift()
          else this.inbound[0] = first.subarray(out.length)
        }
        this.inboundBytes -= out.length
        return out
      },
      isEnded: () => this.peerFin && this.inboundBytes === 0,
      failure: () => this.failed,
      pendingBytes: () => this.inboundBytes,
      setWaker: (w) => {
        this.waker = w
      },
      write: (bytes, listener) => this.clientWrite(bytes, listener),
      shutdown: () => {
        this.clientFin = true
      },
      destroy: () => {
        if (this.destroyed) return
        this.destroyed = true
        this.destroyedByClient = true
        this.inbound = []
        this.inboundBytes = 0
        this.dropHeld({ code: "ERR_STREAM_DESTROYED", reason: "closed" })
        this.wake()
      },
      isDestroyed: () => this.destroyed,
      setNoDelay: () => {},
      setKeepAlive: () => {},
      localAddress: () => ({ address: "memory", port: this.id }),
      remoteAddress: () => remote
    }
  }

  get isOpen(): boolean {
    return !this.destroyed
  }

  private wake(): void {
    const w = this.waker
    if (w !== undefined) w()
  }

  private deliver(bytes: Uint8Array): void {
    if (bytes.length === 0) return
    const copy = bytes.slice()
    this.all.push(copy)
    this.fresh.push(copy)
    for (const l of this.listeners) l(copy, this)
  }

  private clientWrite(bytes: Uint8Array, listener: WriteListener): boolean {
    if (this.destroyed || this.writeFailure !== undefined) {
      const failure = this.writeFailure ?? this.failed ?? { code: "EPIPE", reason: "broken pipe" }
      queueMicrotask(() => listener.done(failure))
      return false
    }
    if (this.mode === "immediate") {
      this.deliver(bytes)
      return true
    }
    this.held.push({ bytes: bytes.slice(), offset: 0, listener })
    return false
  }

  private dropHeld(failure: TransportFailure): void {
    const held = this.held
    this.held = []
    for (const w of held) queueMicrotask(() => w.listener.done(failure))
  }

  send(data: string | Uint8Array): void {
    if (this.destroyed || this.peerFin || this.failed !== undefined) return
    const bytes = toBytes(data)
    if (bytes.length === 0) return
    this.inbound.push(bytes.slice())
    this.inboundBytes += bytes.length
    this.wake()
  }

  fin(): void {
    if (this.destroyed || this.peerFin) return
    this.peerFin = true
    this.wake()
  }

  fail(code = "ECONNRESET", reason = "connection reset by peer"): void {
    if (this.destroyed) return
    this.failed = { code, reason }
    this.destroyed = true
    this.inbound = []
    this.inboundBytes = 0
    this.dropHeld(this.failed)
    this.wake()
  }

  written(): Uint8Array {
    return concat(this.all.length === 0 ? [new Uint8Array(0)] : this.all)
  }

  writtenText(): string {
    return latin1(this.written())
  }

  take(): Uint8Array {
    const out = this.fresh.length === 0 ? new Uint8Array(0) : concat(this.fresh)
    this.fresh = []
    return out
  }

  takeText(): string {
    return latin1(this.take())
  }

  onWrite(listener: (bytes: Uint8Array, peer: MemoryPeer) => void): void {
    this.listeners.push(listener)
  }

  pending(): number {
    return this.inboundBytes
  }

  setWriteMode(mode: WriteMode): void {
    this.mode = mode
    if (mode === "immediate") this.completeWrites()
  }

  completeWrites(maxBytes = Infinity): void {
    let budget = maxBytes
    while (this.held.length > 0 && budget > 0) {
      const w = this.held[0]
      const n = Math.min(budget, w.bytes.length - w.offset)
      this.deliver(w.bytes.subarray(w.offset, w.offset + n))
      w.offset += n
      budget -= n
      if (w.offset === w.bytes.length) {
        this.held.shift()
        w.listener.done(undefined)
      } else {
        w.listener.progress()
      }
    }
  }

  failWrites(code = "EPIPE", reason = "broken pipe"): void {
    this.writeFailure = { code, reason }
    this.dropHeld(this.writeFailure)
  }

  heldWrites(): number {
    return this.held.length
  }
}

const describe = (target: StreamTarget): string =>
  target._tag === "Unix" ? `unix:${target.path}` : `${target.host}:${target.port}`

/** A fresh in-memory network. */
export const make = (options: MemoryNetworkOptions = {}): MemoryNetwork => {
  const peers: Array<Peer> = []
  const byTransport = new WeakMap<StreamTransport, Peer>()
  let attempts = 0
  let onConnect = options.onConnect ?? (() => accept)
  let onAccept = options.onAccept

  const open = (target: StreamTarget): StreamTransport => {
    const peer = new Peer(peers.length, target, options.readChunk)
    peers.push(peer)
    byTransport.set(peer.transport, peer)
    onAccept?.(peer)
    return peer.transport
  }

  const connector: StreamConnector = {
    connect: (target) =>
      Effect.suspend((): Effect.Effect<StreamTransport, ConnectError> => {
        const outcome = onConnect(target, attempts++)
        switch (outcome._tag) {
          case "Accept":
            return outcome.delay === undefined
              ? Effect.sync(() => open(target))
              : Effect.andThen(Effect.sleep(outcome.delay), Effect.sync(() => open(target)))
          case "Refuse":
            return Effect.fail(
              new ConnectError({
                code: outcome.code ?? "ECONNREFUSED",
                reason: outcome.reason ?? "connection refused",
                address: describe(target)
              })
            )
          case "Hang":
            return Effect.never
        }
      })
  }

  return {
    connector,
    layer: Layer.succeed(TcpConnector, connector),
    peers,
    attempts: () => attempts,
    lastPeer: () => {
      const p = peers[peers.length - 1]
      if (p === undefined) throw new Error("MemoryTransport: no connection yet")
      return p
    },
    peerOf: (transport) => byTransport.get(transport),
    openCount: () => {
      let n = 0
      for (const p of peers) if (p.isOpen) n++
      return n
    },
    setOnConnect: (f) => {
      onConnect = f
    },
    setOnAccept: (f) => {
      onAccept = f
    }
  }
}

/**
 * A fresh in-memory network with its own pool and the given config: `provide` runs a scoped
 * program against it.
 */
export const harness = (config: CosocketConfig.Options = {}) => {
  const net = make()
  const layer = Layer.provideMerge(
    Layer.merge(net.layer, ConnectionPool.layer()),
    CosocketConfig.layer(config)
  ).pipe(Layer.orDie)
  return { net, provide: <A, E, R>(self: Effect.Effect<A, E, R>) => self.pipe(Effect.scoped, Effect.provide(layer)) }
}
