/**
 * The shapes of the bench: a workload has variants (ours and the baselines), each measured once
 * per round; ratios are taken against the workload's reference variant within the same round.
 * The targets (targets.ts) are judged on those figures.
 */

export interface Sample {
  /** The figure in the workload's unit. */
  readonly value: number
  /** Latency percentiles in milliseconds, where the workload records them. */
  readonly p50?: number | undefined
  readonly p99?: number | undefined
  /**
   * CPU time (user + system, microseconds) per unit of the figure (per operation, per MB), where
   * the workload measures it; whose CPU is the workload's `cpu` text.
   */
  readonly cpuUs?: number | undefined
}

/**
 * Thrown by a variant's `measure` when what it measures does not exist yet: the report shows
 * "not available" and the run does not count it as a failure.
 */
export class NotAvailable extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = "NotAvailable"
  }
}

export type Role = "ours" | "reference" | "baseline"

export interface Variant {
  readonly name: string
  readonly role: Role
  readonly measure: (durationMs: number) => Promise<Sample>
}

export interface Workload {
  readonly id: string
  readonly title: string
  readonly unit: string
  readonly higherIsBetter: boolean
  readonly latency?: boolean | undefined
  /** Header of the CPU column, when the samples carry `cpuUs` (whose CPU, per what). */
  readonly cpu?: string | undefined
  readonly variants: ReadonlyArray<Variant>
  /** Extra note printed under the table. */
  readonly note?: string | undefined
  /** Rounds in a full run when not the default. */
  readonly rounds?: number | undefined
}

/** Formats a figure with thousands separators and a sensible number of digits. */
export const fmt = (n: number): string => {
  if (!Number.isFinite(n)) return "n/a"
  const abs = Math.abs(n)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
