/**
 * A fault-injection TCP proxy for protocol-client tests: a loopback `node:net` server that
 * forwards every connection to a real server and, chunk by chunk of the server's replies, lets
 * it through or injects a fault drawn with a seed and per-fault probabilities: a delay, a split
 * into 1-byte segments, a stall longer than the client's read timeout, a reset (RST) or a close
 * (FIN) in the middle of a reply, or a reset shortly after a complete reply. The client's bytes
 * reach the server unchanged. It counts what it did and the connections it holds; everything it
 * opens is closed with its `Scope`.
 *
 * Node-only.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import type { InvalidArgument } from "../CosocketError.js"
import * as internal from "../internal/faults.js"
import * as validate from "../internal/validate.js"
import * as listener from "./internal/listener.js"

/**
 * What the proxy does with one chunk of the server's reply:
 *
 * - `pass`: forward it;
 * - `delay`: forward it after `delayMillis`;
 * - `split`: forward it one byte per write (separate TCP segments);
 * - `stall`: hold it for `stallMillis`, then forward it;
 * - `resetMidReply`: forward its first half, then reset the client's connection (RST);
 * - `finMidReply`: forward its first half, then close the client's connection (FIN);
 * - `resetAfterReply`: forward it, then reset the client's connection after `resetAfterMillis`.
 *
 * A fault that ends the connection also closes the one to the server.
 *
 * @since 0.2.0
 * @category models
 * @example
 * ```ts
 * import { FaultProxy } from "effect-cosocket/testing"
 *
 * const fault: FaultProxy.Fault = "split"
 * console.log(FaultProxy.faults.includes(fault)) // true
 * ```
 */
export type Fault = "pass" | "delay" | "split" | "stall" | "resetMidReply" | "finMidReply" | "resetAfterReply"

/**
 * Every fault, `pass` first (the keys of {@link Stats.faults}).
 *
 * @since 0.2.0
 * @category constants
 * @example
 * ```ts
 * import { FaultProxy } from "effect-cosocket/testing"
 *
 * console.log(FaultProxy.faults.length) // 7
 * ```
 */
export const faults: ReadonlyArray<Fault> = internal.all

/**
 * The proxy's options. The probabilities of the injected faults add up to at most 1; the rest
 * is the probability of `pass`.
 *
 * @since 0.2.0
 * @category models
 * @example
 * ```ts
 * import type { FaultProxy } from "effect-cosocket/testing"
 *
 * const options: FaultProxy.Options = {
 *   target: { host: "127.0.0.1", port: 6379 },
 *   seed: 42,
 *   probabilities: { split: 0.1, delay: 0.1, resetMidReply: 0.01 },
 *   stallMillis: 500
 * }
 * ```
 */
export interface Options {
  /** The real server every connection is forwarded to. */
  readonly target: { readonly host: string; readonly port: number }
  /** Seed of the fault draws (default 0): the same seed gives the same faults in the same order. */
  readonly seed?: number | undefined
  /** Probability of each injected fault per chunk (default 0 each). */
  readonly probabilities?: { readonly [F in Exclude<Fault, "pass">]?: number | undefined } | undefined
  /** How long `delay` holds a chunk (default 5 ms). */
  readonly delayMillis?: number | undefined
  /** How long `stall` holds a chunk (default 1000 ms): make it longer than the client's read timeout. */
  readonly stallMillis?: number | undefined
  /** How long after a complete reply `resetAfterReply` resets (default 1 ms). */
  readonly resetAfterMillis?: number | undefined
}

/**
 * What the proxy did so far.
 *
 * @since 0.2.0
 * @category models
 * @example
 * ```ts
 * import type { FaultProxy } from "effect-cosocket/testing"
 *
 * const injected = (stats: FaultProxy.Stats): number =>
 *   Object.values(stats.faults).reduce((a, b) => a + b, 0) - stats.faults.pass
 * ```
 */
export interface Stats {
  /** Chunks of the server's replies, by what was done with them. */
  readonly faults: { readonly [F in Fault]: number }
  /** Client connections accepted. */
  readonly accepted: number
  /** Accepted connections not yet closed on both sides (the client's and the server's socket). */
  readonly open: number
}

/**
 * A running proxy: connect clients to `host:port` instead of the real server.
 *
 * @since 0.2.0
 * @category models
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { FaultProxy } from "effect-cosocket/testing"
 *
 * const openConnections = (proxy: FaultProxy.FaultProxy) => Effect.map(proxy.stats, (s) => s.open)
 * ```
 */
export interface FaultProxy {
  readonly host: string
  readonly port: number
  /** A snapshot of the counters. */
  readonly stats: Effect.Effect<Stats>
}

/** One proxied connection: the client's socket, the server's, and the queue of reply chunks. */
class Link {
  private readonly queue: Array<Buffer | typeof END> = []
  private running = false
  /** A fault ended the connection (or a side closed): nothing more is forwarded. */
  private dead = false

  constructor(
    readonly client: Net.Socket,
    readonly upstream: Net.Socket,
    readonly proxy: ProxyState
  ) {}

  push(item: Buffer | typeof END): void {
    if (this.dead) return
    this.queue.push(item)
    if (!this.running) this.step()
  }

  kill(): void {
    this.dead = true
    this.queue.length = 0
    this.client.destroy()
    this.upstream.destroy()
  }

  private reset(): void {
    this.dead = true
    this.queue.length = 0
    this.upstream.destroy()
    if (!this.client.destroyed) this.client.resetAndDestroy()
  }

  private later(millis: number, f: () => void): void {
    this.proxy.later(millis, () => {
      if (!this.dead) f()
    })
  }

  /** Forwards the next queued item, then the one after it, in order. */
  private step(): void {
    const item = this.queue.shift()
    if (this.dead || item === undefined) {
      this.running = false
      return
    }
    this.running = true
    if (item === END) {
      this.client.end()
      this.running = false
      return
    }
    const fault = this.proxy.chooser.next()
    this.proxy.counts[fault]++
    const plan = this.proxy.chooser.plan
    const next = () => this.step()
    switch (fault) {
      case "pass":
        this.client.write(item)
        return next()
      case "delay":
        return this.later(plan.delayMillis, () => {
          this.client.write(item)
          next()
        })
      case "stall":
        return this.later(plan.stallMillis, () => {
          this.client.write(item)
          next()
        })
      case "split": {
        let i = 0
        const one = (): void => {
          if (this.dead) return
          if (i >= item.length) return next()
          this.client.write(item.subarray(i, ++i), () => this.later(0, one))
        }
        return one()
      }
      case "resetMidReply":
        this.client.write(item.subarray(0, item.length >> 1), () => this.later(1, () => this.reset()))
        return
      case "finMidReply":
        this.dead = true
        this.queue.length = 0
        this.upstream.destroy()
        this.client.end(item.subarray(0, item.length >> 1))
        return
      case "resetAfterReply":
        this.dead = true
        this.queue.length = 0
        this.client.write(item, () => {
          this.proxy.later(plan.resetAfterMillis, () => this.reset())
        })
        return
    }
  }
}

const END: unique symbol = Symbol("effect-cosocket/FaultProxy/end")

class ProxyState {
  readonly counts: { [F in Fault]: number } = {
    pass: 0,
    delay: 0,
    split: 0,
    stall: 0,
    resetMidReply: 0,
    finMidReply: 0,
    resetAfterReply: 0
  }
  readonly chooser: internal.Chooser
  readonly links = new Set<Link>()
  readonly timers = new Set<ReturnType<typeof setTimeout>>()
  accepted = 0
  open = 0
  closing = false

  constructor(plan: internal.Plan, readonly target: { readonly host: string; readonly port: number }) {
    this.chooser = new internal.Chooser(plan)
  }

  later(millis: number, f: () => void): void {
    if (this.closing) return
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      f()
    }, millis)
    this.timers.add(timer)
  }

  accept(client: Net.Socket): void {
    client.on("error", () => {})
    if (this.closing) {
      client.destroy()
      return
    }
    this.accepted++
    this.open++
    client.setNoDelay(true)
    const upstream = Net.connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true })
    upstream.on("error", () => {})
    upstream.setNoDelay(true)
    const link = new Link(client, upstream, this)
    this.links.add(link)
    let closed = 0
    const onClose = () => {
      // either side closing ends the link; it counts as open until both sockets are closed
      link.kill()
      if (++closed === 2) {
        this.open--
        this.links.delete(link)
      }
    }
    client.once("close", onClose)
    upstream.once("close", onClose)
    client.pipe(upstream)
    upstream.on("data", (chunk: Buffer) => link.push(chunk))
    upstream.on("end", () => link.push(END))
  }

  snapshot(): Stats {
    return { faults: { ...this.counts }, accepted: this.accepted, open: this.open }
  }
}

/**
 * Starts a fault proxy on a free loopback port in front of `options.target`. Invalid options
 * (probabilities outside 0..1 or adding up to more than 1, negative times, a bad target) fail with
 * `InvalidArgument`. Closing the scope closes the server, every connection and every timer.
 *
 * @since 0.2.0
 * @category constructors
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { FaultProxy } from "effect-cosocket/testing"
 *
 * const program = Effect.gen(function*() {
 *   const proxy = yield* FaultProxy.make({
 *     target: { host: "127.0.0.1", port: 6379 },
 *     seed: 7,
 *     probabilities: { split: 0.2, finMidReply: 0.01 }
 *   })
 *   // ... point the client under test at proxy.host:proxy.port ...
 *   const stats = yield* proxy.stats
 *   console.log(stats.faults.split, stats.open)
 * }).pipe(Effect.scoped)
 * ```
 */
export const make = (options: Options): Effect.Effect<FaultProxy, InvalidArgument, Scope.Scope> =>
  Effect.suspend(() => {
    const plan = internal.parse(options)
    if (validate.isInvalid(plan)) return Effect.fail(plan)
    const target = parseTarget(options)
    if (validate.isInvalid(target)) return Effect.fail(target)
    return start(plan, target)
  })

const parseTarget = (options: Options): { host: string; port: number } | InvalidArgument =>
  validate.guard("target", () => {
    const o = validate.snapshot("target", options.target, ["host", "port"])
    if (validate.isInvalid(o)) return o
    if (typeof o.host !== "string") return validate.invalid("target", `bad "target.host": string expected`)
    const host = validate.host(o.host)
    if (validate.isInvalid(host)) return host
    const port = validate.port(o.port, 1)
    if (validate.isInvalid(port)) return port
    return { host, port }
  })

const start = (
  plan: internal.Plan,
  target: { readonly host: string; readonly port: number }
): Effect.Effect<FaultProxy, never, Scope.Scope> =>
  Effect.suspend(() => {
    const proxy = new ProxyState(plan, target)
    const server = Net.createServer({ allowHalfOpen: true }, (client) => proxy.accept(client))
    return Effect.acquireRelease(
      listener.listen(server, { host: "127.0.0.1", port: 0 }),
      () =>
        Effect.suspend(() => {
          proxy.closing = true
          for (const timer of proxy.timers) clearTimeout(timer)
          proxy.timers.clear()
          for (const link of proxy.links) link.kill()
          return listener.close(server)
        })
    ).pipe(
      Effect.map((): FaultProxy => ({
        host: "127.0.0.1",
        port: (server.address() as Net.AddressInfo).port,
        stats: Effect.sync(() => proxy.snapshot())
      }))
    )
  })
