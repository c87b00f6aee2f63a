/**
 * Baseline: `@effect/platform-node` 4.1's socket, the socket Effect users have today: an
 * `effect/socket` `Socket` opened with `NodeSocket.makeNet`. Acquiring its reader (in the
 * workload's scope) dials the connection; the reader is pull-based (the Node socket stays paused,
 * and each `pull` returns the batch of chunks Node has buffered, or waits for the next one). Each
 * connection takes the byte `pull` (`Socket.readerBytes`) and the writer once; a request is
 * `writer.write(bytes)`, then `pull` until the raw client's framer has seen every reply; a stream
 * is `pull` until the deadline, every chunk through the raw client's framer.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Effect from "effect/Effect"
import * as Socket from "effect/socket/Socket"
import { type Sample, timedRequests } from "../lib/index.js"
import { VARIANT } from "../lib/names.js"
import type { Framer, Streaming } from "./raw.js"

export const NAME = VARIANT.nodeSocket

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** Node's chunks are Buffers already; anything else is viewed as one for the framers. */
const asBuffer = (chunk: Uint8Array): Buffer =>
  Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)

export interface RequestResponse {
  readonly host: string
  readonly port: number
  readonly connections: number
  /** Sent once after connecting (a mode line), before the untimed first request. */
  readonly hello?: Buffer | undefined
  readonly request: Buffer
  readonly repliesPerRequest: number
  readonly opsPerRequest: number
  readonly framer: (onUnit: (unit: Buffer) => void) => Framer
  readonly latency?: boolean | undefined
}

/** One connection in the enclosing scope: its request effect, after one untimed exchange. */
const connection = (shape: RequestResponse) =>
  Effect.gen(function*() {
    const socket = yield* NodeSocket.makeNet({ host: shape.host, port: shape.port, noDelay: true })
    const pull = yield* Socket.readerBytes(socket)
    const writer = yield* socket.writer
    let replies = 0
    const framer = shape.framer(() => {
      replies++
    })
    if (shape.hello !== undefined) yield* writer.write(shape.hello)
    const send = writer.write(shape.request)
    const request = Effect.gen(function*() {
      yield* send
      while (replies < shape.repliesPerRequest) {
        const chunks = yield* pull
        for (let i = 0; i < chunks.length; i++) framer.push(asBuffer(chunks[i]))
      }
      replies -= shape.repliesPerRequest
    })
    yield* request // untimed: connected and warm
    return request
  })

export const requestResponse = (shape: RequestResponse, durationMs: number): Effect.Effect<Sample, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const requests = yield* Effect.forEach(range(shape.connections), () => connection(shape), {
      concurrency: "unbounded"
    })
    return yield* timedRequests(requests, shape, durationMs)
  }))

/**
 * One connection reading an endless stream, as raw.streaming: each `pull` returns the chunks Node
 * has buffered, which go through the raw client's framer; the clock is checked after every pull.
 */
export const streaming = (shape: Streaming, durationMs: number): Effect.Effect<Sample, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* NodeSocket.makeNet({ host: shape.host, port: shape.port, noDelay: true })
    const pull = yield* Socket.readerBytes(socket)
    const writer = yield* socket.writer
    let units = 0
    const framer = shape.framer(() => {
      units++
    })
    const start = performance.now()
    yield* writer.write(shape.hello)
    const deadline = start + durationMs
    let now = start
    while (now < deadline) {
      const chunks = yield* pull
      for (let i = 0; i < chunks.length; i++) framer.push(asBuffer(chunks[i]))
      now = performance.now()
    }
    const perSecond = (units / (now - start)) * 1000
    return { value: shape.bytesPerUnit > 0 ? (perSecond * shape.bytesPerUnit) / 1e6 : perSecond }
  }))
