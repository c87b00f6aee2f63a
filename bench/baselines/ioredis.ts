/**
 * Baseline: ioredis, N clients (one connection each), one caller per client, awaiting each reply.
 */
import { Redis } from "ioredis"
import { cpuWindow, Latencies, type Sample } from "../lib/index.js"

export interface Shape {
  readonly host: string
  readonly port: number
  readonly clients: number
  readonly opsPerRequest: number
  readonly request: (client: Redis) => Promise<unknown>
  readonly latency?: boolean | undefined
}

export const requestResponse = async (shape: Shape, durationMs: number): Promise<Sample> => {
  const clients = Array.from({ length: shape.clients }, () =>
    new Redis({
      host: shape.host,
      port: shape.port,
      lazyConnect: true,
      enableAutoPipelining: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null
    }))
  try {
    await Promise.all(clients.map((client) => client.connect()))
    await Promise.all(clients.map((client) => shape.request(client)))
    const latencies = shape.latency === true ? new Latencies() : undefined
    let ops = 0
    const cpu = cpuWindow()
    const start = performance.now()
    const deadline = start + durationMs
    await Promise.all(clients.map(async (client) => {
      for (;;) {
        const t0 = performance.now()
        await shape.request(client)
        const t1 = performance.now()
        ops += shape.opsPerRequest
        latencies?.add(t1 - t0)
        if (t1 >= deadline) return
      }
    }))
    const elapsed = performance.now() - start
    return {
      value: (ops / elapsed) * 1000,
      p50: latencies?.percentile(50),
      p99: latencies?.percentile(99),
      cpuUs: cpu() / ops
    }
  } finally {
    for (const client of clients) client.disconnect()
  }
}
