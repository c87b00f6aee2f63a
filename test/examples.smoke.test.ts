/**
 * Every runnable program in examples/ (examples/*.ts and examples/<name>/main.ts) runs to a clean
 * exit: exit code 0, within the time limit, without being killed — a leaked socket, timer or
 * server would keep the process alive.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const examples = Path.join(root, "examples")

const programs = Fs.readdirSync(examples, { withFileTypes: true }).flatMap((entry) => {
  if (entry.isFile() && entry.name.endsWith(".ts")) return [Path.join("examples", entry.name)]
  const main = Path.join(examples, entry.name, "main.ts")
  return entry.isDirectory() && Fs.existsSync(main) ? [Path.join("examples", entry.name, "main.ts")] : []
})

const runProgram = (file: string) =>
  Effect.callback<{ code: number | null; signal: string | null; output: string }>((resume) => {
    const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", file], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (d) => (output += d))
    child.stderr.on("data", (d) => (output += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, signal, output }))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      child.kill("SIGKILL")
    })
  })

describe("examples", () => {
  it("finds the quickstart", () => {
    expect(programs).toContain(Path.join("examples", "quickstart.ts"))
  })

  for (const file of programs) {
    it.live(`${file} runs and exits 0 by itself`, () =>
      Effect.gen(function*() {
        const result = yield* runProgram(file)
        expect({ code: result.code, signal: result.signal }, result.output).toEqual({ code: 0, signal: null })
      }), 90_000)
  }

  it.live("the quickstart prints the pooled exchange", () =>
    Effect.gen(function*() {
      const result = yield* runProgram(Path.join("examples", "quickstart.ts"))
      expect(result.output).toContain("PING         -> +PONG    (connection reused 0 times)")
      expect(result.output).toContain("(connection reused 3 times)")
    }), 90_000)
})
