/**
 * Diagnostic, not a competitor: the least a pull-based Effect client does. Sockets in flowing
 * mode frame units (replies, lines, records, parts) on 'data' into a queue, with the raw client's
 * framers; the client takes one Effect per unit, `Effect.succeed` when the unit is already queued
 * and `Effect.callback` otherwise. A request/response exchange adds one `Effect.sync` write. No pool,
 * no timeouts, no busy checks, no byte buffer: what remains between this and raw node:net is the
 * Effect runtime itself (fibers, the run loop, the scheduler's hops).
 */
import * as Effect from "effect/Effect"
import type * as Net from "node:net"
import type { TcpSocket } from "../../src/index.js"
import { type RespFramer, type Sample, timedRequests } from "../lib/index.js"
import { VARIANT } from "../lib/names.js"
import { connectAll, type Framer, type RequestResponse, type Streaming } from "./raw.js"

export const NAME = VARIANT.bareEffect

export const API_FLOOR = VARIANT.apiFloor

const connectionClosed = Effect.die(new Error("connection closed"))

/** Framed units queued as they arrive; the socket is paused while `highWater` units wait. */
class PullClient<U> {
  private readonly queued: Array<U> = []
  private head = 0
  private waiting: ((effect: Effect.Effect<U>) => void) | undefined = undefined
  private closed = false

  constructor(
    private readonly socket: Net.Socket,
    framer: (onUnit: (unit: U) => void) => Framer,
    private readonly highWater = Infinity
  ) {
    const frames = framer((unit) => {
      const onUnit = this.waitingUnit
      if (onUnit !== undefined) {
        this.waitingUnit = undefined
        return onUnit(unit)
      }
      const resume = this.waiting
      if (resume === undefined) return void this.queued.push(unit)
      this.waiting = undefined
      resume(Effect.succeed(unit))
    })
    socket.on("data", (chunk: Buffer) => {
      frames.push(chunk)
      if (this.queued.length - this.head >= this.highWater) socket.pause()
    })
    // As raw's loop rejects: a server that goes away fails the measurement instead of hanging it.
    socket.once("close", () => {
      this.closed = true
      const onUnit = this.waitingUnit
      this.waitingUnit = undefined
      onUnit?.(undefined)
      const resume = this.waiting
      this.waiting = undefined
      resume?.(connectionClosed)
    })
  }

  private take(): U {
    const unit = this.queued[this.head++]
    if (this.head === this.queued.length) {
      this.queued.length = 0
      this.head = 0
    }
    return unit
  }

  readonly next: Effect.Effect<U> = Effect.suspend((): Effect.Effect<U> => {
    if (this.head < this.queued.length) return Effect.succeed(this.take())
    if (this.closed) return connectionClosed
    if (this.socket.isPaused()) this.socket.resume()
    return Effect.callback<U>((resume) => {
      this.waiting = resume
    })
  })

  /** A waiting `nextUnit`: gets the next unit, or `undefined` when the connection closed. */
  private waitingUnit: ((unit: U | undefined) => void) | undefined = undefined

  private readonly stopWaitingUnit = Effect.sync(() => {
    this.waitingUnit = undefined
  })

  /**
   * For a callback's registration: hands the next unit to `onUnit` (at once when one is queued;
   * `undefined` when the connection closed), or returns the canceller of the wait.
   */
  nextUnit(onUnit: (unit: U | undefined) => void): Effect.Effect<void> | undefined {
    if (this.head < this.queued.length) return void onUnit(this.take())
    if (this.closed) return void onUnit(undefined)
    if (this.socket.isPaused()) this.socket.resume()
    this.waitingUnit = onUnit
    return this.stopWaitingUnit
  }
}

/**
 * The stand-in socket's reads over framed replies: `receive()` is the reply's next line without
 * its CRLF, `receive(n)` its next n bytes; each is one callback step, with a canceller when it
 * waits, as an interruptible read must be.
 */
class ReplyReads {
  private unit: Buffer | undefined = undefined
  private offset = 0

  constructor(private readonly client: PullClient<Buffer>) {}

  private take(count: number | undefined): Uint8Array {
    const unit = this.unit!
    const start = this.offset
    let end: number
    if (count === undefined) {
      // The replies come whole (`RespFramer` with `whole`): a line ends in CRLF.
      const lf = unit.indexOf(10, start)
      end = lf - 1
      this.offset = lf + 1
    } else {
      end = start + count
      this.offset = end
    }
    if (this.offset >= unit.length) this.unit = undefined
    return unit.subarray(start, end)
  }

  read(count?: number): Effect.Effect<Uint8Array> {
    return Effect.callback<Uint8Array>((resume) => {
      if (this.unit !== undefined) return resume(Effect.succeed(this.take(count)))
      return this.client.nextUnit((unit) => {
        if (unit === undefined) return resume(connectionClosed)
        this.unit = unit
        this.offset = 0
        resume(Effect.succeed(this.take(count)))
      })
    })
  }

  /** `receive()`, made once (ours builds its line read once per socket). */
  readonly line = this.read()
}

/** The raw client's closed loop (raw.requestResponse), with every step an Effect. */
export const requestResponse = (shape: RequestResponse, durationMs: number): Effect.Effect<Sample, unknown> =>
  Effect.acquireUseRelease(
    Effect.promise(() => connectAll(shape.host, shape.port, shape.connections)),
    (sockets) =>
      Effect.gen(function*() {
        const requests = sockets.map((socket) => {
          const client = new PullClient(socket, shape.framer)
          const send = Effect.sync(() => socket.write(shape.request))
          return Effect.gen(function*() {
            yield* send
            for (let i = 0; i < shape.unitsPerResponse; i++) yield* client.next
          })
        })
        if (shape.hello !== undefined) { for (const socket of sockets) socket.write(shape.hello) }
        // Untimed: one exchange per connection, so every connection is warm.
        yield* Effect.forEach(requests, (request) => request, { concurrency: "unbounded", discard: true })
        return yield* timedRequests(requests, shape, durationMs)
      }),
    (sockets) => Effect.sync(() => sockets.forEach((socket) => socket.destroy()))
  )

/**
 * Diagnostic: the least any engine behind `withConnection`'s API can cost. The bare client's
 * sockets and framing, with the run-loop steps the API takes per request and nothing else: the
 * public `withFiber` (the services), a socket object, the exit frame and the `suspend` inside it
 * (where the check-out goes), the caller's exchange (the same one ours runs), a send as a
 * `suspend` and its result, a read as one callback with a canceller. No pool, no buffer, no
 * timeout, no busy check: the gap between this and ours is the engine; the gap between this and
 * ioredis is what no engine behind this API can close. Only `send`, `receive()` and
 * `receive(n)` exist on the stand-in socket, reading within one framed reply at a time.
 */
export const withConnectionSteps = (
  shape: RequestResponse & { readonly framer: (onReply: (reply: Buffer) => void) => RespFramer },
  exchange: (socket: TcpSocket.TcpSocket) => Effect.Effect<void, unknown>,
  durationMs: number
): Effect.Effect<Sample, unknown> =>
  Effect.acquireUseRelease(
    Effect.promise(() => connectAll(shape.host, shape.port, shape.connections)),
    (sockets) =>
      Effect.gen(function*() {
        const requests = sockets.map((socket) => {
          const reads = new ReplyReads(new PullClient(socket, shape.framer))
          const send = (data: Uint8Array) =>
            Effect.suspend(() => {
              socket.write(data)
              return Effect.succeed(data.length)
            })
          const receive = (count?: number) => count === undefined ? reads.line : reads.read(count)
          return Effect.withFiber(() => {
            // Structurally the part of a TcpSocket the exchange uses.
            const standIn = { send, receive } as unknown as TcpSocket.TcpSocket
            return Effect.onExitPrimitive(Effect.suspend(() => exchange(standIn)), () => undefined)
          })
        })
        yield* Effect.forEach(requests, (request) => request, { concurrency: "unbounded", discard: true })
        return yield* timedRequests(requests, shape, durationMs)
      }),
    (sockets) => Effect.sync(() => sockets.forEach((socket) => socket.destroy()))
  )

/** raw.streaming's loop, one Effect per unit; `highWater`: units queued before the socket pauses. */
export const streaming = (
  shape: Streaming & { readonly checkEvery: number; readonly highWater: number },
  durationMs: number
): Effect.Effect<Sample, unknown> =>
  Effect.acquireUseRelease(
    Effect.promise(() => connectAll(shape.host, shape.port, 1)),
    ([socket]) =>
      Effect.gen(function*() {
        const client = new PullClient(socket, shape.framer, shape.highWater)
        const start = performance.now()
        socket.write(shape.hello)
        const deadline = start + durationMs
        let units = 0
        let now = start
        for (;;) {
          yield* client.next
          if (++units % shape.checkEvery === 0 && (now = performance.now()) >= deadline) break
        }
        const perSecond = (units / (now - start)) * 1000
        return { value: shape.bytesPerUnit > 0 ? (perSecond * shape.bytesPerUnit) / 1e6 : perSecond }
      }),
    (sockets) => Effect.sync(() => sockets.forEach((socket) => socket.destroy()))
  )
