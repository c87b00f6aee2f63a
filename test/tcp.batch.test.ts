/**
 * Batched reads: `receiveMany`, `TcpSocket.receiveStream` and the batched `receiveUntil` stream
 * return exactly what the single reads would, under any chunking, on the in-memory transport
 * (property-tested against the single-read reference), plus their limits, timeout, busy rule and
 * argument errors; and on a real loopback socket.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import type { CosocketConfig } from "../src/index.js"
import { TcpSocket } from "../src/index.js"
import { Chunking } from "../src/testing/index.js"
import { run, server } from "./support/loopback.js"
import * as MemoryTransport from "./support/memoryTransport.js"

const setup = MemoryTransport.harness

/** `ERR <tag>: <message> [partial]` for a failure. */
const describeError = (
  e: { readonly _tag: string; readonly message: string; readonly partial?: Uint8Array | undefined }
) =>
  e.partial === undefined ? `ERR ${e._tag}: ${e.message}` : `ERR ${e._tag}: ${e.message} [${TcpSocket.text(e.partial)}]`

/** Reads units until the first failure, one `receive` per unit: the reference. */
const singleReads = (socket: TcpSocket.TcpSocket, pattern: "*l" | number) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    for (;;) {
      const r = yield* Effect.result(socket.receive(pattern as number))
      if (r._tag === "Failure") return [...out, describeError(r.failure)]
      out.push(TcpSocket.text(r.success))
    }
  })

/** The same through `receiveMany`; also checks every batch is non-empty and at most `max`. */
const batchReads = (socket: TcpSocket.TcpSocket, pattern: "*l" | number, max: number | undefined) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    for (;;) {
      const r = yield* Effect.result(socket.receiveMany(pattern, max))
      if (r._tag === "Failure") return [...out, describeError(r.failure)]
      expect(r.success.length).toBeGreaterThan(0)
      if (max !== undefined) expect(r.success.length).toBeLessThanOrEqual(max)
      for (const unit of r.success) out.push(TcpSocket.text(unit))
    }
  })

/** Plays `chunks` then a FIN (or a reset) to a reader running `read`, yielding between chunks. */
const play = (
  chunks: ReadonlyArray<Uint8Array>,
  ending: "fin" | "reset",
  config: CosocketConfig.Options,
  read: (socket: TcpSocket.TcpSocket) => Effect.Effect<Array<string>, unknown>
) => {
  const { net, provide } = setup(config)
  return provide(Effect.gen(function*() {
    const socket = yield* TcpSocket.connect("10.0.0.1", 80)
    const peer = net.lastPeer()
    const reader = yield* Effect.forkChild(read(socket))
    for (const chunk of chunks) {
      peer.send(chunk)
      yield* Effect.yieldNow
    }
    if (ending === "fin") peer.fin()
    else peer.fail()
    return yield* Fiber.join(reader)
  }))
}

const scenario = fc.record({
  bytes: Chunking.arbitraryBytes({ alphabet: "ab\r\n", maxLength: 80 }),
  ending: fc.constantFrom<"fin" | "reset">("fin", "reset"),
  max: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
  maxLineLength: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
  size: fc.integer({ min: 1, max: 7 }),
  seed: fc.integer()
}).chain((s) => Chunking.arbitraryChunking(s.bytes).map((chunks) => ({ ...s, chunks })))

describe("receiveMany against the single-read reference (in-memory transport)", () => {
  it("lines and records: the same units, in order, and the same final error, under any chunking", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ chunks, ending, max, maxLineLength, size }) => {
        const config = maxLineLength === undefined ? {} : { maxLineLength }
        for (const pattern of ["*l", size] as const) {
          const reference = await Effect.runPromise(play(chunks, ending, config, (s) => singleReads(s, pattern)))
          const batched = await Effect.runPromise(play(chunks, ending, config, (s) => batchReads(s, pattern, max)))
          expect(batched).toEqual(reference)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("TcpSocket.receiveStream emits the reference's units; a clean end ends it, a partial unit fails it", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ chunks, size }) => {
        for (const pattern of ["*l", size] as const) {
          const reference = await Effect.runPromise(play(chunks, "fin", {}, (s) => singleReads(s, pattern)))
          const streamed = await Effect.runPromise(
            play(chunks, "fin", {}, (s) =>
              TcpSocket.receiveStream(s, pattern).pipe(
                Stream.map(TcpSocket.text),
                Stream.runCollect,
                Effect.map((units) => [...units, "ERR SocketClosed: closed []"]),
                Effect.catch((e) => Effect.succeed([describeError(e)]))
              ))
          )
          // A clean end (empty partial) is the stream's end; the reference reports it as an error.
          const last = reference[reference.length - 1]
          if (last === "ERR SocketClosed: closed []") expect(streamed).toEqual(reference)
          else expect(streamed).toEqual([last])
        }
      }),
      { numRuns: 200 }
    )
  })

  it("a batched receiveUntil stream yields the same bytes as readChunk, one Stream chunk per batch", async () => {
    const arb = fc.record({
      bytes: Chunking.arbitraryBytes({ alphabet: "ab-", maxLength: 60 }),
      size: fc.integer({ min: 1, max: 6 })
    }).chain((s) => Chunking.arbitraryChunking(s.bytes).map((chunks) => ({ ...s, chunks })))
    await fc.assert(
      fc.asyncProperty(arb, async ({ chunks, size }) => {
        const viaChunks = (socket: TcpSocket.TcpSocket) =>
          Effect.gen(function*() {
            const reader = yield* socket.receiveUntil("--")
            const out: Array<string> = []
            for (;;) {
              const r = yield* Effect.result(reader.readChunk(size))
              if (r._tag === "Failure") return [...out, describeError(r.failure)]
              if (Option.isNone(r.success)) return [...out, "END"]
              out.push(TcpSocket.text(r.success.value))
            }
          })
        const viaStream = (socket: TcpSocket.TcpSocket) =>
          Effect.gen(function*() {
            const reader = yield* socket.receiveUntil("--")
            const exit = yield* Effect.exit(Stream.runCollect(Stream.map(reader.stream(size), TcpSocket.text)))
            if (Exit.isSuccess(exit)) return [...exit.value, "END"]
            const error = Option.getOrThrow(Cause.findErrorOption(exit.cause))
            return [describeError(error)]
          })
        const reference = await Effect.runPromise(play(chunks, "fin", {}, viaChunks))
        const streamed = await Effect.runPromise(play(chunks, "fin", {}, viaStream))
        const last = reference[reference.length - 1]
        if (last === "END") expect(streamed).toEqual(reference)
        else expect(streamed).toEqual([last])
      }),
      { numRuns: 300 }
    )
  })
})

describe("receiveMany: examples", () => {
  it.effect("everything buffered in one batch; the partial line waits; max caps a batch", () => {
    const { net, provide } = setup()
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      net.lastPeer().send("a\r\nbb\nccc\r\ndd")
      expect((yield* socket.receiveMany()).map(TcpSocket.text)).toEqual(["a", "bb", "ccc"])
      net.lastPeer().send("d\ne\nf\ng\n")
      expect((yield* socket.receiveMany("*l", 2)).map(TcpSocket.text)).toEqual(["ddd", "e"])
      expect((yield* socket.receiveMany("*l", 2)).map(TcpSocket.text)).toEqual(["f", "g"])
      net.lastPeer().send("1234567")
      expect((yield* socket.receiveMany(3)).map(TcpSocket.text)).toEqual(["123", "456"])
      expect(TcpSocket.text(yield* socket.receive(1))).toBe("7")
    }))
  })

  it.effect("a read timeout with nothing complete: SocketReadTimeout with the partial, as receive", () => {
    const { net, provide } = setup({ readTimeout: "1 second" })
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      net.lastPeer().send("par")
      const fiber = yield* Effect.forkChild(Effect.flip(socket.receiveMany()))
      yield* TestClock.adjust("999 millis")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      expect(describeError(yield* Fiber.join(fiber))).toBe("ERR SocketReadTimeout: timeout [par]")
    }))
  })

  it.effect("a second reader while a batch waits: SocketBusyReading, nothing consumed", () => {
    const { net, provide } = setup()
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      const fiber = yield* Effect.forkChild(socket.receiveMany())
      yield* Effect.yieldNow
      expect(describeError(yield* Effect.flip(socket.receiveMany()))).toBe(
        "ERR SocketBusyReading: socket busy reading"
      )
      net.lastPeer().send("x\ny\n")
      expect((yield* Fiber.join(fiber)).map(TcpSocket.text)).toEqual(["x", "y"])
    }))
  })

  it.effect("bad arguments: InvalidArgument naming the argument, before any state changes", () => {
    const { net, provide } = setup()
    return provide(Effect.gen(function*() {
      const socket = yield* TcpSocket.connect("10.0.0.1", 80)
      const many = socket.receiveMany as (p?: unknown, m?: unknown) => Effect.Effect<ReadonlyArray<Uint8Array>, any>
      const argument = (e: { argument: string; message: string }) => `${e.argument}: ${e.message}`
      expect(argument(yield* Effect.flip(many("*a")))).toBe("pattern: bad pattern argument for a batch")
      expect(argument(yield* Effect.flip(many(0)))).toBe("pattern: bad pattern argument for a batch")
      expect(argument(yield* Effect.flip(many(-1)))).toBe("pattern: bad number argument")
      expect(argument(yield* Effect.flip(many("*l", 0)))).toBe("max: bad max argument")
      expect(argument(yield* Effect.flip(many("*l", "x")))).toBe("max: bad max argument")
      net.lastPeer().send("ok\n")
      expect((yield* socket.receiveMany()).map(TcpSocket.text)).toEqual(["ok"])
    }))
  })
})

describe("receiveMany on loopback", () => {
  it.live("10,000 lines in batches over a real socket: every line once, in order", () =>
    run(Effect.gen(function*() {
      const lines = Array.from({ length: 10_000 }, (_, i) => `line ${i}`)
      const peer = yield* server((socket) => socket.end(lines.map((l) => `${l}\r\n`).join("")))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const got = yield* TcpSocket.receiveStream(socket).pipe(Stream.map(TcpSocket.text), Stream.runCollect)
      expect(got).toEqual(lines)
    })))
})
