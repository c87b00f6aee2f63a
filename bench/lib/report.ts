/**
 * Turns the samples of a run into per-workload summaries, the targets table (targets.ts), the
 * console tables, BENCHMARKS.md and the JSON of raw figures.
 */
import { summarize, type Summary } from "./stats.js"
import { evaluateTargets, type TargetResult } from "./targets.js"
import { fmt, type Role, type Sample, type Workload } from "./types.js"

export interface VariantResult {
  readonly name: string
  readonly role: string
  readonly samples: ReadonlyArray<Sample | undefined>
  readonly errors: ReadonlyArray<string>
  /** Why the variant could not be measured (the API it needs does not exist yet). */
  readonly notAvailable: string | undefined
  readonly summary: Summary
  readonly p50?: Summary | undefined
  readonly p99?: Summary | undefined
  /** Relative speed to the reference per round (higher is better for every unit). */
  readonly ratio: Summary
  readonly ratios: ReadonlyArray<number>
  readonly p99Ratio?: Summary | undefined
  /** CPU per unit of the figure (microseconds), where measured. */
  readonly cpu?: Summary | undefined
}

export interface WorkloadResult {
  readonly id: string
  readonly title: string
  readonly unit: string
  readonly higherIsBetter: boolean
  readonly cpu: string | undefined
  readonly note: string | undefined
  readonly variants: ReadonlyArray<VariantResult>
}

/** The samples of one workload, indexed [variant][round]. */
export type Samples = ReadonlyArray<Array<Sample | undefined>>

const relative = (w: Workload, ours: number, ref: number): number => w.higherIsBetter ? ours / ref : ref / ours

export const analyse = (
  w: Workload,
  samples: Samples,
  errors: ReadonlyArray<Array<string>>,
  notAvailable: ReadonlyArray<string | undefined> = []
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
    const cpus = own.flatMap((s) => s?.cpuUs === undefined ? [] : [s.cpuUs])
    return {
      name: v.name,
      role: v.role,
      samples: own,
      errors: errors[i],
      notAvailable: notAvailable[i],
      summary: summarize(values),
      p50: p50s.length > 0 ? summarize(p50s) : undefined,
      p99: p99s.length > 0 ? summarize(p99s) : undefined,
      ratio: summarize(ratios),
      ratios,
      p99Ratio: p99Ratios.length > 0 ? summarize(p99Ratios) : undefined,
      cpu: cpus.length > 0 ? summarize(cpus) : undefined
    }
  })
  return {
    id: w.id,
    title: w.title,
    unit: w.unit,
    higherIsBetter: w.higherIsBetter,
    cpu: w.cpu,
    note: w.note,
    variants
  }
}

const pct = (s: Summary) => Number.isFinite(s.spread) ? `${Math.round(s.spread * 100)}%` : "n/a"

const range = (s: Summary, digits?: number) =>
  s.n === 0
    ? "n/a"
    : digits === undefined
    ? `${fmt(s.min)}-${fmt(s.max)}`
    : `${s.min.toFixed(digits)}-${s.max.toFixed(digits)}`

export const summaryTable = (targets: ReadonlyArray<TargetResult>): Array<string> => [
  "| # | workload | target | same-run figures (median of rounds; min-max) | verdict |",
  "|---:|---|---|---|---|",
  ...targets.map((t, i) => `| ${i + 1} | ${t.title} | ${t.target} | ${t.figures} | ${t.verdict} |`),
  "",
  `Met: ${targets.filter((t) => t.verdict === "met").length} of ${targets.length}.`
]

export const detailTable = (r: WorkloadResult): Array<string> => {
  const latency = r.variants.some((v) => v.p99 !== undefined)
  const cpu = r.cpu !== undefined && r.variants.some((v) => v.cpu !== undefined)
  const header = `| variant | ${r.unit} (median) | min-max (spread) | relative to ${
    r.variants.find((v) => v.role === "reference")?.name ?? "(no reference in this run)"
  } (median, min-max) |${latency ? " p50 ms | p99 ms | p99 vs raw |" : ""}${cpu ? ` ${r.cpu} (median, min-max) |` : ""}`
  const rows = r.variants.map((v) => {
    if (v.notAvailable !== undefined) {
      return `| ${v.name} | not available: ${v.notAvailable} | | |${latency ? " | | |" : ""}${cpu ? " |" : ""}`
    }
    const err = v.errors.length > 0 ? ` (errors: ${v.errors.length}: ${v.errors[0].slice(0, 80)})` : ""
    let row = `| ${v.name}${err} | ${fmt(v.summary.median)} | ${range(v.summary)} (${pct(v.summary)}) | ${
      v.ratio.n > 0 ? `${v.ratio.median.toFixed(2)} (${range(v.ratio, 2)})` : "n/a"
    } |`
    if (latency) {
      row += ` ${v.p50 ? fmt(v.p50.median) : "n/a"} | ${v.p99 ? fmt(v.p99.median) : "n/a"} | ${
        v.p99Ratio ? `${v.p99Ratio.median.toFixed(2)}x` : "n/a"
      } |`
    }
    if (cpu) row += ` ${v.cpu ? `${fmt(v.cpu.median)} (${range(v.cpu)})` : "n/a"} |`
    return row
  })
  return [
    header,
    `|---|---:|---:|---:|${latency ? "---:|---:|---:|" : ""}${cpu ? "---:|" : ""}`,
    ...rows
  ]
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
  readonly targets: ReadonlyArray<TargetResult>
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
    "compare the ratios." +
    (machine.loadAverage[0] > machine.cores
      ? ` This run started with more runnable processes than the ${machine.cores} cores: single rounds` +
        " swung far (see the min-max columns), so a verdict whose median sits near its target may flip in the" +
        " next run; the CPU-per-operation columns move less than the rates."
      : ""),
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
    "on loopback, and so do the two proxies of the proxy workloads (bench/lib/proxyServer.ts); the client side of " +
    "every variant runs in the bench process. CPU columns: `process.cpuUsage` (user + system) per operation or MB, " +
    "over the timed window for the clients, over the whole measurement for a proxy's process.",
    "",
    "## Targets",
    "",
    "The targets of issue 15, each judged on figures measured in this run: a ratio is the median of " +
    "per-round ratios (both figures from the same round); \"not measured\": the run did not include it.",
    "",
    ...summaryTable(options.targets),
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
export type WorkloadInfo = Pick<Workload, "id" | "title" | "unit" | "higherIsBetter" | "latency" | "cpu" | "note">

export const workloadInfo = (w: WorkloadInfo): WorkloadInfo => ({
  id: w.id,
  title: w.title,
  unit: w.unit,
  higherIsBetter: w.higherIsBetter,
  latency: w.latency,
  cpu: w.cpu,
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
      readonly variants: ReadonlyArray<{
        readonly name: string
        readonly role: Role
        readonly samples: ReadonlyArray<Sample | null>
        readonly errors: ReadonlyArray<string>
        readonly notAvailable?: string | undefined
      }>
    }
  >
  /** The verdicts as judged when the run was written (recomputed by --report-only). */
  readonly targets?: ReadonlyArray<TargetResult> | undefined
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
      w.variants.map((v) => Array.from(v.errors)),
      w.variants.map((v) => v.notAvailable)
    )
  })

/** The workloads' summaries and the targets judged on them. */
export const judge = (
  recorded: Recorded
): { readonly results: Array<WorkloadResult>; readonly targets: Array<TargetResult> } => {
  const results = analyseRecorded(recorded)
  return { results, targets: evaluateTargets(results) }
}
