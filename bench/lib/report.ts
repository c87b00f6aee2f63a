/**
 * Turns the samples of a run into per-workload summaries, target verdicts, the console table,
 * BENCHMARKS.md and the JSON of raw figures.
 */
import { median, summarize, type Summary } from "./stats.js"
import { fmt, type Role, type Sample, type Workload } from "./types.js"

export interface VariantResult {
  readonly name: string
  readonly role: string
  readonly samples: ReadonlyArray<Sample | undefined>
  readonly errors: ReadonlyArray<string>
  readonly summary: Summary
  readonly p50?: Summary | undefined
  readonly p99?: Summary | undefined
  /** Relative speed to the reference per round (higher is better for every unit). */
  readonly ratio: Summary
  readonly ratios: ReadonlyArray<number>
  readonly p99Ratio?: Summary | undefined
}

export interface WorkloadResult {
  readonly id: string
  readonly title: string
  readonly unit: string
  readonly higherIsBetter: boolean
  readonly targetText: string
  readonly note: string | undefined
  readonly variants: ReadonlyArray<VariantResult>
  readonly verdict: "met" | "missed" | "n/a"
  readonly headline: string
}

/** The samples of one workload, indexed [variant][round]. */
export type Samples = ReadonlyArray<Array<Sample | undefined>>

const relative = (w: Workload, ours: number, ref: number): number => w.higherIsBetter ? ours / ref : ref / ours

export const analyse = (
  w: Workload,
  samples: Samples,
  errors: ReadonlyArray<Array<string>>
): WorkloadResult => {
  const refIndex = w.variants.findIndex((v) => v.role === "reference")
  const ref = samples[refIndex] ?? []
  const variants = w.variants.map((v, i): VariantResult => {
    const own = samples[i]
    const ratios: Array<number> = []
    const p99Ratios: Array<number> = []
    own.forEach((s, round) => {
      const r = ref[round]
      if (s === undefined || r === undefined) return
      ratios.push(relative(w, s.value, r.value))
      if (s.p99 !== undefined && r.p99 !== undefined) p99Ratios.push(s.p99 / r.p99)
    })
    const values = own.flatMap((s) => s === undefined ? [] : [s.value])
    const p50s = own.flatMap((s) => s?.p50 === undefined ? [] : [s.p50])
    const p99s = own.flatMap((s) => s?.p99 === undefined ? [] : [s.p99])
    return {
      name: v.name,
      role: v.role,
      samples: own,
      errors: errors[i],
      summary: summarize(values),
      p50: p50s.length > 0 ? summarize(p50s) : undefined,
      p99: p99s.length > 0 ? summarize(p99s) : undefined,
      ratio: summarize(ratios),
      ratios,
      p99Ratio: p99Ratios.length > 0 ? summarize(p99Ratios) : undefined
    }
  })
  const ours = variants.find((v) => v.role === "ours")!
  const reference = variants[refIndex]
  let verdict: WorkloadResult["verdict"] = "n/a"
  let headline = "n/a"
  const t = w.target
  if (t !== undefined && ours.summary.n > 0) {
    if (t.kind === "ratio") {
      const p99ok = t.p99Max === undefined || (ours.p99Ratio !== undefined && ours.p99Ratio.median <= t.p99Max)
      verdict = ours.ratio.median >= t.min && p99ok ? "met" : "missed"
      headline = `${ours.ratio.median.toFixed(2)} (${ours.ratio.min.toFixed(2)}-${ours.ratio.max.toFixed(2)})` +
        (ours.p99Ratio !== undefined ? `, p99 ${ours.p99Ratio.median.toFixed(2)}x raw` : "")
    } else if (t.kind === "max") {
      verdict = ours.summary.median <= t.value ? "met" : "missed"
      headline = `${fmt(ours.summary.median)} ${w.unit}`
    } else {
      const deltas = ours.samples.flatMap((s, round) => {
        const r = reference.samples[round]
        return s === undefined || r === undefined ? [] : [s.value - r.value]
      })
      const d = median(deltas)
      verdict = d <= t.value ? "met" : "missed"
      headline = `${d >= 0 ? "+" : ""}${fmt(d)} ${w.unit} over \`${reference.name}\``
    }
  }
  return {
    id: w.id,
    title: w.title,
    unit: w.unit,
    higherIsBetter: w.higherIsBetter,
    targetText: w.targetText,
    note: w.note,
    variants,
    verdict,
    headline
  }
}

const pct = (s: Summary) => Number.isFinite(s.spread) ? `${Math.round(s.spread * 100)}%` : "n/a"

const range = (s: Summary, digits?: number) =>
  s.n === 0
    ? "n/a"
    : digits === undefined
    ? `${fmt(s.min)}-${fmt(s.max)}`
    : `${s.min.toFixed(digits)}-${s.max.toFixed(digits)}`

export const summaryTable = (results: ReadonlyArray<WorkloadResult>): Array<string> => [
  "| workload | target | ours (median of rounds; ratio: min-max) | verdict |",
  "|---|---|---|---|",
  ...results.map((r) => `| ${r.title} | ${r.targetText} | ${r.headline} | ${r.verdict} |`)
]

export const detailTable = (r: WorkloadResult): Array<string> => {
  const latency = r.variants.some((v) => v.p99 !== undefined)
  const header = `| variant | ${r.unit} (median) | min-max (spread) | relative to ${
    r.variants.find((v) => v.role === "reference")?.name
  } (median, min-max) |${latency ? " p50 ms | p99 ms | p99 vs raw |" : ""}`
  const rows = r.variants.map((v) => {
    const err = v.errors.length > 0 ? ` (errors: ${v.errors.length}: ${v.errors[0].slice(0, 80)})` : ""
    const base = `| ${v.name}${err} | ${fmt(v.summary.median)} | ${range(v.summary)} (${pct(v.summary)}) | ${
      v.ratio.n > 0 ? `${v.ratio.median.toFixed(2)} (${range(v.ratio, 2)})` : "n/a"
    } |`
    if (!latency) return base
    return `${base} ${v.p50 ? fmt(v.p50.median) : "n/a"} | ${v.p99 ? fmt(v.p99.median) : "n/a"} | ${
      v.p99Ratio ? `${v.p99Ratio.median.toFixed(2)}x` : "n/a"
    } |`
  })
  return [header, `|---|---:|---:|---:|${latency ? "---:|---:|---:|" : ""}`, ...rows]
}

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly node: string
  readonly os: string
  readonly redis: string
  readonly loadAverage: ReadonlyArray<number>
}

export const markdown = (options: {
  readonly results: ReadonlyArray<WorkloadResult>
  readonly machine: Machine
  readonly date: string
  readonly command: string
  readonly rounds: number
  readonly durationMs: number
  readonly totalSeconds: number
  readonly analysis: string | undefined
}): string => {
  const { machine, results } = options
  const lines = [
    "# Benchmarks",
    "",
    "Generated by `" + options.command + "` (bench/run.ts) on " + options.date + "; do not edit by hand" +
    " (the analysis section comes from bench/analysis.md).",
    "",
    "## Machine",
    "",
    `- CPU: ${machine.cpu}, ${machine.cores} cores`,
    `- Node ${machine.node}, ${machine.os}`,
    `- ${machine.redis}`,
    `- Load average at start: ${
      machine.loadAverage.map((l) => l.toFixed(2)).join(", ")
    }. The machine is shared: other ` +
    "processes (test runs of other engineers) were running, so absolute figures vary by 30-50% between runs; " +
    "compare the ratios.",
    "",
    "## Method",
    "",
    `Every workload runs each variant once per round, in rotating order, for ${options.rounds} rounds ` +
    `(${options.durationMs} ms per measurement, after one untimed warm-up round; idle memory: 3 samples, import ` +
    `time: 7), all in one process and one run (${Math.round(options.totalSeconds)} s in total). ` +
    "effect-cosocket is loaded from a plain-JS build of src (bench/lib/build.ts), as users run it. " +
    "\"Relative\" is the variant's speed divided by the reference's " +
    "speed measured in the same round (for times and sizes: reference / variant, so above 1 is always better); " +
    "the table gives the median of those per-round ratios and their range. Spread is (max - min) / median of the " +
    "variant's own figures. redis-server and the data server (bench/lib/dataServer.ts) run in their own processes " +
    "on loopback; the client side of every variant runs in the bench process.",
    "",
    "## Targets",
    "",
    ...summaryTable(results),
    "",
    "## Figures",
    ""
  ]
  for (const r of results) {
    lines.push(`### ${r.title}`, "")
    for (const line of detailTable(r)) lines.push(line)
    lines.push("")
    if (r.note !== undefined) lines.push(`Note: ${r.note}.`, "")
  }
  if (options.analysis !== undefined) lines.push(options.analysis.trim(), "")
  return lines.join("\n")
}

/** What describes a workload, without its variants (as results.json records it). */
export type WorkloadInfo = Pick<Workload, "id" | "title" | "unit" | "higherIsBetter" | "target" | "targetText" | "note">

export const workloadInfo = (w: WorkloadInfo): WorkloadInfo => ({
  id: w.id,
  title: w.title,
  unit: w.unit,
  higherIsBetter: w.higherIsBetter,
  target: w.target,
  targetText: w.targetText,
  note: w.note
})

/** Everything a run measured, as written to bench/results.json. */
export interface Recorded {
  readonly date: string
  readonly command: string
  readonly machine: Machine
  readonly rounds: number
  readonly durationMs: number
  readonly totalSeconds: number
  readonly workloads: ReadonlyArray<
    WorkloadInfo & {
      readonly verdict?: string | undefined
      readonly variants: ReadonlyArray<{
        readonly name: string
        readonly role: Role
        readonly samples: ReadonlyArray<Sample | null>
        readonly errors: ReadonlyArray<string>
      }>
    }
  >
}

/** Analyses recorded figures (of this run, or of bench/results.json with --report-only). */
export const analyseRecorded = (recorded: Recorded): Array<WorkloadResult> =>
  recorded.workloads.map((w) => {
    const workload: Workload = {
      ...workloadInfo(w),
      variants: w.variants.map((v) => ({
        name: v.name,
        role: v.role,
        measure: () => Promise.reject(new Error("recorded"))
      }))
    }
    return analyse(
      workload,
      w.variants.map((v) => v.samples.map((s) => s ?? undefined)),
      w.variants.map((v) => Array.from(v.errors))
    )
  })
