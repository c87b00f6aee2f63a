/**
 * Import time: wall time of a fresh Node process that imports a module and exits. The library is
 * imported from its plain-JS build (../lib/build.ts), as a user of the published package loads it.
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as Url from "node:url"
import { distDir } from "../lib/build.js"
import { VARIANT, WORKLOAD } from "../lib/names.js"
import type { Sample, Workload } from "../lib/types.js"

const root = Path.resolve(Path.dirname(Url.fileURLToPath(import.meta.url)), "../..")

const spawnMs = (args: ReadonlyArray<string>): Promise<Sample> =>
  new Promise((resolve, reject) => {
    const start = performance.now()
    const child = ChildProcess.spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], cwd: root })
    let err = ""
    child.stderr.on("data", (d) => (err += String(d)))
    child.once("exit", (code) => {
      const ms = performance.now() - start
      if (code !== 0) reject(new Error(`node ${args.join(" ")} failed (${code}): ${err.trim()}`))
      else resolve({ value: ms })
    })
  })

const importing = (specifiers: ReadonlyArray<string>) => () =>
  spawnMs(["--input-type=module", "-e", specifiers.map((s) => `import ${JSON.stringify(s)}`).join("\n")])

export const workloads = (): ReadonlyArray<Workload> => {
  const index = Url.pathToFileURL(Path.join(distDir, "index.js")).href
  const node = Url.pathToFileURL(Path.join(distDir, "node", "index.js")).href
  return [
    {
      id: WORKLOAD.importTime,
      title: "Import time (fresh process, wall clock)",
      unit: "ms",
      higherIsBetter: false,
      note: "effect-cosocket = `effect-cosocket` + `effect-cosocket/node` (what a Node program imports); " +
        "ratio column: ours vs `import \"effect\"`",
      variants: [
        { name: VARIANT.ours, role: "ours", measure: importing([index, node]) },
        { name: "import \"effect\"", role: "reference", measure: importing(["effect"]) },
        { name: "node -e 0", role: "baseline", measure: () => spawnMs(["-e", "0"]) },
        {
          name: "@effect/platform-node/NodeSocket",
          role: "baseline",
          measure: importing(["@effect/platform-node/NodeSocket"])
        }
      ]
    }
  ]
}
