/**
 * One connection the scripted peer accepted: every byte it received (kept whole, for
 * `ScriptedPeer.received`), how far the script has read, whether the client ended or the socket
 * closed or failed, and a way to wait until any of that changes.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Net from "node:net"
import type { ScriptError } from "./scriptError.js"

/** A step's outcome once it has one; `undefined` while it must wait for more. */
export type Poll = Effect.Effect<void, ScriptError> | undefined

export class AcceptedConnection {
  /** Everything received so far is `buffer[0, length)`; read steps have consumed `[0, cursor)`. */
  private buffer = new Uint8Array(1024)
  private length = 0
  private cursor = 0
  /** The client sent FIN. */
  ended = false
  /** The TCP (or unix) socket is still open: counts in `ScriptedPeer.open`. */
  tcpOpen = true
  /** The TCP socket or the socket the script talks through closed. */
  closed = false
  /** The first socket error (or failed TLS handshake). */
  failure: Error | undefined = undefined
  /**
   * The socket the script reads and writes: `tcp` itself, or the TLS socket over it once the
   * handshake completed (`undefined` until then).
   */
  socket: Net.Socket | undefined = undefined
  /** The script's outcome. */
  readonly done = Deferred.makeUnsafe<void, ScriptError>()
  /** Resolves once the TCP socket closed. */
  readonly whenClosed: Promise<void>
  readonly remoteAddress: string
  readonly remotePort: number
  private readonly listeners = new Set<() => void>()

  constructor(readonly index: number, readonly tcp: Net.Socket) {
    this.remoteAddress = tcp.remoteAddress ?? ""
    this.remotePort = tcp.remotePort ?? 0
    this.whenClosed = new Promise((resolve) => tcp.once("close", () => resolve()))
    tcp.once("close", () => {
      this.tcpOpen = false
      this.closed = true
      this.notify()
    })
  }

  /** Starts reading from the socket the script talks through. */
  attach(socket: Net.Socket): void {
    this.socket = socket
    socket.on("data", (chunk: Uint8Array) => this.append(chunk))
    socket.on("end", () => {
      this.ended = true
      this.notify()
    })
    socket.on("error", (error) => {
      this.failure ??= error
      this.notify()
    })
    socket.on("close", () => {
      this.closed = true
      this.notify()
    })
  }

  /** A copy of every byte received so far. */
  received(): Uint8Array {
    return this.buffer.slice(0, this.length)
  }

  /** Received bytes no read step has consumed yet (a view). */
  unread(): Uint8Array {
    return this.buffer.subarray(this.cursor, this.length)
  }

  /** A read step took the next `count` unread bytes. */
  consume(count: number): void {
    this.cursor += count
  }

  /** A read step took every byte received so far. */
  consumeAll(): void {
    this.cursor = this.length
  }

  /** No more bytes will come: the client ended, or the socket closed or failed. */
  isGone(): boolean {
    return this.ended || this.closed || this.failure !== undefined
  }

  /** Waits until `poll` gives an outcome, polling again whenever the connection changes. */
  waitFor(poll: () => Poll): Effect.Effect<void, ScriptError> {
    return Effect.suspend(() => {
      const now = poll()
      if (now !== undefined) {
        return now
      }
      return Effect.flatten(Effect.callback<Effect.Effect<void, ScriptError>>((resume) => {
        const listener = () => {
          const outcome = poll()
          if (outcome !== undefined) {
            this.listeners.delete(listener)
            resume(Effect.succeed(outcome))
          }
        }
        this.listeners.add(listener)
        return Effect.sync(() => {
          this.listeners.delete(listener)
        })
      }))
    })
  }

  destroy(): void {
    this.socket?.destroy()
    this.tcp.destroy()
  }

  private append(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.buffer.length) {
      let capacity = this.buffer.length * 2
      while (capacity < this.length + chunk.length) {
        capacity *= 2
      }
      const next = new Uint8Array(capacity)
      next.set(this.buffer.subarray(0, this.length))
      this.buffer = next
    }
    this.buffer.set(chunk, this.length)
    this.length += chunk.length
    this.notify()
  }

  private notify(): void {
    for (const listener of Array.from(this.listeners)) {
      listener()
    }
  }
}
