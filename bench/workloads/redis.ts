/**
 * Redis workloads against a real redis-server: PING through the pool at concurrency 1, 50 and
 * 500 (at 1 and 50 also with a scope per request), GET of a 64-byte value and pipelined PINGs,
 * 10 deep. Every variant also reports the client's CPU per operation over the timed window.
 */
import type * as Effect from "effect/Effect"
import type { Redis } from "ioredis"
import type { ConnectionPool, TcpSocket, Transport } from "../../src/index.js"
import * as effectFloor from "../baselines/effectFloor.js"
import * as ioredis from "../baselines/ioredis.js"
import * as nodeSocket from "../baselines/nodeSocket.js"
import * as raw from "../baselines/raw.js"
import { GET, GET_KEY, PING, PING10, RespFramer } from "../lib/index.js"
import { VARIANT, WORKLOAD } from "../lib/names.js"
import type { RedisServer } from "../lib/processes.js"
import type { Variant, Workload } from "../lib/types.js"
import * as cosocket from "./cosocket.js"

const resp = (onUnit: (unit: Buffer) => void) => new RespFramer(onUnit)

interface Shape {
  readonly id: string
  readonly title: string
  readonly concurrency: number
  readonly request: Buffer
  readonly replies: number
  readonly latency: boolean
  readonly ours: (socket: TcpSocket.TcpSocket) => Effect.Effect<void, unknown>
  readonly ioredis: (client: Redis) => Promise<unknown>
  /** Also run ours in a scope per request (`Effect.scoped` + `make` + `connect` + `setKeepalive`). */
  readonly scoped?: boolean | undefined
  /** Also run `withConnection`'s steps with no engine behind them. */
  readonly apiFloor?: boolean | undefined
}

const variants = (
  redis: RedisServer,
  runtimes: cosocket.Runtimes,
  shape: Shape
): ReadonlyArray<Variant> => {
  const { host, port } = redis
  const opsPerRequest = shape.replies
  const runtime = runtimes.main
  type Request = (
    host: string,
    port: number,
    request: Uint8Array,
    readReply: (socket: TcpSocket.TcpSocket) => Effect.Effect<void, unknown>
  ) => Effect.Effect<void, unknown, Transport.TcpConnector | ConnectionPool.ConnectionPool>
  const ours = (request: Request) => (ms: number) =>
    runtime.runPromise(cosocket.closedLoop(
      request(host, port, shape.request, shape.ours),
      { concurrency: shape.concurrency, opsPerRequest, latency: shape.latency },
      ms
    ))
  const rawShape: raw.RequestResponse = {
    host,
    port,
    connections: shape.concurrency,
    request: shape.request,
    unitsPerResponse: shape.replies,
    opsPerRequest,
    framer: resp,
    latency: shape.latency
  }
  const scoped: ReadonlyArray<Variant> = shape.scoped === true
    ? [{ name: cosocket.SCOPED, role: "baseline", measure: ours(cosocket.scopedRequest) }]
    : []
  const apiFloor: ReadonlyArray<Variant> = shape.apiFloor === true
    ? [{
      name: effectFloor.API_FLOOR,
      role: "baseline",
      measure: (ms) =>
        runtime.runPromise(
          effectFloor.withConnectionSteps(
            { ...rawShape, framer: (onReply) => new RespFramer(onReply, true) },
            cosocket.exchangeOf(shape.request, shape.ours),
            ms
          )
        )
    }]
    : []
  return [
    { name: VARIANT.ours, role: "ours", measure: ours(cosocket.pooledRequest) },
    ...scoped,
    ...apiFloor,
    { name: VARIANT.raw, role: "reference", measure: (ms) => raw.requestResponse(rawShape, ms) },
    {
      name: effectFloor.NAME,
      role: "baseline",
      measure: (ms) => runtime.runPromise(effectFloor.requestResponse(rawShape, ms))
    },
    {
      name: nodeSocket.NAME,
      role: "baseline",
      measure: (ms) =>
        runtime.runPromise(nodeSocket.requestResponse({
          host,
          port,
          connections: shape.concurrency,
          request: shape.request,
          repliesPerRequest: shape.replies,
          opsPerRequest,
          framer: resp,
          latency: shape.latency
        }, ms))
    },
    {
      name: VARIANT.ioredis,
      role: "baseline",
      measure: (ms) =>
        ioredis.requestResponse({
          host,
          port,
          clients: shape.concurrency,
          opsPerRequest,
          request: shape.ioredis,
          latency: shape.latency
        }, ms)
    }
  ]
}

const CPU = "client CPU us/op"

export const workloads = (redis: RedisServer, runtimes: cosocket.Runtimes): ReadonlyArray<Workload> => {
  const ping = (id: string, concurrency: number, latency: boolean): Workload => ({
    id,
    title: `Redis PING, concurrency ${concurrency}`,
    unit: "ops/s",
    higherIsBetter: true,
    latency,
    cpu: CPU,
    note: concurrency > 100
      ? `ours: ${concurrency} callers share a pool of 100 connections (the rest wait in the backlog); raw, the platform-node socket and ioredis: ${concurrency} connections`
      : undefined,
    variants: variants(redis, runtimes, {
      id: "ping",
      title: "PING",
      concurrency,
      request: PING,
      replies: 1,
      latency,
      ours: cosocket.readPong,
      ioredis: (client) => client.ping(),
      scoped: concurrency <= 50,
      apiFloor: concurrency === 50
    })
  })
  return [
    ping(WORKLOAD.pingC1, 1, false),
    ping(WORKLOAD.pingC50, 50, false),
    ping(WORKLOAD.pingC500, 500, true),
    {
      id: WORKLOAD.getC50,
      title: "Redis GET of a 64-byte value, concurrency 50",
      unit: "ops/s",
      higherIsBetter: true,
      cpu: CPU,
      variants: variants(redis, runtimes, {
        id: "get",
        title: "GET",
        concurrency: 50,
        request: GET,
        replies: 1,
        latency: false,
        ours: cosocket.readBulk,
        ioredis: (client) => client.get(GET_KEY),
        apiFloor: true
      })
    },
    {
      id: WORKLOAD.pipelined,
      title: "Redis PING pipelined 10 deep, 50 connections",
      unit: "PINGs/s",
      higherIsBetter: true,
      cpu: "client CPU us/PING",
      variants: variants(redis, runtimes, {
        id: "pipeline",
        title: "pipelined PING",
        concurrency: 50,
        request: PING10,
        replies: 10,
        latency: false,
        ours: cosocket.readPongs(10),
        ioredis: (client) => {
          const p = client.pipeline()
          for (let i = 0; i < 10; i++) p.ping()
          return p.exec()
        }
      })
    }
  ]
}
