/**
 * Model-based property test of the keepalive pool: random scripts of connect, send, receive, reply, setKeepalive, close, read timeout, read
 * interruption, peer FIN, idle peer activity, idle expiry, waiter interruption (also racing a
 * grant) and scope end run through the real TCP engine on the in-memory transport under TestClock,
 * against a small reference model of the pool. After every step:
 *
 * - the pool's stats equal the model's (active, idle, waiting; an undeclared empty key is gone);
 * - `open = active + idle` (open transports on the memory network);
 * - `idle <= size`, `waiting <= backlog`, and with a backlog `active + idle <= size`;
 * - no connection has two holders (each holder's connection is the one the model predicts);
 * - one pending deadline per idle timer and per waiter;
 * - a reply read on a reused connection always answers the reader's own request.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { TestClock } from "effect/testing"
import * as FastCheck from "fast-check"
import type { CosocketError } from "../src/index.js"
import { TcpSocket } from "../src/index.js"
import * as internalPool from "../src/internal/pool.js"
import * as Harness from "./support/poolHarness.js"

const HOST = "10.0.0.9"
const PORT = 7000
const KEY = `${HOST}:${PORT}`
const CLIENTS = 5
const CONNECT_TIMEOUT = 1000
const READ_TIMEOUT = 100

type Command =
  | { readonly k: "connect"; readonly c: number }
  | { readonly k: "send"; readonly c: number }
  | { readonly k: "reply"; readonly c: number }
  | { readonly k: "receive"; readonly c: number }
  | { readonly k: "readTimeout"; readonly c: number }
  | { readonly k: "interruptRead"; readonly c: number }
  | { readonly k: "keepalive"; readonly c: number; readonly idle: number }
  | { readonly k: "close"; readonly c: number }
  | { readonly k: "peerFin"; readonly c: number }
  | { readonly k: "idleActivity"; readonly i: number; readonly kind: "data" | "fin" | "reset" }
  | { readonly k: "advance"; readonly ms: number }
  | { readonly k: "interruptWaiter"; readonly c: number }
  | { readonly k: "closeAndInterrupt"; readonly c: number }
  | { readonly k: "endScope"; readonly c: number }

const client = FastCheck.integer({ min: 0, max: CLIENTS - 1 })
const command: FastCheck.Arbitrary<Command> = FastCheck.oneof(
  { arbitrary: FastCheck.record({ k: FastCheck.constant("connect" as const), c: client }), weight: 6 },
  { arbitrary: FastCheck.record({ k: FastCheck.constant("send" as const), c: client }), weight: 3 },
  { arbitrary: FastCheck.record({ k: FastCheck.constant("reply" as const), c: client }), weight: 3 },
  { arbitrary: FastCheck.record({ k: FastCheck.constant("receive" as const), c: client }), weight: 3 },
  { arbitrary: FastCheck.record({ k: FastCheck.constant("readTimeout" as const), c: client }), weight: 1 },
  { arbitrary: FastCheck.record({ k: FastCheck.constant("interruptRead" as const), c: client }), weight: 1 },
  {
    arbitrary: FastCheck.record({
      k: FastCheck.constant("keepalive" as const),
      c: client,
      idle: FastCheck.constantFrom(0, 150, 400)
    }),
    weight: 5
  },
  { arbitrary: FastCheck.record({ k: FastCheck.constant("close" as const), c: client }), weight: 2 },
  { arbitrary: FastCheck.record({ k: FastCheck.constant("peerFin" as const), c: client }), weight: 1 },
  {
    arbitrary: FastCheck.record({
      k: FastCheck.constant("idleActivity" as const),
      i: FastCheck.nat(10),
      kind: FastCheck.constantFrom("data" as const, "fin" as const, "reset" as const)
    }),
    weight: 1
  },
  {
    arbitrary: FastCheck.record({
      k: FastCheck.constant("advance" as const),
      ms: FastCheck.constantFrom(50, 100, 300, 1000)
    }),
    weight: 2
  },
  { arbitrary: FastCheck.record({ k: FastCheck.constant("interruptWaiter" as const), c: client }), weight: 1 },
  { arbitrary: FastCheck.record({ k: FastCheck.constant("closeAndInterrupt" as const), c: client }), weight: 1 },
  { arbitrary: FastCheck.record({ k: FastCheck.constant("endScope" as const), c: client }), weight: 1 }
)

// -------------------------------------------------------------------------------------------------
// the reference model

interface MConn {
  readonly id: number
  reused: number
  peerFin: boolean
}

type MClient =
  | { readonly tag: "none" }
  | { readonly tag: "waiting"; readonly deadline: number }
  | {
    readonly tag: "held"
    readonly conn: MConn
    dirty: boolean
    outstanding: number | undefined
    replyArrived: boolean
    readClosed: boolean
  }

/** What the actual connect fiber of a client must end with. */
type Expected = "held" | "PoolBacklogFull" | "SocketTimeout" | "PoolClosed" | "interrupted"

class Model {
  now = 0
  nextId = 0
  readonly idle: Array<{ conn: MConn; deadline: number }> = []
  readonly waiters: Array<number> = []
  readonly clients: Array<MClient> = Array.from({ length: CLIENTS }, () => ({ tag: "none" }))
  /** Connect fibers that must have ended, with their expected outcome. */
  readonly settled = new Map<number, Expected>()

  constructor(readonly size: number, readonly backlog: number | undefined) {}

  get active(): number {
    return this.clients.filter((c) => c.tag === "held").length
  }

  private hold(c: number, conn: MConn): void {
    this.clients[c] = {
      tag: "held",
      conn,
      dirty: false,
      outstanding: undefined,
      replyArrived: false,
      readClosed: false
    }
    this.settled.set(c, "held")
  }

  connect(c: number): void {
    const top = this.idle.pop()
    if (top !== undefined) {
      top.conn.reused++
      return this.hold(c, top.conn)
    }
    if (this.backlog === undefined || this.active < this.size) return this.hold(c, this.fresh())
    if (this.waiters.length < this.backlog) {
      this.clients[c] = { tag: "waiting", deadline: this.now + CONNECT_TIMEOUT }
      this.waiters.push(c)
      return
    }
    this.settled.set(c, "PoolBacklogFull")
  }

  private fresh(): MConn {
    return { id: this.nextId++, reused: 0, peerFin: false }
  }

  /** A slot was freed (a connection closed): the first waiter connects anew. */
  freed(): void {
    const w = this.waiters.shift()
    if (w !== undefined) this.hold(w, this.fresh())
  }

  checkin(conn: MConn, idle: number): void {
    const w = this.waiters.shift()
    if (w !== undefined) {
      conn.reused++
      return this.hold(w, conn)
    }
    if (this.idle.length >= this.size) this.idle.shift()
    this.idle.push({ conn, deadline: idle === 0 ? Infinity : this.now + idle })
  }

  removeWaiter(c: number, expected: Expected): void {
    const i = this.waiters.indexOf(c)
    if (i >= 0) this.waiters.splice(i, 1)
    this.clients[c] = { tag: "none" }
    this.settled.set(c, expected)
  }

  advance(ms: number): void {
    const end = this.now + ms
    for (;;) {
      let next = Infinity
      for (const e of this.idle) next = Math.min(next, e.deadline)
      for (const w of this.waiters) next = Math.min(next, (this.clients[w] as { deadline: number }).deadline)
      if (next > end) break
      this.now = next
      for (let i = this.idle.length - 1; i >= 0; i--) {
        if (this.idle[i].deadline <= next) {
          this.idle.splice(i, 1)
          this.freed()
        }
      }
      for (const w of [...this.waiters]) {
        if ((this.clients[w] as { deadline: number }).deadline <= next) this.removeWaiter(w, "SocketTimeout")
      }
    }
    this.now = end
  }

  timers(): number {
    return this.idle.filter((e) => e.deadline !== Infinity).length + this.waiters.length
  }
}

// -------------------------------------------------------------------------------------------------
// the runner

const tagOf = (e: unknown): string => (e as { _tag?: string })._tag ?? String(e)

const runScript = (size: number, backlog: number | undefined, script: ReadonlyArray<Command>) =>
  Effect.gen(function*() {
    const h = yield* Harness.make()
    const model = new Model(size, backlog)
    const opts = backlog === undefined ? { poolSize: size } : { poolSize: size, backlog }
    const clients: Array<Harness.Client> = []
    const fibers: Array<Fiber.Fiber<void, CosocketError.ConnectFailure> | undefined> = []
    let requests = 0
    const log: Array<string> = []

    const newClient = (c: number) =>
      Effect.gen(function*() {
        const x = yield* h.client()
        yield* x.socket.setTimeouts(CONNECT_TIMEOUT, 1000, READ_TIMEOUT)
        clients[c] = x
        fibers[c] = undefined
      })
    for (let c = 0; c < CLIENTS; c++) yield* newClient(c)

    const peerOf = (conn: MConn) => h.net.peers[conn.id]

    /** Checks every connect fiber the model says has ended, and the invariants. */
    const check = Effect.gen(function*() {
      yield* Harness.settle
      for (const [c, expected] of model.settled) {
        const fiber = fibers[c]
        expect(fiber, `client ${c} has a connect fiber`).toBeDefined()
        const exit = yield* Harness.poll(fiber!)
        expect(Option.isSome(exit), `client ${c}'s connect ended (${expected})`).toBe(true)
        const e = (exit as Option.Some<Exit.Exit<void, CosocketError.ConnectFailure>>).value
        if (expected === "held") {
          expect(Exit.isSuccess(e), `client ${c} connected`).toBe(true)
          const m = model.clients[c] as Extract<MClient, { tag: "held" }>
          const socket = clients[c].socket
          expect(yield* socket.getReusedTimes).toBe(m.conn.reused)
          expect((yield* socket.localAddressInfo).port).toBe(m.conn.id)
          // a connection handed out carries nothing of an earlier exchange
          expect(peerOf(m.conn).pending()).toBe(0)
        } else if (expected === "interrupted") {
          expect(Exit.hasInterrupts(e)).toBe(true)
        } else {
          expect(Exit.isFailure(e) && !Exit.hasInterrupts(e)).toBe(true)
          const error = Exit.isFailure(e) ? Option.getOrUndefined(Cause.findErrorOption(e.cause)) : undefined
          expect(tagOf(error)).toBe(expected)
          if (expected === "SocketTimeout") expect((error as { operation: string }).operation).toBe("pool")
        }
        fibers[c] = undefined
      }
      model.settled.clear()
      for (let c = 0; c < CLIENTS; c++) {
        if (model.clients[c].tag === "waiting") {
          expect(Option.isNone(yield* Harness.poll(fibers[c]!)), `client ${c} still waits`).toBe(true)
        }
      }
      const stats = yield* h.stats(KEY)
      const active = model.active
      if (active + model.idle.length + model.waiters.length === 0) {
        expect(stats).toBeUndefined()
      } else {
        expect(stats).toMatchObject({ active, idle: model.idle.length, waiting: model.waiters.length })
      }
      expect(h.net.openCount(), "open = active + idle").toBe(active + model.idle.length)
      expect(model.idle.length).toBeLessThanOrEqual(size)
      expect(model.waiters.length).toBeLessThanOrEqual(backlog ?? 0)
      if (backlog !== undefined) expect(active + model.idle.length).toBeLessThanOrEqual(size)
      const ids = model.clients.flatMap((m) => m.tag === "held" ? [m.conn.id] : []).concat(
        model.idle.map((e) => e.conn.id)
      )
      expect(new Set(ids).size, "no connection has two holders").toBe(ids.length)
      for (let c = 0; c < CLIENTS; c++) {
        const m = model.clients[c]
        if (m.tag === "held") expect((yield* clients[c].socket.localAddressInfo).port).toBe(m.conn.id)
      }
      expect(internalPool.pendingTimers(h.pool)).toBe(model.timers())
    })

    /** Which clients a command applies to; its `c` picks one of them (so few commands are no-ops). */
    const applies = (k: Command["k"], c: number): boolean => {
      const m = model.clients[c]
      const h = m.tag === "held" ? m : undefined
      switch (k) {
        case "connect":
          return m.tag === "none" && fibers[c] === undefined
        case "send":
          return h !== undefined && h.outstanding === undefined && !h.readClosed
        case "reply":
          return h !== undefined && h.outstanding !== undefined && !h.replyArrived && !h.conn.peerFin
        case "receive":
          return h !== undefined && !h.readClosed && (h.replyArrived || h.conn.peerFin)
        case "readTimeout":
        case "interruptRead":
          return h !== undefined && !h.readClosed && !h.replyArrived && !h.conn.peerFin
        case "keepalive":
          // pooling with a request still unanswered (and no timeout) is the caller's protocol bug
          return h !== undefined && (h.outstanding === undefined || h.dirty)
        case "close":
          return h !== undefined
        case "peerFin":
          return h !== undefined && !h.conn.peerFin
        case "interruptWaiter":
          return m.tag === "waiting"
        case "closeAndInterrupt":
          return h !== undefined && model.waiters.length > 0
        case "endScope":
          return m.tag !== "waiting"
        default:
          return true
      }
    }

    for (const raw of script) {
      let cmd: Command = raw
      if ("c" in raw) {
        const candidates = Array.from({ length: CLIENTS }, (_, c) => c).filter((c) => applies(raw.k, c))
        if (candidates.length === 0) continue
        cmd = { ...raw, c: candidates[raw.c % candidates.length] }
      }
      const m = "c" in cmd ? model.clients[cmd.c] : undefined
      const held = m?.tag === "held" ? m : undefined
      const socket = "c" in cmd ? clients[cmd.c].socket : undefined
      switch (cmd.k) {
        case "connect": {
          if (m!.tag !== "none" || fibers[cmd.c] !== undefined) continue
          fibers[cmd.c] = yield* Effect.forkChild(socket!.connect(HOST, PORT, opts))
          model.connect(cmd.c)
          break
        }
        case "send": {
          if (held === undefined || held.outstanding !== undefined || held.readClosed) continue
          const n = ++requests
          expect(yield* socket!.send(`REQ ${n}\n`)).toBe(`REQ ${n}\n`.length)
          expect(peerOf(held.conn).takeText()).toBe(`REQ ${n}\n`)
          held.outstanding = n
          break
        }
        case "reply": {
          if (held === undefined || held.outstanding === undefined || held.replyArrived || held.conn.peerFin) continue
          peerOf(held.conn).send(`RESP ${held.outstanding}\n`)
          held.replyArrived = true
          break
        }
        case "receive": {
          if (held === undefined || held.readClosed) continue
          if (held.replyArrived) {
            // the reply read is always the answer to this holder's own request
            expect(TcpSocket.text(yield* socket!.receive())).toBe(`RESP ${held.outstanding}`)
            held.outstanding = undefined
            held.replyArrived = false
          } else if (held.conn.peerFin) {
            expect(tagOf(yield* Effect.flip(socket!.receive()))).toBe("SocketClosed")
            held.readClosed = true
          } else {
            continue
          }
          break
        }
        case "readTimeout": {
          if (held === undefined || held.readClosed || held.replyArrived || held.conn.peerFin) continue
          const read = yield* Effect.forkChild(Effect.flip(socket!.receive()))
          yield* Harness.settle
          yield* TestClock.adjust(Duration.millis(READ_TIMEOUT))
          expect(tagOf(yield* Fiber.join(read))).toBe("SocketReadTimeout")
          model.advance(READ_TIMEOUT)
          held.dirty = true
          break
        }
        case "interruptRead": {
          if (held === undefined || held.readClosed || held.replyArrived || held.conn.peerFin) continue
          const read = yield* Effect.forkChild(socket!.receive())
          yield* Harness.settle
          yield* Fiber.interrupt(read)
          held.dirty = true
          break
        }
        case "keepalive": {
          if (held === undefined || (held.outstanding !== undefined && !held.dirty)) continue
          const result = yield* Effect.result(socket!.setKeepalive(cmd.idle))
          const expected = held.readClosed
            ? "SocketClosed"
            : held.replyArrived
            ? "DubiousConnection" // bytes pending in the transport
            : held.conn.peerFin
            ? "SocketClosed" // a FIN no read has seen yet
            : held.dirty
            ? "DirtyConnection"
            : "ok"
          expect(Result.isSuccess(result) ? "ok" : tagOf(result.failure)).toBe(expected)
          model.clients[cmd.c] = { tag: "none" }
          if (expected === "ok") model.checkin(held.conn, cmd.idle)
          else model.freed()
          break
        }
        case "close": {
          if (held === undefined) continue
          yield* socket!.close
          model.clients[cmd.c] = { tag: "none" }
          model.freed()
          break
        }
        case "peerFin": {
          if (held === undefined || held.conn.peerFin) continue
          peerOf(held.conn).fin()
          held.conn.peerFin = true
          break
        }
        case "idleActivity": {
          if (model.idle.length === 0) continue
          const [entry] = model.idle.splice(cmd.i % model.idle.length, 1)
          const peer = peerOf(entry.conn)
          if (cmd.kind === "data") peer.send("unsolicited")
          else if (cmd.kind === "fin") peer.fin()
          else peer.fail()
          model.freed()
          break
        }
        case "advance": {
          yield* TestClock.adjust(Duration.millis(cmd.ms))
          model.advance(cmd.ms)
          break
        }
        case "interruptWaiter": {
          if (m!.tag !== "waiting") continue
          yield* Fiber.interrupt(fibers[cmd.c]!)
          model.removeWaiter(cmd.c, "interrupted")
          break
        }
        case "closeAndInterrupt": {
          // the holder's slot is granted to the first waiter as that waiter is interrupted
          if (held === undefined || model.waiters.length === 0) continue
          const w = model.waiters[0]
          const fiber = fibers[w]!
          yield* socket!.close
          fiber.interruptUnsafe()
          yield* Harness.settle
          const exit = yield* Harness.poll(fiber)
          expect(Option.isSome(exit)).toBe(true)
          model.clients[cmd.c] = { tag: "none" }
          if (Exit.isSuccess((exit as Option.Some<Exit.Exit<void, unknown>>).value)) {
            model.freed() // the grant reached the waiter first
          } else {
            model.removeWaiter(w, "interrupted")
            model.freed() // given back: the next waiter gets it
          }
          break
        }
        case "endScope": {
          if (m!.tag === "waiting") continue
          yield* clients[cmd.c].end
          if (held !== undefined) {
            model.clients[cmd.c] = { tag: "none" }
            model.freed()
          }
          yield* newClient(cmd.c)
          break
        }
      }
      log.push(JSON.stringify(cmd))
      yield* check
    }

    // shutdown: waiters fail with PoolClosed, idle connections close, held ones stay with holders
    yield* h.shutdown
    for (const w of [...model.waiters]) model.removeWaiter(w, "PoolClosed")
    model.idle.length = 0
    yield* Harness.settle
    for (const [c] of model.settled) {
      const exit = yield* Harness.poll(fibers[c]!)
      expect(Option.isSome(exit)).toBe(true)
    }
    expect(h.net.openCount()).toBe(model.active)
    for (const x of clients) yield* x.end
    expect(h.net.openCount()).toBe(0)
    expect(yield* h.liveFibers).toBe(0)
    expect(internalPool.pendingTimers(h.pool)).toBe(0)
    return log.length
  })

describe("ConnectionPool model", () => {
  it.effect(
    "random scripts keep open = active + idle, idle <= size, waiting <= backlog, one holder per connection",
    () =>
      Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(
            FastCheck.integer({ min: 1, max: 3 }),
            FastCheck.constantFrom(undefined, 0, 1, 2, 3),
            FastCheck.array(command, { minLength: 1, maxLength: 80, size: "max" }),
            (size, backlog, script) =>
              Effect.runPromise(
                runScript(size, backlog, script).pipe(Effect.asVoid, Effect.provide(TestClock.layer()))
              )
          ),
          { numRuns: 150 }
        )
      ).pipe(Effect.asVoid),
    120_000
  )
})
