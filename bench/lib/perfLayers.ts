/**
 * Splits a `perf record -g` profile of a bench process (run with `--perf-basic-prof`, so JIT code
 * has names) into layers: the kernel, the Effect runtime, effect-cosocket, the bench's own client
 * code, Node's JS, and the native code with no JS caller. A sample whose own frame is a V8
 * builtin or V8 / Node C++ is charged to the nearest JS frame above it (a megamorphic property
 * load in Effect's run loop is the runtime's cost). Samples whose own frame is the kernel's
 * `finish_task_switch` are counted apart: on this machine a write wakes the server, the client
 * is preempted, and the sample lands where the client is switched back in.
 *
 * Usage (see bench/analysis.md):
 *   perf record -F 1999 -g -p <pid of bench/run.ts> -o ours.data -- sleep 8
 *   npx tsx bench/lib/perfLayers.ts ours.data [top] [layer to list the leaves of]
 */
import * as ChildProcess from "node:child_process"

const [file, topText, leavesOf] = process.argv.slice(2)
const top = Number(topText ?? 25)

const script = ChildProcess.execFileSync("perf", ["script", "-i", file, "-F", "ip,sym,dso"], {
  encoding: "utf8",
  maxBuffer: 1 << 30,
  stdio: ["ignore", "pipe", "ignore"]
})

/** Each sample's frames, leaf first: [symbol, dso]. */
const samples: Array<Array<readonly [string, string]>> = []
let current: Array<readonly [string, string]> = []
for (const line of script.split("\n")) {
  if (line.trim() === "") {
    if (current.length > 0) samples.push(current)
    current = []
    continue
  }
  const m = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line)
  if (m !== null) current.push([m[1], m[2]])
}
if (current.length > 0) samples.push(current)

const nodeJs = /\bnode:[a-z]/

/** The layer of a JS frame, or undefined for native code. */
const jsLayer = (symbol: string): string | undefined => {
  if (symbol.includes("/node_modules/effect/")) return "the Effect runtime (effect)"
  if (symbol.includes("/.bench-tmp/dist/") || symbol.includes("/.bench-tmp/examples/")) {
    return "effect-cosocket (src/, and examples/ for the proxy)"
  }
  if (symbol.includes("/bench/")) return "the bench's client code (bench/)"
  if (nodeJs.test(symbol)) return "Node JS (net, streams, timers, nextTick)"
  if (symbol.includes("file://")) return "other JS"
  return undefined
}

const SWITCH_IN = "(switch-in after preemption)"
const byLayer = new Map<string, number>()
const leaves = new Map<string, number>()
const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)

for (const frames of samples) {
  const [symbol, dso] = frames[0]
  let layer: string
  if (symbol.includes("finish_task_switch")) layer = SWITCH_IN
  else if (dso.startsWith("[kernel")) layer = "kernel (TCP write and read, epoll)"
  else if (/Scaveng|MarkCompact|Sweep|Heap::|Marking|Evacuat|GCTracer/.test(symbol)) layer = "V8 garbage collector"
  else {
    const own = jsLayer(symbol)
    const above = own ?? frames.slice(1).map(([s]) => jsLayer(s)).find((l) => l !== undefined)
    layer = above ?? "native code with no JS caller (event loop, microtasks, compiler)"
  }
  add(byLayer, layer)
  if (layer !== SWITCH_IN) add(leaves, `${layer}\t${symbol.slice(0, 110)}`)
}

const switchIn = byLayer.get(SWITCH_IN) ?? 0
const counted = samples.length - switchIn
const pct = (n: number, of: number) => `${((n / of) * 100).toFixed(1).padStart(5)}%`
process.stdout.write(`${samples.length} samples; ${pct(switchIn, samples.length)} ${SWITCH_IN}, left out below\n`)
process.stdout.write("## by layer (a builtin or C++ frame charged to the JS frame above it)\n")
for (const [layer, n] of Array.from(byLayer).sort((a, b) => b[1] - a[1])) {
  if (layer !== SWITCH_IN) process.stdout.write(`${pct(n, counted)}  ${layer}\n`)
}
process.stdout.write("## top leaves\n")
const listed = Array.from(leaves).filter(([key]) => leavesOf === undefined || key.startsWith(leavesOf))
for (const [key, n] of listed.sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`${pct(n, counted)}  ${key.split("\t")[1]}\n`)
}
