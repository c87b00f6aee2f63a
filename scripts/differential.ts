/**
 * The differential campaign against a real nginx + lua-nginx-module (see test/differential/):
 *
 *   npx tsx scripts/differential.ts [--seed N] [--count N] [--minutes M] [--report FILE]
 *
 * Runs `count` generated read programs (default 5000, seed from the clock unless given) through
 * OpenResty and through the library, compares them, shrinks the first unlisted differences, prints
 * a summary and writes the full report (JSON, every differing program) to FILE
 * (default differential-report.json). Exits 1 when a difference is outside the README's list.
 */
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Campaign from "../test/differential/campaign.js"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const seed = Number(arg("seed") ?? Date.now() % 2 ** 31)
const count = Number(arg("count") ?? 5000)
const minutes = Number(arg("minutes") ?? 60)
const file = arg("report") ?? "differential-report.json"

const program = Effect.scoped(Campaign.run({
  seed,
  count,
  timeLimitMs: minutes * 60_000,
  shrink: 5,
  shrinkTimeLimitMs: 120_000,
  onProgress: (ran) => {
    if (ran % 250 === 0) process.stderr.write(`${ran}/${count}\n`)
  }
}))

Effect.runPromise(program).then((report) => {
  Fs.writeFileSync(file, JSON.stringify(report, null, 2))
  console.log(Campaign.summary(report))
  console.log(`\nreport: ${file}`)
  process.exit(report.differ.length === 0 && report.ran === report.requested ? 0 : 1)
}, (error) => {
  console.error(error)
  process.exit(2)
})
