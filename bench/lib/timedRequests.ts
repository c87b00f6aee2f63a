/**
 * The timed part of every Effect-side request/response variant: one caller per request effect,
 * each repeating its request until the deadline.
 */
import * as Effect from "effect/Effect"
import { cpuWindow } from "./cpu.js"
import { Latencies } from "./stats.js"
import type { Sample } from "./types.js"

/**
 * Runs every `requests[i]` in its own fiber until `durationMs` have passed: operations per second,
 * and the process's CPU per operation over the same window.
 */
export const timedRequests = <E, R>(
  requests: ReadonlyArray<Effect.Effect<unknown, E, R>>,
  options: { readonly opsPerRequest: number; readonly latency?: boolean | undefined },
  durationMs: number
): Effect.Effect<Sample, E, R> =>
  Effect.suspend(() => {
    const latencies = options.latency === true ? new Latencies() : undefined
    let ops = 0
    const cpu = cpuWindow()
    const start = performance.now()
    const deadline = start + durationMs
    const caller = (request: Effect.Effect<unknown, E, R>) =>
      Effect.gen(function*() {
        for (;;) {
          const t0 = performance.now()
          yield* request
          const t1 = performance.now()
          ops += options.opsPerRequest
          latencies?.add(t1 - t0)
          if (t1 >= deadline) return
        }
      })
    return Effect.map(
      Effect.forEach(requests, caller, { concurrency: "unbounded", discard: true }),
      (): Sample => {
        const elapsed = performance.now() - start
        return {
          value: (ops / elapsed) * 1000,
          p50: latencies?.percentile(50),
          p99: latencies?.percentile(99),
          cpuUs: cpu() / ops
        }
      }
    )
  })
