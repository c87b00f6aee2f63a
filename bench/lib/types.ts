/**
 * The shapes of the bench: a workload has variants (ours and the baselines), each measured once
 * per round; ratios are taken against the workload's reference variant within the same round.
 */

export interface Sample {
  /** The figure in the workload's unit. */
  readonly value: number
  /** Latency percentiles in milliseconds, where the workload records them. */
  readonly p50?: number | undefined
  readonly p99?: number | undefined
}

export type Role = "ours" | "reference" | "baseline"

export interface Variant {
  readonly name: string
  readonly role: Role
  readonly measure: (durationMs: number) => Promise<Sample>
}

export type Target =
  | {
    readonly kind: "ratio"
    /** ours / reference must be at least this (higher is better units). */
    readonly min: number
    /** ours' p99 / reference's p99 must be at most this. */
    readonly p99Max?: number | undefined
  }
  | {
    readonly kind: "max"
    /** ours must be at most this value, in the workload's unit. */
    readonly value: number
  }
  | {
    readonly kind: "maxOverReference"
    /** ours minus the reference must be at most this, in the workload's unit. */
    readonly value: number
  }

export interface Workload {
  readonly id: string
  readonly title: string
  readonly unit: string
  readonly higherIsBetter: boolean
  readonly latency?: boolean | undefined
  readonly target?: Target | undefined
  readonly targetText: string
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
