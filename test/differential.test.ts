/**
 * Differential conformance against the real OpenResty: Debian's nginx 1.22 with
 * lua-nginx-module 0.10.23 (`libnginx-mod-http-lua`), started on a free loopback port and stopped
 * by its process id. Seeded read programs run in nginx (Lua, `ngx.socket.tcp`) and through the
 * library against the same replay peer; every difference outside README.md's "Deliberate
 * differences" fails, with the smallest failing program. Missing packages fail with the install
 * command. A larger campaign: `npx tsx scripts/differential.ts --count 5000 [--seed N]`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Campaign from "./differential/campaign.js"
import { BULLETS, compare } from "./differential/compare.js"
import type { Program } from "./differential/program.js"

const SEED = 17
const PROGRAMS = 500

describe("differential: the library against nginx + lua-nginx-module", () => {
  it.live(
    `${PROGRAMS} seeded read programs agree with OpenResty, up to the README's deliberate differences`,
    () =>
      Effect.gen(function*() {
        const report = yield* Campaign.run({
          seed: SEED,
          count: PROGRAMS,
          timeLimitMs: 150_000,
          shrink: 1,
          shrinkTimeLimitMs: 30_000
        })
        const summary = Campaign.summary(report)
        expect(report.version).toMatch(/^nginx\/1\.22\.\d+, lua-nginx-module 0\.10\.23$/)
        // On failure the message is the summary, with the shrunk program that differs.
        expect(report.ran, summary).toBe(PROGRAMS)
        expect(report.differ.length, summary).toBe(0)
      }).pipe(Effect.scoped),
    { timeout: 200_000 }
  )

  it("each README bullet the comparator normalises is in README.md's deliberate differences", () => {
    const readme = Fs.readFileSync(Path.join(import.meta.dirname, "..", "README.md"), "utf8")
    const section = readme.slice(readme.indexOf("## Deliberate differences from OpenResty"))
    for (const bullet of Object.values(BULLETS)) expect(section).toContain(`- **${bullet}`)
  })

  // The comparator itself, on two examples (results as nginx printed them).
  const program = (ops: Program["ops"], reader: Program["reader"], chunks: Program["chunks"], fin: number | null) => ({
    chunks,
    fin,
    byteByByte: false,
    reader,
    ops
  })

  it("comparator: OpenResty's end marker from it() is read's empty bytes (normalised, the comparison goes on)", () => {
    const p = program(
      [{ _tag: "chunk", back: 0, size: 2 }, { _tag: "read", back: 0 }, { _tag: "line" }],
      { pattern: "x", inclusive: false },
      [{ bytes: "x", at: 0, pause: 0 }],
      0
    )
    expect(compare(p, ["OK ", "END", "ERR closed "], ["OK ", "OK ", "ERR closed "])).toEqual({
      _tag: "Same",
      normalised: ["endMarker"]
    })
    expect(compare(p, ["OK ", "END", "ERR closed "], ["OK ", "OK ", "ERR closed 78"])).toMatchObject({
      _tag: "Differ",
      step: 2
    })
  })

  it("comparator: held-back bytes a foreign read sees are a listed difference; other differences are not", () => {
    const p = program(
      [{ _tag: "read", back: 0 }, { _tag: "line" }],
      { pattern: "--", inclusive: true },
      [{ bytes: "-", at: 0, pause: 0 }],
      null
    )
    expect(compare(p, ["ERR timeout ", "ERR timeout "], ["ERR timeout ", "ERR timeout 2d"])).toEqual({
      _tag: "Listed",
      bullet: "heldBack",
      step: 1,
      normalised: []
    })
    expect(compare(p, ["ERR timeout ", "ERR timeout "], ["ERR timeout ", "ERR timeout 78"])).toMatchObject({
      _tag: "Differ",
      step: 1
    })
  })

  it("comparator: a longer sized chunk from OpenResty is a listed difference only when ours is its prefix", () => {
    const p = program(
      [{ _tag: "chunk", back: 0, size: 1 }],
      { pattern: "--abc", inclusive: false },
      [{ bytes: "--x", at: 0, pause: 0 }],
      0
    )
    expect(compare(p, ["OK 2d2d"], ["OK 2d"])).toMatchObject({ _tag: "Listed", bullet: "sized", step: 0 })
    expect(compare(p, ["OK 2d2d"], ["OK 78"])).toMatchObject({ _tag: "Differ", step: 0 })
  })
})
