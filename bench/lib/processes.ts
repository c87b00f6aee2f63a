/**
 * Child processes of the bench (redis-server, the data server): started on free loopback ports and
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
