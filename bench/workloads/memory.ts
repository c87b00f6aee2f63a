/**
 * JS heap per idle pooled connection: 1,000 idle connections to redis-server, measured in a child
 * process with `--expose-gc` (see memoryChild.ts).
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as Url from "node:url"
import * as nodeSocket from "../baselines/nodeSocket.js"
import { VARIANT, WORKLOAD } from "../lib/names.js"
import { track } from "../lib/processes.js"
import type { Sample, Workload } from "../lib/types.js"

const here = Path.dirname(Url.fileURLToPath(import.meta.url))

const measure = (variant: string, host: string, port: number, count: number): Promise<Sample> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", Path.join(here, "memoryChild.ts"), variant, host, String(port), String(count)],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    track(child)
    let out = ""
    let err = ""
    child.stdout.on("data", (d) => (out += String(d)))
    child.stderr.on("data", (d) => (err += String(d)))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      const m = /^RESULT (.*)$/m.exec(out)
      if (code !== 0 || m === null) return reject(new Error(`memory child ${variant} failed (${code}): ${err.trim()}`))
      resolve({ value: JSON.parse(m[1]).bytesPerConnection / 1000 })
    })
  })

export const workloads = (host: string, port: number, count: number): ReadonlyArray<Workload> => [
  {
    id: WORKLOAD.idleMemory,
    title: `JS heap per idle pooled connection (${count.toLocaleString("en-US")} idle)`,
    unit: "KB/conn",
    higherIsBetter: false,
    note: "1 KB = 1,000 bytes; heapUsed after forced GC, in a child process per sample; " +
      `${nodeSocket.NAME}: each connection's reader acquired in a scope of its own, its pull and writer kept`,
    variants: [
      { name: VARIANT.ours, role: "ours", measure: () => measure("ours", host, port, count) },
      { name: VARIANT.raw, role: "reference", measure: () => measure("raw", host, port, count) },
      { name: nodeSocket.NAME, role: "baseline", measure: () => measure("nodeSocket", host, port, count) }
    ]
  }
]
