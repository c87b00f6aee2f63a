/**
 * Child processes of the bench (redis-server, the data server, the proxies): started on free loopback ports and
 * killed when the bench ends, also when it fails or is interrupted.
 */
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Url from "node:url"

const children = new Set<ChildProcess.ChildProcess>()

const killAll = (): void => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  children.clear()
}

process.on("exit", killAll)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    killAll()
    process.exit(130)
  })
}

export const track = (child: ChildProcess.ChildProcess): void => {
  children.add(child)
  child.once("exit", () => children.delete(child))
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. */
export const stop = (child: ChildProcess.ChildProcess, graceMs = 2000): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGTERM")
  })

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Resolves once a TCP connect to the port succeeds and the peer answers `probe` with `expect`. */
const waitReady = async (port: number, probe: string, expect: string, deadlineMs: number): Promise<void> => {
  const until = Date.now() + deadlineMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = Net.connect({ host: "127.0.0.1", port })
      let got = ""
      const done = (v: boolean) => {
        socket.destroy()
        resolve(v)
      }
      socket.setTimeout(500, () => done(false))
      socket.on("error", () => done(false))
      socket.on("connect", () => socket.write(probe))
      socket.on("data", (d) => {
        got += d.toString("latin1")
        if (got.includes(expect)) done(true)
      })
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`server on port ${port} did not become ready`)
    await sleep(50)
  }
}

export interface RedisServer {
  readonly host: string
  readonly port: number
  readonly version: string
  readonly stop: () => Promise<void>
}

/** Starts `redis-server` without persistence on a free loopback port. */
export const startRedis = async (): Promise<RedisServer> => {
  const port = await freePort()
  const version = ChildProcess.execFileSync("redis-server", ["--version"], { encoding: "utf8" }).trim()
  const child = ChildProcess.spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxclients", "10000"],
    { stdio: ["ignore", "ignore", "pipe"] }
  )
  track(child)
  let stderr = ""
  child.stderr!.on("data", (d) => (stderr += String(d)))
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${stderr}`)))
  )
  exited.catch(() => {})
  await Promise.race([waitReady(port, "PING\r\n", "+PONG", 10_000), exited])
  return { host: "127.0.0.1", port, version, stop: () => stop(child) }
}

export interface DataServer {
  readonly host: string
  readonly port: number
  readonly stop: () => Promise<void>
}

const here = Path.dirname(Url.fileURLToPath(import.meta.url))

/**
 * Starts the data server (./dataServer.ts) in its own Node process, so that producing the bytes
 * does not compete with the client for the bench's event loop. It exits when its stdin closes.
 */
export const startDataServer = async (): Promise<DataServer> => {
  const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", Path.join(here, "dataServer.ts")], {
    stdio: ["pipe", "pipe", "inherit"]
  })
  track(child)
  const port = await new Promise<number>((resolve, reject) => {
    let out = ""
    child.stdout!.on("data", (d) => {
      out += String(d)
      const m = /^PORT (\d+)\n/m.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    child.once("exit", (code) => reject(new Error(`data server exited (${code})`)))
  })
  return {
    host: "127.0.0.1",
    port,
    stop: async () => {
      child.stdin!.end()
      await stop(child)
    }
  }
}

/** A proxy child process (./proxyServer.ts): one listening port per upstream. */
export interface ProxyProcess {
  readonly ports: ReadonlyArray<number>
  /** CPU used by the proxy process so far (user + system, microseconds). */
  readonly cpuUs: () => Promise<number>
}

export interface Proxies {
  /** The proxy example (examples/proxy) and the raw pipe proxy, each in a process of its own. */
  readonly cosocket: ProxyProcess
  readonly pipe: ProxyProcess
  readonly stop: () => Promise<unknown>
}

const startProxy = async (
  kind: "cosocket" | "pipe",
  upstreams: ReadonlyArray<{ readonly host: string; readonly port: number }>
): Promise<ProxyProcess & { readonly stop: () => Promise<void> }> => {
  const child = ChildProcess.spawn(
    process.execPath,
    ["--import", "tsx", Path.join(here, "proxyServer.ts"), kind, ...upstreams.map((u) => `${u.host}:${u.port}`)],
    { stdio: ["pipe", "pipe", "inherit"] }
  )
  track(child)
  // Lines on stdout: `PORTS ...` once, then one `CPU n` per `cpu` request, in order.
  const waiting: Array<(line: string) => void> = []
  let out = ""
  child.stdout!.on("data", (d) => {
    out += String(d)
    for (let lf = out.indexOf("\n"); lf !== -1; lf = out.indexOf("\n")) {
      const line = out.slice(0, lf)
      out = out.slice(lf + 1)
      waiting.shift()?.(line)
    }
  })
  const next = () => new Promise<string>((resolve) => waiting.push(resolve))
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => reject(new Error(`${kind} proxy exited (${code})`)))
  )
  exited.catch(() => {})
  const first = await Promise.race([next(), exited])
  const m = /^PORTS ([\d ]+)$/.exec(first)
  if (m === null) throw new Error(`${kind} proxy: unexpected output ${first}`)
  return {
    ports: m[1].split(" ").map(Number),
    cpuUs: async () => {
      const line = next()
      child.stdin!.write("cpu\n")
      const reply = await Promise.race([line, exited])
      const cpu = /^CPU (\d+)$/.exec(reply)
      if (cpu === null) throw new Error(`${kind} proxy: unexpected output ${reply}`)
      return Number(cpu[1])
    },
    stop: async () => {
      child.stdin!.end()
      await stop(child)
    }
  }
}

/** Starts both proxies in front of every upstream (in this order: `ports[i]` forwards to `upstreams[i]`). */
export const startProxies = async (
  upstreams: ReadonlyArray<{ readonly host: string; readonly port: number }>
): Promise<Proxies> => {
  const [cosocket, pipe] = await Promise.all([startProxy("cosocket", upstreams), startProxy("pipe", upstreams)])
  return { cosocket, pipe, stop: () => Promise.all([cosocket.stop(), pipe.stop()]) }
}
