/**
 * The fault plan of the testing kit's fault proxy (../testing/FaultProxy.ts): its validated
 * options and a seeded chooser that draws one fault per chunk. Pure: the same seed and
 * probabilities give the same sequence of faults on every run and platform.
 *
 * @internal
 */
import type { InvalidArgument } from "../CosocketError.js"
import type { Fault } from "../testing/FaultProxy.js"
import * as validate from "./validate.js"

/** The faults other than `pass`, in the order the chooser lays out their probabilities. */
export const injected = ["delay", "split", "stall", "resetMidReply", "finMidReply", "resetAfterReply"] as const

/** Every fault, `pass` first. */
export const all: ReadonlyArray<Fault> = ["pass", ...injected]

export type { Fault }

export type Probabilities = { readonly [F in (typeof injected)[number]]: number }

/** Validated fault-proxy options (the target aside). */
export interface Plan {
  readonly seed: number
  readonly probabilities: Probabilities
  readonly delayMillis: number
  readonly stallMillis: number
  readonly resetAfterMillis: number
}

const optionNames = ["seed", "probabilities", "delayMillis", "stallMillis", "resetAfterMillis"] as const

const millis = (name: string, input: unknown, fallback: number): number | InvalidArgument => {
  if (input === undefined) return fallback
  if (typeof input !== "number" || !Number.isFinite(input) || input < 0) {
    return validate.invalid(name, `bad "${name}" option: a non-negative number of milliseconds expected`)
  }
  return input
}

/** Validates the plan: probabilities in 0..1 summing to at most 1, a numeric seed, times >= 0. */
export const parse = (options: unknown): Plan | InvalidArgument =>
  validate.guard("options", () => {
    const o = validate.snapshot("options", options, optionNames)
    if (validate.isInvalid(o)) return o
    const seed = o.seed === undefined ? 0 : o.seed
    if (typeof seed !== "number" || !Number.isFinite(seed)) {
      return validate.invalid("seed", `bad "seed" option: a finite number expected, got ${validate.typeName(seed)}`)
    }
    const given = validate.snapshot("probabilities", o.probabilities, injected)
    if (validate.isInvalid(given)) return given
    const probabilities = {} as { [F in (typeof injected)[number]]: number }
    let sum = 0
    for (const fault of injected) {
      const p = given[fault] === undefined ? 0 : given[fault]
      if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
        return validate.invalid("probabilities", `bad "${fault}" probability: a number in 0..1 expected`)
      }
      probabilities[fault] = p
      sum += p
    }
    if (sum > 1 + 1e-9) {
      return validate.invalid(
        "probabilities",
        `the fault probabilities add up to ${Number(sum.toFixed(9))}, more than 1`
      )
    }
    const delayMillis = millis("delayMillis", o.delayMillis, 5)
    if (validate.isInvalid(delayMillis)) return delayMillis
    const stallMillis = millis("stallMillis", o.stallMillis, 1_000)
    if (validate.isInvalid(stallMillis)) return stallMillis
    const resetAfterMillis = millis("resetAfterMillis", o.resetAfterMillis, 1)
    if (validate.isInvalid(resetAfterMillis)) return resetAfterMillis
    return { seed: Math.trunc(seed) >>> 0, probabilities, delayMillis, stallMillis, resetAfterMillis }
  })

/** Draws faults: mulberry32 over the seed, one draw per chunk. */
export class Chooser {
  private state: number

  constructor(readonly plan: Plan) {
    this.state = plan.seed
  }

  /** A uniform number in [0, 1). */
  private random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  next(): Fault {
    let u = this.random()
    for (const fault of injected) {
      const p = this.plan.probabilities[fault]
      if (u < p) return fault
      u -= p
    }
    return "pass"
  }
}
