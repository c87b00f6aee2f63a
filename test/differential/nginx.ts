/**
 * A real nginx with Debian's lua-nginx-module (`libnginx-mod-http-lua`), started for the
 * differential test: its own prefix, configuration and logs in a temporary directory, one
 * foreground process (`daemon off; master_process off`) on a free 127.0.0.1 port, stopped by its
 * process id when the scope ends. Missing packages are a failure with the install command.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { encodeOps, MAX_TIMEOUTS, type Program, READ_TIMEOUT, SETTLE } from "./program.js"

export const INSTALL_HINT = "bash scripts/install-test-deps.sh " +
  "(it runs: apt-get install -y --no-install-recommends nginx libnginx-mod-http-lua)"

const MODULES = "/usr/lib/nginx/modules"
const RUNNER = Path.join(import.meta.dirname, "runner.lua")

export interface Nginx {
  readonly port: number
  readonly pid: number
  /** `nginx/1.22.1, lua-nginx-module 0.10.23` */
  readonly version: string
  /** Runs a program (registered with the replay peer on `peerPort` as `id`); its result lines. */
  readonly run: (program: Program, peerPort: number, id: string) => Promise<Array<string>>
}

/** The nginx binary and the module files, or a failure naming the install command. */
export const locate = (): { readonly binary: string } | { readonly missing: string } => {
  const candidates = [
    ...(process.env.PATH ?? "").split(":").filter((d) => d !== "").map((d) => Path.join(d, "nginx")),
    "/usr/sbin/nginx"
  ]
  const binary = candidates.find((c) => Fs.existsSync(c))
  if (binary === undefined) return { missing: `nginx not found: ${INSTALL_HINT}` }
  for (const module of ["ndk_http_module.so", "ngx_http_lua_module.so"]) {
    if (!Fs.existsSync(Path.join(MODULES, module))) {
      return { missing: `${Path.join(MODULES, module)} not found: ${INSTALL_HINT}` }
    }
  }
  return { binary }
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const config = (dir: string, port: number): string => `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
load_module ${MODULES}/ndk_http_module.so;
load_module ${MODULES}/ngx_http_lua_module.so;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_body_buffer_size 1m;
  client_max_body_size 1m;
  lua_socket_log_errors off;
  server {
    listen 127.0.0.1:${port};
    location = /run { content_by_lua_file ${RUNNER}; }
    location = /version { content_by_lua_block { ngx.print(ngx.config.ngx_lua_version) } }
  }
}
`

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.on("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.on("error", () => resolve(false))
  })

const post = (port: number, path: string, body: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const request = Http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent: false,
        headers: { "content-length": Buffer.byteLength(body) }
      },
      (response) => {
        const parts: Array<Buffer> = []
        response.on("data", (d: Buffer) => parts.push(d))
        response.on(
          "end",
          () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(parts).toString("latin1") })
        )
        response.on("error", reject)
      }
    )
    request.on("error", reject)
    request.end(body)
  })

interface Started {
  readonly child: ChildProcess.ChildProcess
  readonly dir: string
  readonly nginx: Nginx
}

const start = async (binary: string): Promise<Started> => {
  const version = ChildProcess.spawnSync(binary, ["-v"], { encoding: "utf8" }).stderr.trim()
  let lastError = ""
  // A free port can be taken between our probe and nginx's bind: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "cosocket-nginx-"))
    const port = await freePort()
    Fs.writeFileSync(Path.join(dir, "nginx.conf"), config(dir, port))
    const child = ChildProcess.spawn(
      binary,
      ["-p", dir, "-c", Path.join(dir, "nginx.conf"), "-e", `${dir}/error.log`],
      {
        stdio: ["ignore", "ignore", "pipe"]
      }
    )
    let stderr = ""
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    let exited = false
    child.on("exit", () => (exited = true))
    // Ready when it accepts connections; bounded at 5 s.
    const deadline = Date.now() + 5000
    while (!exited && Date.now() < deadline && !(await canConnect(port))) {
      await new Promise((r) => setTimeout(r, 20))
    }
    if (!exited && (await canConnect(port))) {
      const lua = Number((await post(port, "/version", "")).body)
      const nginx: Nginx = {
        port,
        pid: child.pid!,
        version: `${version.replace(/^nginx version: /, "")}, lua-nginx-module ${Math.floor(lua / 1e6)}.${
          Math.floor(lua / 1e3) % 1e3
        }.${lua % 1e3}`,
        run: async (program, peerPort, id) => {
          const query =
            `/run?port=${peerPort}&id=${id}&timeout=${READ_TIMEOUT}&max_timeouts=${MAX_TIMEOUTS}&settle=${SETTLE}`
          const response = await post(port, query, encodeOps(program.reader, program.ops))
          const lines = response.body.replace(/\n$/, "").split("\n")
          if (response.status !== 200) return [`HARNESS nginx status ${response.status}: ${lines.join(" | ")}`]
          return program.ops.length === 0 ? [] : lines
        }
      }
      return { child, dir, nginx }
    }
    await stop(child)
    const log = Fs.existsSync(Path.join(dir, "error.log")) ? Fs.readFileSync(Path.join(dir, "error.log"), "utf8") : ""
    lastError = `${stderr}${log}`.trim()
    Fs.rmSync(dir, { recursive: true, force: true })
  }
  throw new Error(`nginx did not start: ${lastError}`)
}

/** SIGTERM by process id, SIGKILL after 5 s; resolves when the process has exited. */
const stop = (child: ChildProcess.ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const kill = setTimeout(() => process.kill(child.pid!, "SIGKILL"), 5000)
    child.once("exit", () => {
      clearTimeout(kill)
      resolve()
    })
    process.kill(child.pid!, "SIGTERM")
  })

/** A scoped nginx; fails (never skips) with the install command when the packages are missing. */
export const make: Effect.Effect<Nginx, Error, Scope.Scope> = Effect.acquireRelease(
  Effect.suspend(() => {
    const found = locate()
    if ("missing" in found) return Effect.fail(new Error(found.missing))
    return Effect.tryPromise({ try: () => start(found.binary), catch: (e) => e as Error })
  }),
  ({ child, dir }) =>
    Effect.promise(async () => {
      await stop(child)
      Fs.rmSync(dir, { recursive: true, force: true })
    })
).pipe(Effect.map(({ nginx }) => nginx))
