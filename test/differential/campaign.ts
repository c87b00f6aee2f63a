/**
 * A campaign: `count` programs drawn from a seed, each run by nginx (OpenResty) and by the library
 * at the same time against the replay peer, compared; the first few unlisted differences are
 * shrunk (fast-check, from the failing program) to the smallest program that still differs.
 * Bounded in count and in time; everything it starts is stopped by the caller's scope.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as fc from "fast-check"
import { type Bullet, BULLETS, compare, type Verdict } from "./compare.js"
import { program as programArbitrary } from "./generate.js"
import { runLibrary } from "./library.js"
import * as Nginx from "./nginx.js"
import { type Program, show } from "./program.js"
import * as ReplayPeer from "./replayPeer.js"

export interface Run {
  readonly program: Program
  readonly openresty: ReadonlyArray<string>
  readonly ours: ReadonlyArray<string>
  readonly verdict: Verdict
}

export interface Report {
  readonly seed: number
  readonly requested: number
  readonly ran: number
  readonly milliseconds: number
  readonly version: string
  readonly same: number
  /** Programs that agree once a stream-neutral listed difference was normalised, per bullet. */
  readonly normalised: Record<Bullet, number>
  /** Programs that agree up to a listed difference after which the sides read elsewhere, per bullet. */
  readonly listed: Record<Bullet, number>
  readonly differ: ReadonlyArray<Run>
  /**
   * Programs that differed once but not when run again alone: the arrival the harness arranges
   * (released data in within the read timeout) did not hold on a loaded machine. Not counted as
   * differences; listed so that a real race would still be seen.
   */
  readonly unstable: ReadonlyArray<Run>
  /** The first unlisted differences, shrunk. */
  readonly shrunk: ReadonlyArray<Run>
}

export interface Options {
  readonly seed: number
  readonly count: number
  /** Stop drawing programs after this long (the report says how many ran). */
  readonly timeLimitMs: number
  /** How many differing programs to shrink (each bounded by `shrinkTimeLimitMs`). */
  readonly shrink: number
  readonly shrinkTimeLimitMs: number
  readonly onProgress?: (ran: number, report: () => Report) => void
}

interface Env {
  readonly nginx: Nginx.Nginx
  readonly peer: ReplayPeer.ReplayPeer
}

/** Runs one program on both sides at once and compares. */
export const runOne = (env: Env, program: Program): Effect.Effect<Run> =>
  Effect.gen(function*() {
    const a = env.peer.register(program)
    const b = env.peer.register(program)
    const [openresty, ours] = yield* Effect.all([
      Effect.promise(() => env.nginx.run(program, env.peer.port, a).catch((e) => [`HARNESS ${String(e)}`])),
      runLibrary(program, env.peer.port, b)
    ], { concurrency: 2 })
    env.peer.forget(a)
    env.peer.forget(b)
    return { program, openresty, ours, verdict: compare(program, openresty, ours) }
  })

const CONCURRENCY = 6

const zero = (): Record<Bullet, number> => ({ sized: 0, heldBack: 0, endMarker: 0, dirty: 0, keepaliveRule: 0 })

/** Shrinks a differing program: fast-check starts from it and keeps the smallest that still differs. */
const shrink = (env: Env, failing: Program, seed: number, timeLimitMs: number): Promise<Run | undefined> => {
  let last: Run | undefined
  return fc.check(
    fc.asyncProperty(programArbitrary, async (program) => {
      const run = await Effect.runPromise(runOne(env, program))
      if (run.verdict._tag === "Differ") last = run
      return run.verdict._tag !== "Differ"
    }),
    { examples: [[failing]], numRuns: 1, seed, interruptAfterTimeLimit: timeLimitMs }
  ).then(() => last)
}

export const run = (options: Options): Effect.Effect<Report, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const nginx = yield* Nginx.make
    const peer = yield* ReplayPeer.make
    const env: Env = { nginx, peer }
    const programs = fc.sample(programArbitrary, { seed: options.seed, numRuns: options.count })
    const started = Date.now()
    const normalised = zero()
    const listed = zero()
    const differ: Array<Run> = []
    const unstable: Array<Run> = []
    let same = 0
    let ran = 0
    const report = (shrunk: ReadonlyArray<Run>): Report => ({
      seed: options.seed,
      requested: options.count,
      ran,
      milliseconds: Date.now() - started,
      version: nginx.version,
      same,
      normalised: { ...normalised },
      listed: { ...listed },
      differ: [...differ],
      unstable: [...unstable],
      shrunk
    })
    // A few programs at a time: each mostly waits (read timeouts), and arrival is tied to
    // operations, so running them side by side changes no result.
    const suspects: Array<Run> = []
    yield* Effect.forEach(programs, (program) =>
      Effect.suspend(() => {
        if (Date.now() - started > options.timeLimitMs) return Effect.void
        return Effect.flatMap(runOne(env, program), (r) => {
          const broken = [...r.openresty, ...r.ours].find((line) => line.startsWith("HARNESS"))
          if (broken !== undefined) return Effect.fail(new Error(`${broken}\n${show(r.program)}`))
          ran++
          const v = r.verdict
          if (v._tag === "Differ") suspects.push(r)
          else {
            if (v._tag === "Same") same++
            else listed[v.bullet]++
            for (const bullet of v.normalised) normalised[bullet]++
          }
          options.onProgress?.(ran, () => report([]))
          return Effect.void
        })
      }), { concurrency: CONCURRENCY, discard: true })
    // A difference is confirmed when the program differs the same way twice more, run alone.
    for (const r of suspects) {
      let confirmed = true
      for (let again = 0; again < 2 && confirmed; again++) {
        const rerun = yield* runOne(env, r.program)
        confirmed = JSON.stringify(rerun.verdict) === JSON.stringify(r.verdict)
      }
      if (confirmed) differ.push(r)
      else unstable.push(r)
    }
    const shrunk: Array<Run> = []
    for (const r of differ.slice(0, options.shrink)) {
      const s = yield* Effect.promise(() => shrink(env, r.program, options.seed, options.shrinkTimeLimitMs))
      shrunk.push(s ?? r)
    }
    return report(shrunk)
  })

const showRun = (r: Run): string => {
  const v = r.verdict
  const where = v._tag === "Differ"
    ? `operation ${v.step}: OpenResty ${JSON.stringify(v.openresty)}, ours ${JSON.stringify(v.ours)} (${v.why})`
    : v._tag
  return [
    where,
    show(r.program),
    `OpenResty: ${JSON.stringify(r.openresty)}`,
    `ours:      ${JSON.stringify(r.ours)}`
  ].join("\n")
}

/** A short text summary (and the shrunk differences in full). */
export const summary = (r: Report): string => {
  const bullets = (counts: Record<Bullet, number>) =>
    (Object.keys(BULLETS) as Array<Bullet>).map((b) => `    ${counts[b]}  ${BULLETS[b]}`).join("\n")
  return [
    `differential campaign: seed ${r.seed}, ${r.ran} of ${r.requested} programs in ${
      (r.milliseconds / 1000).toFixed(1)
    } s`,
    `against ${r.version}`,
    `  identical results:                 ${r.same}`,
    `  agree up to a listed difference:   ${r.ran - r.same - r.differ.length - r.unstable.length}`,
    bullets(r.listed),
    `  normalised (stream-neutral), in programs that agree:`,
    bullets(r.normalised),
    `  differences outside the README's list: ${r.differ.length}`,
    `  unstable (differed once, agreed when run again alone): ${r.unstable.length}`,
    ...r.shrunk.map((s, i) => `\n--- unlisted difference ${i + 1} (shrunk) ---\n${showRun(s)}`)
  ].join("\n")
}
