/**
 * A child process of the proxy workloads: one proxy per upstream given on the command line, either
 * the proxy example (examples/proxy, built like the library: see build.ts) or the raw pipe proxy
 * (baselines/pipeProxy.ts). Prints `PORTS p1 p2 ...` once every proxy listens; answers each `cpu`
 * line on stdin with `CPU us` (user + system CPU of this process so far); exits when stdin closes.
 *
 * argv: cosocket | pipe, then host:port for each upstream
 */
import * as Effect from "effect/Effect"
import type * as Net from "node:net"
import type * as ProxyApi from "../../examples/proxy/Proxy.js"
import * as pipeProxy from "../baselines/pipeProxy.js"
import { exampleUrl } from "./build.js"
import { NodeCosocket } from "./library.js"

const [kind, ...upstreamTexts] = process.argv.slice(2)
const upstreams = upstreamTexts.map((text) => {
  const colon = text.lastIndexOf(":")
  return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) }
})

const cosocketProxies = async (): Promise<Array<number>> => {
  const Proxy = (await import(exampleUrl("proxy/Proxy.js"))) as typeof ProxyApi
  const ports = Effect.forEach(upstreams, (upstream) => Effect.map(Proxy.make({ upstream }), (proxy) => proxy.port))
  return new Promise((resolve, reject) => {
    // The proxies live until the process exits: the scope is never closed.
    Effect.runFork(
      Effect.scoped(Effect.andThen(Effect.tap(ports, (p) => Effect.sync(() => resolve(p))), Effect.never)).pipe(
        Effect.provide(NodeCosocket.layer)
      )
    ).addObserver((exit) => reject(new Error(`proxy stopped: ${String(exit)}`)))
  })
}

const pipeProxies = (): Promise<Array<number>> =>
  Promise.all(upstreams.map((upstream) =>
    new Promise<number>((resolve) => {
      const server = pipeProxy.listen(upstream)
      server.listen(0, "127.0.0.1", () => resolve((server.address() as Net.AddressInfo).port))
    })
  ))

const ports = await (kind === "cosocket" ? cosocketProxies() : pipeProxies())
process.stdout.write(`PORTS ${ports.join(" ")}\n`)

let pending = ""
process.stdin.on("data", (chunk: Buffer) => {
  pending += chunk.toString("latin1")
  for (let lf = pending.indexOf("\n"); lf !== -1; lf = pending.indexOf("\n")) {
    pending = pending.slice(lf + 1)
    const used = process.cpuUsage()
    process.stdout.write(`CPU ${used.user + used.system}\n`)
  }
})
process.stdin.on("end", () => process.exit(0))
process.stdin.on("error", () => process.exit(0))
