/**
 * One established TCP connection as the engine holds it: the transport, the bytes received and
 * not yet consumed, how the stream ended, and one state. A socket object goes through many
 * connections (every `connect` makes a new one).
 *
 * While it holds the transport, the connection is the only owner of the transport's waker: the
 * read waiting on it, if any, is the waker (set and cleared through `waitRead`). When the
 * connection goes back to the pool the pool installs its own idle watcher.
 *
 * @internal
 */
import type * as Pool from "../../ConnectionPool.js"
import type { DirtyReason } from "../../CosocketError.js"
import type { StreamTransport, TransportFailure, WriteListener } from "../../Transport.js"
import { ByteBuffer } from "../byteBuffer.js"
import type * as needs from "../needs.js"

/**
 * - `open`: both halves usable.
 * - `readClosed`: the read half ended (end of stream, a read error); sends go on.
 * - `writeClosed`: the write half ended (`shutdown`, a failed or timed-out send); reads go on.
 * - `closed`: the transport is destroyed and the pool slot released.
 * - `handedOver`: the transport went back into the pool or into a TLS upgrade; this object no
 *   longer owns it.
 */
export type ConnectionState = "open" | "readClosed" | "writeClosed" | "closed" | "handedOver"

export class Connection implements WriteListener {
  readonly buffer = new ByteBuffer()
  /**
   * Whether the latest transport write completed, and how: the transport reports here, a waiting
   * send reads it. A send is the only write in flight (a second send is busy while one waits; one
   * taken synchronously leaves nothing behind), so every write resets it.
   */
  writeSettled = false
  writeFailure: TransportFailure | undefined = undefined
  state: ConnectionState = "open"
  /** Whether the stream can still bring bytes (the transport's end, as far as reads have seen it). */
  end: needs.StreamEnd = "open"
  /** The transport's failure once reads have seen it. */
  failure: TransportFailure | undefined = undefined
  /** Why the connection may not go back into the pool without `force`. */
  dirty: DirtyReason | undefined = undefined
  private readWaker: (() => void) | undefined = undefined
  private writeWaker: (() => void) | undefined = undefined

  constructor(
    readonly transport: StreamTransport,
    readonly lease: Pool.Lease,
    readonly reusedTimes: number
  ) {}

  get canRead(): boolean {
    return this.state === "open" || this.state === "writeClosed"
  }

  get canWrite(): boolean {
    return this.state === "open" || this.state === "readClosed"
  }

  /** Destroyed or handed over: nothing may use it any more. */
  get isGone(): boolean {
    return this.state === "closed" || this.state === "handedOver"
  }

  /** The read waiting for the transport (`undefined`: none): woken by the transport and by a close. */
  waitRead(waker: (() => void) | undefined): void {
    if (this.readWaker === waker) return
    this.readWaker = waker
    this.transport.setWaker(waker)
  }

  /** The send waiting for its completion (`undefined`: none). */
  waitWrite(waker: (() => void) | undefined): void {
    this.writeWaker = waker
  }

  /** Starts a transport write reporting here; `true`: the transport took every byte at once. */
  startWrite(bytes: Uint8Array): boolean {
    this.writeSettled = false
    this.writeFailure = undefined
    return this.transport.write(bytes, this)
  }

  /** The transport's report: the write made progress. */
  progress(): void {
    this.wakeWrite()
  }

  /** The transport's report: the write completed (`failure`: how it failed). */
  done(failure: TransportFailure | undefined): void {
    this.writeSettled = true
    this.writeFailure = failure
    this.wakeWrite()
  }

  /** Wakes the send waiting on this connection, if any. */
  private wakeWrite(): void {
    const waker = this.writeWaker
    if (waker !== undefined) waker()
  }

  /** Moves everything the platform has into the buffer and notes the end of the stream. */
  pull(): void {
    const t = this.transport
    for (;;) {
      const chunk = t.read()
      if (chunk === undefined) break
      this.buffer.append(chunk)
    }
    if (this.end === "open") {
      const failure = t.failure()
      if (failure !== undefined) {
        this.failure = failure
        this.end = "error"
      } else if (t.isEnded()) {
        this.end = "eof"
      } else if (t.isDestroyed()) {
        this.end = "error"
      }
    }
  }

  /** Whether the transport has something a waiting read must look at now. */
  get transportReady(): boolean {
    const t = this.transport
    return t.pendingBytes() > 0 || t.isEnded() || t.failure() !== undefined || t.isDestroyed()
  }

  /** Closes both halves, frees the platform socket and the pool slot, and wakes the waiters. */
  destroy(): void {
    if (this.isGone) return
    this.state = "closed"
    this.transport.setWaker(undefined)
    this.transport.destroy()
    this.lease.release()
    this.wakeAll()
  }

  /** Closes one half after an error on it or a shutdown; both closed means the connection is gone. */
  closeHalf(half: "read" | "write"): void {
    if (half === "read") {
      this.buffer.clear()
      if (this.state === "open") this.state = "readClosed"
      else if (this.state === "writeClosed") this.destroy()
    } else {
      if (this.state === "open") this.state = "writeClosed"
      else if (this.state === "readClosed") this.destroy()
    }
  }

  /**
   * Lets go of the transport without closing it (it goes back into the pool, or a TLS upgrade
   * wraps it): the connection is gone, the transport is the new owner's.
   */
  handOver(): StreamTransport {
    this.state = "handedOver"
    this.transport.setWaker(undefined)
    this.wakeAll()
    return this.transport
  }

  private wakeAll(): void {
    const r = this.readWaker
    const w = this.writeWaker
    this.readWaker = undefined
    this.writeWaker = undefined
    if (r !== undefined) r()
    if (w !== undefined) w()
  }
}
