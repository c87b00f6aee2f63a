/**
 * The targets of issue 15, one row each (records and bulk apart, the two receiveUntil shapes
 * apart), judged on the figures of one run: every comparison is a median of per-round ratios, both
 * figures of a ratio measured in the same round, so the machine's drift between rounds cancels.
 */
import { VARIANT as V, WORKLOAD as W } from "./names.js"
import type { VariantResult, WorkloadResult } from "./report.js"
import { summarize, type Summary } from "./stats.js"
import { fmt, type Sample } from "./types.js"

export type Verdict = "met" | "missed" | "not measured"

export interface TargetResult {
  readonly title: string
  readonly target: string
  /** The figures the verdict rests on. */
  readonly figures: string
  readonly verdict: Verdict
}

type Results = ReadonlyMap<string, WorkloadResult>

/** A row whose figures are missing from the run (`--only`, a failed variant). */
class Missing extends Error {}

const workload = (results: Results, id: string): WorkloadResult => {
  const w = results.get(id)
  if (w === undefined) throw new Missing(id)
  return w
}

const measured = (v: VariantResult | undefined, what: string): VariantResult => {
  if (v === undefined || v.notAvailable !== undefined || v.summary.n === 0) throw new Missing(what)
  return v
}

const ours = (w: WorkloadResult) => measured(w.variants.find((v) => v.role === "ours"), `${w.id}: ours`)

const named = (w: WorkloadResult, name: string) => measured(w.variants.find((v) => v.name === name), `${w.id}: ${name}`)

/** Per-round `pick(a) / pick(b)`, over the rounds where both were measured. */
const between = (
  a: VariantResult,
  b: VariantResult,
  pick: (s: Sample) => number | undefined = (s) => s.value
): Summary => {
  const ratios: Array<number> = []
  a.samples.forEach((s, round) => {
    const t = b.samples[round]
    const x = s === undefined ? undefined : pick(s)
    const y = t === undefined ? undefined : pick(t)
    if (x !== undefined && y !== undefined && y > 0) ratios.push(x / y)
  })
  const summary = summarize(ratios)
  if (summary.n === 0) throw new Missing(`${a.name} / ${b.name}`)
  return summary
}

const cpuOf = (s: Sample) => s.cpuUs

/** `0.46 (0.40-0.74)`: a median of per-round ratios and its range. */
const r = (s: Summary) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}-${s.max.toFixed(2)})`

interface Row {
  readonly title: string
  readonly target: string
  readonly judge: (results: Results) => { readonly figures: string; readonly met: boolean }
}

/** ours / reference (raw node:net) in the same round, at least `min`. */
const ratioRow = (id: string, title: string, min: number): Row => ({
  title,
  target: `>= ${min.toFixed(2)}`,
  judge: (results) => {
    const ratio = ours(workload(results, id)).ratio
    return { figures: `${r(ratio)} of raw`, met: ratio.median >= min }
  }
})

/** ours against ioredis in the same rounds. */
const versusIoredis = (w: WorkloadResult) => {
  const mine = ours(w)
  const ioredis = named(w, V.ioredis)
  return {
    mine,
    ioredis,
    vs: between(mine, ioredis),
    text: `${r(mine.ratio)} of raw, ioredis ${ioredis.ratio.median.toFixed(2)}; ours / ioredis ${
      r(between(mine, ioredis))
    }`
  }
}

/** The diagnostic floor (`withConnection`'s steps, no engine) against ioredis, when the run measured it. */
const floorText = (w: WorkloadResult, ioredis: VariantResult): string => {
  try {
    return `; with no engine behind the API (diagnostic) / ioredis ${r(between(named(w, V.apiFloor), ioredis))}`
  } catch (error) {
    if (error instanceof Missing) return ""
    throw error
  }
}

/** At most `max` of the workload's unit for ours (times, sizes). */
const ceilingRow = (id: string, title: string, target: string, max: number): Row => ({
  title,
  target,
  judge: (results) => {
    const w = workload(results, id)
    const s = ours(w).summary
    return { figures: `${fmt(s.median)} ${w.unit} (${fmt(s.min)}-${fmt(s.max)})`, met: s.median <= max }
  }
})

export const ROWS: ReadonlyArray<Row> = [
  ratioRow(W.pingC1, "Redis PING, concurrency 1", 0.95),
  {
    title: "Redis PING, concurrency 50, through `withConnection`",
    target: ">= ioredis in the same run, and >= 0.75",
    judge: (results) => {
      const w = workload(results, W.pingC50)
      const c = versusIoredis(w)
      return {
        figures: `${c.text}${floorText(w, c.ioredis)}`,
        met: c.vs.median >= 1 && c.mine.ratio.median >= 0.75
      }
    }
  },
  {
    title: "Redis PING, concurrency 50, a scope per request (`Effect.scoped` + `make` + `connect` + `setKeepalive`)",
    target: ">= 0.85 of the `withConnection` figure",
    judge: (results) => {
      const w = workload(results, W.pingC50)
      const scoped = named(w, V.scoped)
      const vs = between(scoped, ours(w))
      return {
        figures: `${r(vs)} of \`withConnection\`; ${scoped.ratio.median.toFixed(2)} of raw`,
        met: vs.median >= 0.85
      }
    }
  },
  {
    title: "Redis PING, concurrency 500, pool 100 + backlog 500",
    target: ">= ioredis, p99 <= 1.5x raw's",
    judge: (results) => {
      const c = versusIoredis(workload(results, W.pingC500))
      const p99 = c.mine.p99Ratio
      if (p99 === undefined) throw new Missing("p99")
      return {
        figures: `${c.text}; p99 ${p99.median.toFixed(2)}x raw's (ioredis ${
          c.ioredis.p99Ratio?.median.toFixed(2) ?? "n/a"
        }x)`,
        met: c.vs.median >= 1 && p99.median <= 1.5
      }
    }
  },
  {
    title: "Redis GET of a 64-byte value, concurrency 50",
    target: ">= ioredis",
    judge: (results) => {
      const w = workload(results, W.getC50)
      const c = versusIoredis(w)
      return { figures: `${c.text}${floorText(w, c.ioredis)}`, met: c.vs.median >= 1 }
    }
  },
  ratioRow(W.pipelined, "Redis PING pipelined 10 deep, 50 connections", 0.5),
  {
    title: "32-byte lines, 1 connection",
    target: ">= 0.60 through a batched read; `receive(\"*l\")` >= 0.90 of the bare Effect client",
    judge: (results) => {
      const w = workload(results, W.lines)
      const single = between(ours(w), named(w, V.bareEffect))
      const batchedVariant = w.variants.find((v) => v.name === V.batchedLines)
      const batched = batchedVariant === undefined || batchedVariant.notAvailable !== undefined
        ? undefined
        : measured(batchedVariant, V.batchedLines).ratio
      return {
        figures: `batched read: ${batched === undefined ? "not available" : `${r(batched)} of raw`}; ` +
          `\`receive("*l")\` ${r(single)} of the bare Effect client (${ours(w).ratio.median.toFixed(2)} of raw)`,
        met: batched !== undefined && batched.median >= 0.6 && single.median >= 0.9
      }
    }
  },
  ratioRow(W.records, "`receive(4096)`, fixed records, 1 connection", 0.85),
  ratioRow(W.bulk, "`receive(65536)`, bulk, 1 connection", 0.85),
  ratioRow(W.untilSmall, "`receiveUntil`, 10 x 1 KiB parts per message, 50 connections", 0.7),
  ratioRow(W.untilLarge, "`receiveUntil`, 4 x 64 KiB parts per message, 1 connection", 0.8),
  {
    title: "The proxy example: request/response through it at concurrency 50, and bulk through it",
    target: ">= 0.80 of a raw pipe proxy, both",
    judge: (results) => {
      const requests = workload(results, W.proxyRequests)
      const bulk = workload(results, W.proxyBulk)
      const pipe = (w: WorkloadResult) => between(ours(w), named(w, V.pipeProxy), cpuOf)
      const cpu = (w: WorkloadResult) => {
        try {
          return `${pipe(w).median.toFixed(1)}x`
        } catch {
          return "n/a"
        }
      }
      return {
        figures: `request/response ${r(ours(requests).ratio)}, bulk ${r(ours(bulk).ratio)}; ` +
          `proxy process CPU ${cpu(requests)} / ${cpu(bulk)} the pipe proxy's`,
        met: ours(requests).ratio.median >= 0.8 && ours(bulk).ratio.median >= 0.8
      }
    }
  },
  {
    title: "Client CPU per request, Redis PING at concurrency 50 through `withConnection`",
    target: "<= 1.3x the bare Effect client's",
    judge: (results) => {
      const w = workload(results, W.pingC50)
      const mine = ours(w)
      const bare = named(w, V.bareEffect)
      const vs = between(mine, bare, cpuOf)
      const us = (v: VariantResult) => v.cpu === undefined ? "n/a" : `${fmt(v.cpu.median)} us`
      return {
        figures: `${r(vs)}x (${us(mine)} against ${us(bare)}; raw ${us(named(w, V.raw))}, ioredis ${
          us(named(w, V.ioredis))
        })`,
        met: vs.median <= 1.3
      }
    }
  },
  ceilingRow(W.poolSocket, "`withConnection` with no I/O (pooled, nothing sent)", "<= 1 us", 1000),
  ceilingRow(W.idleMemory, "JS heap per idle pooled connection", "<= 1.5 KB", 1.5)
]

export const evaluateTargets = (workloads: ReadonlyArray<WorkloadResult>): Array<TargetResult> => {
  const results: Results = new Map(workloads.map((w) => [w.id, w]))
  return ROWS.map((row) => {
    try {
      const { figures, met } = row.judge(results)
      return { title: row.title, target: row.target, figures, verdict: met ? "met" : "missed" }
    } catch (error) {
      if (!(error instanceof Missing)) throw error
      return {
        title: row.title,
        target: row.target,
        figures: `(${error.message} not measured)`,
        verdict: "not measured"
      }
    }
  })
}
