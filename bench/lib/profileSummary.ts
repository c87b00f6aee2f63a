/**
 * Summarises a CPU profile written by `npm run bench -- --profile` (or any `node --cpu-prof`
 * file): self time per layer (the Effect runtime, our engine, Node and the kernel behind its
 * calls, ...), per function and per file, and the inclusive time of each line of src/ on the
 * stack, highest first. With the sources the bench saves, positions in tsx output are mapped back
 * to original lines through their inline source maps.
 *
 * Usage: npx tsx bench/lib/profileSummary.ts <file.cpuprofile> [top]
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"

/** The repository's root, as a URL path prefix to strip (whichever checkout or worktree runs it). */
const root = Path.resolve(Path.dirname(Url.fileURLToPath(import.meta.url)), "../..") + "/"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly scriptId: string
  readonly lineNumber: number
  readonly columnNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
  readonly sources?: Record<string, { readonly url: string; readonly source: string }>
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** Decoded mappings: per generated line, sorted [generatedColumn, sourceIndex, originalLine]. */
const decodeMappings = (mappings: string): Array<Array<[number, number, number]>> => {
  const lines: Array<Array<[number, number, number]>> = []
  let source = 0
  let originalLine = 0
  for (const line of mappings.split(";")) {
    const segments: Array<[number, number, number]> = []
    let column = 0
    for (const segment of line.split(",")) {
      if (segment.length === 0) continue
      const values: Array<number> = []
      let value = 0
      let shift = 0
      for (const ch of segment) {
        const digit = B64.indexOf(ch)
        value += (digit & 31) << shift
        if (digit & 32) {
          shift += 5
        } else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1)
          value = 0
          shift = 0
        }
      }
      column += values[0]
      if (values.length >= 4) {
        source += values[1]
        originalLine += values[2]
        segments.push([column, source, originalLine])
      }
    }
    lines.push(segments)
  }
  return lines
}

interface Mapper {
  readonly original: (line: number, column: number) => { readonly line: number; readonly text: string } | undefined
}

const mapperFor = (url: string, source: string): Mapper | undefined => {
  const m = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/.exec(source)
  if (m === null) return undefined
  const map = JSON.parse(Buffer.from(m[1], "base64").toString("utf8")) as {
    readonly mappings: string
    readonly sourcesContent?: ReadonlyArray<string>
  }
  const lines = decodeMappings(map.mappings)
  const path = url.replace(/^file:\/\//, "").replace(/\?.*$/, "")
  const content = map.sourcesContent?.[0] ?? (Fs.existsSync(path) ? Fs.readFileSync(path, "utf8") : "")
  const originalLines = content.split("\n")
  return {
    original: (line, column) => {
      const segments = lines[line]
      if (segments === undefined || segments.length === 0) return undefined
      let best = segments[0]
      for (const s of segments) {
        if (s[0] <= column) best = s
        else break
      }
      return { line: best[2] + 1, text: (originalLines[best[2]] ?? "").trim().slice(0, 70) }
    }
  }
}

const [file, topText] = process.argv.slice(2)
const top = Number(topText ?? 30)
const profile = JSON.parse(Fs.readFileSync(file, "utf8")) as Profile
const mappers = new Map<string, Mapper | undefined>()
for (const [id, { source, url }] of Object.entries(profile.sources ?? {})) mappers.set(id, mapperFor(url, source))

const shortUrl = (url: string) =>
  url.replace(/^file:\/\//, "").replace(/\?.*$/, "").replace(/.*\/node_modules\//, "~/")
    .replace(/.*\/\.bench-tmp\/dist\/(.*)\.js$/, "src/$1.ts").replace(root, "")

const describe = (frame: CallFrame): { readonly key: string; readonly ours: boolean } => {
  const url = shortUrl(frame.url) || "(native)"
  const name = frame.functionName || "(anonymous)"
  const original = mappers.get(frame.scriptId)?.original(frame.lineNumber, frame.columnNumber)
  if (original !== undefined) return { key: `${url}:${original.line} ${name} | ${original.text}`, ours: true }
  return { key: `${url}:${frame.lineNumber + 1} ${name}`, ours: url.startsWith("src/") }
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const keys = new Map(profile.nodes.map((n) => [n.id, describe(n.callFrame)]))

/**
 * The layer a sample's own frame belongs to. Native frames are Node's bindings (`writeBuffer`:
 * the write syscall, with the loopback TCP work the kernel does inside it), apart from the
 * profiler's pseudo-frames.
 */
const layerOf = (frame: CallFrame): string => {
  const url = shortUrl(frame.url)
  if (url === "") {
    if (frame.functionName === "(idle)") return "idle (waiting for I/O)"
    if (frame.functionName === "(garbage collector)") return "garbage collector"
    if (frame.functionName === "(program)") return "V8 and Node outside JS (program)"
    return "Node native bindings (writeBuffer: the write syscall)"
  }
  if (url.startsWith("node:inspector")) return "the profiler's session"
  if (url.startsWith("node:")) return "Node JS (net, streams, timers, nextTick)"
  if (url.startsWith("~/effect/")) return "the Effect runtime (effect)"
  if (url.startsWith("~/")) return "other packages"
  if (url.startsWith("src/")) return "effect-cosocket (src/)"
  if (url.startsWith("bench/")) return "the bench's caller code (bench/)"
  return "other"
}

const self = new Map<string, number>()
const perLayer = new Map<string, number>()
const perFile = new Map<string, number>()
const inclusiveOurs = new Map<string, number>()
let total = 0
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0
  total += dt
  const k = keys.get(id)!.key
  self.set(k, (self.get(k) ?? 0) + dt)
  const layer = layerOf(byId.get(id)!.callFrame)
  perLayer.set(layer, (perLayer.get(layer) ?? 0) + dt)
  const f = shortUrl(byId.get(id)!.callFrame.url) || "(native)"
  perFile.set(f, (perFile.get(f) ?? 0) + dt)
  const seen = new Set<string>()
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
    const d = keys.get(n)!
    if (d.ours && d.key.startsWith("src/") && !seen.has(d.key)) {
      seen.add(d.key)
      inclusiveOurs.set(d.key, (inclusiveOurs.get(d.key) ?? 0) + dt)
    }
  }
})

const show = (title: string, m: Map<string, number>) => {
  process.stdout.write(`## ${title}\n`)
  for (const [k, t] of Array.from(m).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((t / total) * 100).toFixed(1).padStart(5)}%  ${k}\n`)
  }
}
const idle = (perLayer.get("idle (waiting for I/O)") ?? 0) + (perLayer.get("the profiler's session") ?? 0)
process.stdout.write("## self time by layer (% of all samples; % of the busy ones: not idle, not the profiler)\n")
for (const [k, t] of Array.from(perLayer).sort((a, b) => b[1] - a[1])) {
  const busy = k.startsWith("idle") || k.startsWith("the profiler")
    ? ""
    : `  ${((t / (total - idle)) * 100).toFixed(1).padStart(5)}%`
  process.stdout.write(`${((t / total) * 100).toFixed(1).padStart(5)}%${busy}  ${k}\n`)
}
show("self time by function", self)
show("self time by file", perFile)
show("inclusive time of src/ lines on the stack", inclusiveOurs)
