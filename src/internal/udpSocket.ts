/**
 * The UDP cosocket engine (`ngx.socket.udp`): one connected datagram endpoint per `setPeername`, a
 * bounded queue of what it received (datagrams and receive errors, in arrival order), and the
 * single busy flag of OpenResty's UDP sockets. A receive returns synchronously when the queue has
 * an entry, else waits for the endpoint's waker with an inactivity timer on Effect's clock.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as CosocketConfig from "../CosocketConfig.js"
import {
  ConnectError,
  DatagramTooLarge,
  type InvalidArgument,
  type Operation,
  SocketBusy,
  SocketClosed,
  SocketIoError,
  SocketReadTimeout,
  SocketTimeout
} from "../CosocketError.js"
import type { AddressInfo, DatagramConnector, DatagramTransport, TransportFailure } from "../Transport.js"
import type * as Api from "../UdpSocket.js"
import { encode } from "./sendable.js"
import * as target from "./target.js"
import * as timer from "./timer.js"
import * as validate from "./validate.js"

/** OpenResty's `UDP_MAX_DATAGRAM_SIZE`: the default and the cap of `receive(size)`. */
export const MAX_DATAGRAM_SIZE = 65536

const EMPTY = new Uint8Array(0)

/** Error codes that report an ICMP error from the peer's side: the socket stays usable. */
const unreachable: ReadonlySet<string> = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN"])

/** A receive-side error waiting in the queue behind the datagrams that arrived before it. */
class QueuedFailure {
  constructor(readonly failure: TransportFailure) {}
}

type Entry = Uint8Array | QueuedFailure

/** A ring buffer of at most `capacity` entries. */
class EntryQueue {
  private readonly items: Array<Entry | undefined>
  private head = 0
  size = 0

  constructor(readonly capacity: number) {
    this.items = new Array(capacity)
  }

  offer(entry: Entry): boolean {
    if (this.size >= this.capacity) return false
    this.items[(this.head + this.size) % this.capacity] = entry
    this.size++
    return true
  }

  poll(): Entry | undefined {
    if (this.size === 0) return undefined
    const entry = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.capacity
    this.size--
    return entry
  }

  clear(): void {
    this.items.fill(undefined)
    this.head = 0
    this.size = 0
  }
}

/** One connected endpoint (one `setPeername`). */
export class Endpoint {
  transport: DatagramTransport | undefined = undefined
  closed = false
  readonly queue: EntryQueue
  /** Wakes the fiber waiting in `receive`. */
  waker: (() => void) | undefined = undefined
  /** Wakes fibers waiting for a send callback when the endpoint closes. */
  readonly closeListeners = new Set<() => void>()

  constructor(
    readonly address: string,
    capacity: number,
    readonly onDrop: () => void
  ) {
    this.queue = new EntryQueue(capacity)
  }

  readonly push = (datagram: Uint8Array): void => {
    if (this.closed) return
    if (!this.queue.offer(datagram)) return this.onDrop()
    this.wake()
  }

  readonly fail = (failure: TransportFailure): void => {
    if (this.closed) return
    // Errors are advisory on UDP: with a full queue the newest one is not kept.
    if (this.queue.offer(new QueuedFailure(failure))) this.wake()
  }

  wake(): void {
    const w = this.waker
    this.waker = undefined
    if (w !== undefined) w()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.queue.clear()
    if (this.transport !== undefined) this.transport.close()
    this.wake()
    for (const listener of this.closeListeners) listener()
    this.closeListeners.clear()
  }
}

/** Parses `setPeername`'s arguments; a datagram peer needs a port (node:dgram cannot connect to port 0). */
const parsePeer = (host: unknown, port: unknown, supportsUnix: boolean): target.ParsedTarget | InvalidArgument => {
  const parsed = target.parse(host, port, 1)
  if (validate.isInvalid(parsed)) return parsed
  if (parsed.target._tag === "Unix" && !supportsUnix) {
    return validate.invalid("host", "datagram unix domain sockets are not supported")
  }
  return parsed
}

/** Accepts the TS-typed size and also the runtime forms OpenResty accepts (`"1400"`, `2.9`). */
const parseSize = (size: unknown): number | InvalidArgument => {
  if (size === undefined || size === null) return MAX_DATAGRAM_SIZE
  const n = typeof size === "string" && /^\s*\d+(\.\d+)?\s*$/.test(size) ? Number(size) : size
  if (typeof n !== "number" || Number.isNaN(n)) return validate.invalid("size", "bad size argument")
  const truncated = Math.trunc(n)
  if (truncated <= 0) return validate.invalid("size", "bad size argument")
  return Math.min(truncated, MAX_DATAGRAM_SIZE)
}

/** The socket object (`ngx.socket.udp()`). */
export class UdpSocketImpl implements Api.UdpSocket {
  private endpoint: Endpoint | undefined = undefined
  /** OpenResty's `waiting` flag: a `setPeername` or a `receive` is in flight. */
  busy = false
  /** The owning scope ended. */
  private finished = false
  private localAddress: string | undefined = undefined
  private readTimeout: Duration.Duration | undefined = undefined
  private droppedCount = 0

  constructor(
    readonly connector: DatagramConnector,
    readonly config: CosocketConfig.Settings,
    /** Timers on the Clock of the fiber that made the socket (TestClock in tests). */
    readonly schedule: timer.Schedule
  ) {}

  /** Scope finalizer: closes the endpoint and wakes a blocked receive. */
  readonly finish = Effect.sync(() => {
    this.finished = true
    const endpoint = this.endpoint
    this.endpoint = undefined
    if (endpoint !== undefined) endpoint.close()
  })

  private readonly countDrop = (): void => {
    this.droppedCount++
  }

  /** The up-front state check: busy first, then closed. */
  private check(operation: Operation): Endpoint | SocketBusy | SocketClosed {
    if (this.busy) return new SocketBusy({ operation })
    const endpoint = this.endpoint
    if (endpoint === undefined || endpoint.closed || endpoint.transport === undefined) {
      return new SocketClosed({ operation })
    }
    return endpoint
  }

  setPeername(host: string, port?: number): Effect.Effect<void, Api.PeernameError> {
    return Effect.suspend((): Effect.Effect<void, Api.PeernameError> => {
      const parsed = parsePeer(host, port, this.connector.supportsUnix === true)
      if (validate.isInvalid(parsed)) return Effect.fail(parsed)
      if (this.busy) return Effect.fail(new SocketBusy({ operation: "setPeername" }))
      if (this.finished) return Effect.fail(new SocketClosed({ operation: "setPeername" }))
      // Calling it again closes the previous socket first.
      const previous = this.endpoint
      this.endpoint = undefined
      if (previous !== undefined) previous.close()
      const endpoint = new Endpoint(parsed.name, this.config.udpQueueSize, this.countDrop)
      this.endpoint = endpoint
      this.busy = true
      const open = this.connector.open(parsed.target, {
        localAddress: this.localAddress,
        handlers: { onDatagram: endpoint.push, onError: endpoint.fail }
      })
      return timer.withTimeout(
        this.schedule,
        open,
        this.config.connectTimeout,
        () => new SocketTimeout({ operation: "connect" })
      )
        .pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (exit._tag === "Success") {
                endpoint.transport = exit.value
                // The scope ended or the socket was replaced meanwhile: do not leak the endpoint.
                if (endpoint.closed) exit.value.close()
              } else if (this.endpoint === endpoint) {
                this.endpoint = undefined
              }
            })
          ),
          Effect.asVoid,
          Effect.ensuring(Effect.sync(() => {
            this.busy = false
          }))
        )
    })
  }

  bind(address: string): Effect.Effect<void, InvalidArgument> {
    return Effect.suspend((): Effect.Effect<void, InvalidArgument> => {
      if (typeof address !== "string") return Effect.fail(validate.invalid("address", "bad address"))
      const bare = validate.unbracket(address)
      if (!(validate.isIpAddress(bare))) return Effect.fail(validate.invalid("address", "bad address"))
      this.localAddress = bare
      return Effect.void
    })
  }

  send(data: Api.Sendable): Effect.Effect<void, Api.SendError> {
    return Effect.suspend((): Effect.Effect<void, Api.SendError> => {
      const bytes = encode(data)
      if (validate.isInvalid(bytes)) return Effect.fail(bytes)
      const endpoint = this.check("send")
      if (!(endpoint instanceof Endpoint)) return Effect.fail(endpoint)
      const transport = endpoint.transport!
      return Effect.callback<void, Api.SendError>((resume) => {
        let done = false
        const onClose = () => {
          if (done) return
          done = true
          resume(Effect.fail(new SocketClosed({ operation: "send" })))
        }
        endpoint.closeListeners.add(onClose)
        transport.send(bytes, (failure) => {
          endpoint.closeListeners.delete(onClose)
          if (done) return
          done = true
          resume(failure === undefined ? Effect.void : Effect.fail(sendError(endpoint, failure)))
        })
        // A datagram handed over cannot be taken back: interruption only stops waiting.
        return Effect.sync(() => {
          done = true
          endpoint.closeListeners.delete(onClose)
        })
      })
    })
  }

  receive(size?: number): Effect.Effect<Uint8Array, Api.ReceiveError> {
    return Effect.suspend((): Effect.Effect<Uint8Array, Api.ReceiveError> => {
      const max = parseSize(size)
      if (validate.isInvalid(max)) return Effect.fail(max)
      const endpoint = this.check("receive")
      if (!(endpoint instanceof Endpoint)) return Effect.fail(endpoint)
      const first = endpoint.queue.poll()
      if (first !== undefined) return settle(endpoint, first, max)
      this.busy = true
      return new ReceiveWait(this, endpoint, max, this.readTimeout ?? this.config.readTimeout).run()
    })
  }

  get close(): Effect.Effect<void, Api.CloseError> {
    return Effect.suspend((): Effect.Effect<void, Api.CloseError> => {
      const endpoint = this.check("close")
      if (!(endpoint instanceof Endpoint)) return Effect.fail(endpoint)
      this.endpoint = undefined
      endpoint.close()
      return Effect.void
    })
  }

  setTimeout(timeout: Duration.Input): Effect.Effect<void, InvalidArgument> {
    return Effect.suspend((): Effect.Effect<void, InvalidArgument> => {
      const t = validate.timeout("timeout", timeout)
      if (validate.isInvalid(t)) return Effect.fail(t)
      this.readTimeout = t
      return Effect.void
    })
  }

  get dropped(): Effect.Effect<number> {
    return Effect.sync(() => this.droppedCount)
  }

  get localAddressInfo(): Effect.Effect<AddressInfo, SocketClosed> {
    return this.addressInfo((t) => t.localAddress())
  }

  get remoteAddressInfo(): Effect.Effect<AddressInfo, SocketClosed> {
    return this.addressInfo((t) => t.remoteAddress())
  }

  private addressInfo(
    f: (transport: DatagramTransport) => AddressInfo | undefined
  ): Effect.Effect<AddressInfo, SocketClosed> {
    return Effect.suspend(() => {
      const endpoint = this.endpoint
      const info = endpoint !== undefined && !endpoint.closed && endpoint.transport !== undefined
        ? f(endpoint.transport)
        : undefined
      return info === undefined ? Effect.fail(new SocketClosed({ operation: "setPeername" })) : Effect.succeed(info)
    })
  }
}

/** A receive waiting for the endpoint's queue, with the read timeout on the socket's schedule. */
class ReceiveWait extends timer.InactivityWait<Uint8Array, Api.ReceiveError> {
  private entry: Entry | undefined = undefined

  constructor(
    readonly socket: UdpSocketImpl,
    readonly endpoint: Endpoint,
    readonly max: number,
    timeout: Duration.Duration
  ) {
    super(socket.schedule, timeout)
  }

  /** The endpoint's waker: a datagram or an error was queued, or the endpoint closed. */
  private readonly wake = (): void => {
    if (this.isSettled) return
    const endpoint = this.endpoint
    if (endpoint.closed) return this.finish(this.closed)
    this.entry = endpoint.queue.poll()
    if (this.entry !== undefined) return this.finish(this.received)
    endpoint.waker = this.wake
  }

  private received(): Effect.Effect<Uint8Array, Api.ReceiveError> {
    return settle(this.endpoint, this.entry!, this.max)
  }

  private closed(): Effect.Effect<Uint8Array, Api.ReceiveError> {
    return Effect.fail(new SocketClosed({ operation: "receive" }))
  }

  private timedOut(): Effect.Effect<Uint8Array, Api.ReceiveError> {
    return Effect.fail(new SocketReadTimeout({ operation: "receive", partial: EMPTY }))
  }

  protected start(): void {
    this.endpoint.waker = this.wake
    if (this.endpoint.closed) this.wake()
  }

  protected stop(): void {
    this.socket.busy = false
    this.endpoint.waker = undefined
  }

  protected onTimeout(): void {
    this.finish(this.endpoint.closed ? this.closed : this.timedOut)
  }

  // A receive consumes nothing until it settles: interruption leaves the queue as it was.
  protected onInterrupt(): void {}
}

/** Turns a queued entry into the receive's result. */
const settle = (endpoint: Endpoint, entry: Entry, size: number): Effect.Effect<Uint8Array, Api.ReceiveError> => {
  if (entry instanceof QueuedFailure) {
    const f = entry.failure
    if (unreachable.has(f.code)) {
      return Effect.fail(
        new ConnectError({ code: f.code, reason: f.reason, address: endpoint.address, cause: f.cause })
      )
    }
    return Effect.fail(new SocketIoError({ operation: "receive", code: f.code, reason: f.reason, cause: f.cause }))
  }
  if (entry.length > size) return Effect.fail(new DatagramTooLarge({ size, length: entry.length }))
  return Effect.succeed(entry)
}

/** A failed datagram send: nothing was sent, the socket stays usable. */
const sendError = (endpoint: Endpoint, f: TransportFailure): ConnectError | SocketIoError | SocketClosed => {
  if (unreachable.has(f.code)) {
    return new ConnectError({ code: f.code, reason: f.reason, address: endpoint.address, cause: f.cause })
  }
  if (f.code === "ERR_SOCKET_CLOSED" || f.code === "ERR_SOCKET_DGRAM_NOT_RUNNING") {
    return new SocketClosed({ operation: "send" })
  }
  return new SocketIoError({ operation: "send", code: f.code, reason: f.reason, delivery: "notSent", cause: f.cause })
}

/** `ngx.socket.udp()`: a socket object bound to the caller's scope. */
export const make = (
  connector: DatagramConnector,
  config: CosocketConfig.Settings,
  clock: Clock.Clock
): Effect.Effect<UdpSocketImpl, never, Scope.Scope> =>
  Effect.suspend(() => {
    const socket = new UdpSocketImpl(connector, config, timer.forClock(clock))
    return Effect.as(Effect.addFinalizer(() => socket.finish), socket)
  })
