/**
 * Baseline: `@effect/platform-node` NodeSocket, the socket Effect users have today. Each
 * connection runs `socket.run` with a handler that frames replies into a `Queue`; a request is
 * `writer(bytes)` then `Queue.take` per reply.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import { type Sample, timedRequests } from "../lib/index.js"
import type { Framer } from "./raw.js"

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

export interface RequestResponse {
  readonly host: string
  readonly port: number
  readonly connections: number
  readonly request: Buffer
  readonly repliesPerRequest: number
  readonly opsPerRequest: number
  readonly framer: (onUnit: (unit: Buffer) => void) => Framer
  readonly latency?: boolean | undefined
}

const connection = (shape: RequestResponse) =>
  Effect.gen(function*() {
    const socket = yield* NodeSocket.makeNet({ host: shape.host, port: shape.port, noDelay: true })
    const replies = yield* Queue.unbounded<Buffer>()
    const framer = shape.framer((reply) => {
      Queue.unsafeOffer(replies, reply)
    })
    yield* Effect.forkScoped(
      socket.run((chunk) => framer.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)))
    )
    const write = yield* socket.writer
    const take = Queue.take(replies)
    const request = Effect.gen(function*() {
      yield* write(shape.request)
      for (let i = 0; i < shape.repliesPerRequest; i++) yield* take
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
