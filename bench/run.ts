/**
 * `npm run bench`: runs every workload for effect-cosocket and its baselines alternately, several
 * rounds in one run, prints medians, spreads and ratios to raw node:net measured in the same round,
 * and writes BENCHMARKS.md and bench/results.json.
 *
 * Flags:
 *   --smoke            one tiny round of everything, nothing written (CI)
 *   --only=a,b         only these workloads: an exact id, or else every id starting with it (nothing
 *                      written)
 *   --ours-only        only the effect-cosocket variants (profiling; nothing written)
 *   --variant=text     only variants whose name contains the text (nothing written)
 *   --rounds=N         rounds (default 6)
 *   --duration=MS      milliseconds per measurement (default 700)
 *   --profile          CPU profile of the timed rounds (not the warm-up) to .bench-tmp/profiles/
 *                      (summarise with `npx tsx bench/lib/profileSummary.ts <file>`)
 *   --report-only      rewrite BENCHMARKS.md from bench/results.json (after editing bench/analysis.md)
 */
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Fs from "node:fs"
import * as Inspector from "node:inspector/promises"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Url from "node:url"
import { SET } from "./lib/index.js"
import { CosocketConfig, NodeCosocket } from "./lib/library.js"
import { WORKLOAD } from "./lib/names.js"
import { startDataServer, startProxies, startRedis } from "./lib/processes.js"
import { detailTable, judge, markdown, type Recorded, summaryTable, workloadInfo } from "./lib/report.js"
import type { Sample, Workload } from "./lib/types.js"
import { NotAvailable, sleep } from "./lib/types.js"
import * as importTime from "./workloads/importTime.js"
import * as memory from "./workloads/memory.js"
import * as pool from "./workloads/pool.js"
import * as proxy from "./workloads/proxy.js"
import * as reading from "./workloads/reading.js"
import * as redisWorkloads from "./workloads/redis.js"

const root = Path.resolve(Path.dirname(Url.fileURLToPath(import.meta.url)), "..")
const args = process.argv.slice(2)
const flag = (name: string) => args.includes(`--${name}`)
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)

const smoke = flag("smoke")
const only = option("only")?.split(",").filter((s) => s.length > 0)
const oursOnly = flag("ours-only")
const variantFilter = option("variant")
const rounds = smoke ? 1 : Number(option("rounds") ?? 6)
const durationMs = smoke ? 40 : Number(option("duration") ?? 700)
const warmupMs = smoke ? 0 : Math.min(300, durationMs)
const idleConnections = smoke ? 20 : 1000
const profile = flag("profile")
const write = !smoke && only === undefined && !oursOnly && variantFilter === undefined && !profile

const log = (line: string) => process.stdout.write(`${line}\n`)

// A run that hangs must not hang CI: give up, kill the children (processes.ts) and fail.
const watchdog = setTimeout(() => {
  process.stderr.write(`bench: watchdog expired\n`)
  process.exit(1)
}, smoke ? 120_000 : 20 * 60_000)
watchdog.unref()

/** Writes SET bench:value64 with a raw socket, for the GET workload. */
const seedRedis = (host: string, port: number) =>
  new Promise<void>((resolve, reject) => {
    const socket = Net.connect({ host, port })
    socket.once("error", reject)
    socket.on("data", (d) => {
      socket.destroy()
      if (d.toString().startsWith("+OK")) resolve()
      else reject(new Error(`SET failed: ${d}`))
    })
    socket.write(SET)
  })

const resultsPath = Path.join(root, "bench", "results.json")

/** BENCHMARKS.md from recorded figures, with the hand-written analysis (bench/analysis.md) at the end. */
const writeMarkdown = (recorded: Recorded): void => {
  const analysisPath = Path.join(root, "bench", "analysis.md")
  const analysis = Fs.existsSync(analysisPath) ? Fs.readFileSync(analysisPath, "utf8") : undefined
  const { results, targets } = judge(recorded)
  Fs.writeFileSync(
    Path.join(root, "BENCHMARKS.md"),
    markdown({
      results,
      targets,
      machine: recorded.machine,
      date: recorded.date,
      command: recorded.command,
      rounds: recorded.rounds,
      durationMs: recorded.durationMs,
      totalSeconds: recorded.totalSeconds,
      analysis
    })
  )
}

const main = async (): Promise<number> => {
  if (flag("report-only")) {
    writeMarkdown(JSON.parse(Fs.readFileSync(resultsPath, "utf8")) as Recorded)
    log("wrote BENCHMARKS.md from bench/results.json")
    return 0
  }
  const started = performance.now()
  const date = new Date().toISOString()
  const loadAverage = Os.loadavg()
  log(`bench: ${smoke ? "smoke run" : `${rounds} rounds x ${durationMs} ms`}; starting servers`)
  const cleanup: Array<() => Promise<unknown>> = []
  let failures = 0
  try {
    const [redis, data] = await Promise.all([startRedis(), startDataServer()])
    cleanup.push(redis.stop, data.stop)
    await seedRedis(redis.host, redis.port)
    const runtime = ManagedRuntime.make(NodeCosocket.layer)
    cleanup.push(() => runtime.dispose())
    const noTimeouts = ManagedRuntime.make(
      Layer.merge(
        NodeCosocket.layer,
        CosocketConfig.layer({
          connectTimeout: Duration.infinity,
          sendTimeout: Duration.infinity,
          readTimeout: Duration.infinity
        })
      )
    )
    cleanup.push(() => noTimeouts.dispose())
    const runtimes = { main: runtime, noTimeouts }
    const stubRuntime = pool.makeRuntime()
    cleanup.push(() => stubRuntime.dispose())

    const proxies = await startProxies([redis, data])
    cleanup.push(proxies.stop)

    const all: Array<Workload> = [
      ...redisWorkloads.workloads(redis, runtimes),
      ...reading.workloads(data, runtimes),
      ...proxy.workloads(redis, data, proxies),
      ...pool.workloads(stubRuntime),
      ...memory.workloads(redis.host, redis.port, idleConnections).map((w) => ({ ...w, rounds: 3 })),
      ...importTime.workloads().map((w) => ({ ...w, rounds: 7 }))
    ]
    // "redis-ping-c50" names one workload, not also "redis-ping-c500".
    const selected = (w: Workload) =>
      only === undefined ||
      only.some((entry) => all.some((x) => x.id === entry) ? w.id === entry : w.id.startsWith(entry))
    const workloads = all.filter(selected).map((w) =>
      oursOnly || variantFilter !== undefined
        ? {
          ...w,
          variants: w.variants.filter((v) =>
            (!oursOnly || v.role === "ours") && (variantFilter === undefined || v.name.includes(variantFilter))
          )
        }
        : w
    ).filter((w) => w.variants.length > 0)

    const noWarmup = new Set<string>([WORKLOAD.idleMemory, WORKLOAD.importTime])
    const samples = workloads.map((w) => w.variants.map(() => [] as Array<Sample | undefined>))
    const errors = workloads.map((w) => w.variants.map(() => [] as Array<string>))
    const notAvailable = workloads.map((w) => w.variants.map((): string | undefined => undefined))

    const measure = async (w: Workload, index: number, ms: number): Promise<Sample | undefined> => {
      const v = w.variants[index]
      try {
        const sample = await v.measure(ms)
        if (!Number.isFinite(sample.value)) throw new Error(`not a number: ${sample.value}`)
        return sample
      } catch (error) {
        if (error instanceof NotAvailable) {
          notAvailable[workloads.indexOf(w)][index] = error.reason
          return undefined
        }
        failures++
        const message = error instanceof Error ? error.message : String(error)
        errors[workloads.indexOf(w)][index].push(message)
        log(`  ! ${w.id} / ${v.name}: ${message.split("\n")[0]}`)
        return undefined
      }
    }

    if (warmupMs > 0) {
      log("warm-up round")
      for (const w of workloads) {
        if (noWarmup.has(w.id)) continue
        for (let i = 0; i < w.variants.length; i++) await measure(w, i, warmupMs)
      }
    }
    const session = profile ? new Inspector.Session() : undefined
    if (session !== undefined) {
      session.connect()
      await session.post("Profiler.enable")
      await session.post("Profiler.setSamplingInterval", { interval: 100 })
      await session.post("Profiler.start")
    }
    const totalRounds = Math.max(rounds, ...workloads.map((w) => smoke ? 1 : (w.rounds ?? rounds)))
    for (let round = 0; round < totalRounds; round++) {
      log(`round ${round + 1}/${totalRounds}`)
      for (const [wi, w] of workloads.entries()) {
        if (round >= (smoke ? 1 : (w.rounds ?? rounds))) continue
        const n = w.variants.length
        const line: Array<string> = []
        for (let k = 0; k < n; k++) {
          const i = (k + round) % n
          const sample = await measure(w, i, durationMs)
          samples[wi][i][round] = sample
          if (sample !== undefined) line.push(`${w.variants[i].name}=${sample.value.toFixed(1)}`)
          await sleep(20)
        }
        log(`  ${w.id}: ${line.join("  ")}`)
      }
    }

    if (session !== undefined) {
      const { profile: cpuProfile } = await session.post("Profiler.stop")
      // The sources as executed (tsx output with inline source maps), so the summary can point at
      // original lines of src/ and bench/.
      const scripts = new Map<string, string>()
      session.on("Debugger.scriptParsed", (message) => {
        if (/\/(src|bench|\.bench-tmp\/dist)\//.test(message.params.url)) {
          scripts.set(message.params.scriptId, message.params.url)
        }
      })
      await session.post("Debugger.enable")
      const sources: Record<string, { url: string; source: string }> = {}
      for (const [scriptId, url] of scripts) {
        const { scriptSource } = await session.post("Debugger.getScriptSource", { scriptId })
        sources[scriptId] = { url, source: scriptSource }
      }
      session.disconnect()
      const dir = Path.join(root, ".bench-tmp", "profiles")
      Fs.mkdirSync(dir, { recursive: true })
      const suffix = (oursOnly ? "-ours" : "") +
        (variantFilter !== undefined ? `-${variantFilter.replace(/\W+/g, "_")}` : "")
      const file = Path.join(dir, `${(only ?? ["all"]).join("+")}${suffix}.cpuprofile`)
      Fs.writeFileSync(file, JSON.stringify({ ...cpuProfile, sources }))
      log(`wrote ${Path.relative(root, file)}`)
    }
    const recorded: Recorded = {
      date,
      command: "npm run bench",
      machine: {
        cpu: Os.cpus()[0]?.model.trim() ?? "unknown",
        cores: Os.cpus().length,
        node: process.version,
        os: `${Os.type()} ${Os.release()} ${Os.arch()}`,
        redis: redis.version,
        loadAverage
      },
      rounds,
      durationMs,
      totalSeconds: (performance.now() - started) / 1000,
      workloads: workloads.map((w, wi) => ({
        ...workloadInfo(w),
        variants: w.variants.map((v, vi) => ({
          name: v.name,
          role: v.role,
          samples: Array.from({ length: totalRounds }, (_, round) => samples[wi][vi][round] ?? null),
          errors: errors[wi][vi],
          notAvailable: notAvailable[wi][vi]
        }))
      }))
    }
    const { results, targets } = judge(recorded)
    log("")
    for (const r of results) {
      log(`## ${r.title}`)
      for (const line of detailTable(r)) log(line)
      log("")
    }
    for (const line of summaryTable(targets)) log(line)
    log(`\nbench: ${recorded.totalSeconds.toFixed(0)} s`)
    if (write) {
      const withVerdicts: Recorded = { ...recorded, targets }
      Fs.writeFileSync(resultsPath, JSON.stringify(withVerdicts, null, 2) + "\n")
      writeMarkdown(withVerdicts)
      log("wrote BENCHMARKS.md and bench/results.json")
    }
  } finally {
    for (const step of cleanup.reverse()) {
      await Promise.race([step().catch(() => {}), sleep(5000)])
    }
  }
  return failures === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`)
    process.exit(1)
  }
)
