/**
 * The proxy workloads: a raw node:net driver (the same client for every variant) talks through the
 * proxy example (examples/proxy) or through a raw pipe proxy (baselines/pipeProxy.ts), each in a
 * process of its own, to the same backend: Redis PINGs at concurrency 50 (request/response) and an
 * endless byte stream from the data server read in 64 KiB units (bulk). The CPU column is the
 * proxy process's CPU over the whole measurement (accepting and dialling the connections
 * included), per request or per MB moved in the timed window.
 */
import * as raw from "../baselines/raw.js"
import { FixedSplitter, PING, RespFramer } from "../lib/index.js"
import { VARIANT, WORKLOAD } from "../lib/names.js"
import type { DataServer, Proxies, ProxyProcess, RedisServer } from "../lib/processes.js"
import type { Sample, Workload } from "../lib/types.js"

/** `measure` through `proxy`, with the proxy process's CPU per unit of work. */
const through = async (proxy: ProxyProcess, measure: () => Promise<raw.Measured>): Promise<Sample> => {
  const before = await proxy.cpuUs()
  const sample = await measure()
  const after = await proxy.cpuUs()
  return { value: sample.value, cpuUs: (after - before) / sample.work }
}

export const workloads = (redis: RedisServer, data: DataServer, proxies: Proxies): ReadonlyArray<Workload> => {
  // startProxies([redis, data]): port 0 forwards to redis-server, port 1 to the data server.
  const requests = (port: number): raw.RequestResponse => ({
    host: "127.0.0.1",
    port,
    connections: 50,
    request: PING,
    unitsPerResponse: 1,
    opsPerRequest: 1,
    framer: (onUnit) => new RespFramer(onUnit)
  })
  const bulk = (port: number): raw.Streaming => ({
    host: "127.0.0.1",
    port,
    hello: Buffer.from("bytes\n"),
    bytesPerUnit: 65536,
    framer: (onUnit) => new FixedSplitter(65536, onUnit)
  })
  return [
    {
      id: WORKLOAD.proxyRequests,
      title: "Proxy: Redis PING through it, concurrency 50 (raw node:net driver)",
      unit: "ops/s",
      higherIsBetter: true,
      cpu: "proxy CPU us/request",
      note: "every variant drives 50 raw node:net connections; the proxies run in processes of their own",
      variants: [
        {
          name: VARIANT.proxyExample,
          role: "ours",
          measure: (ms) => through(proxies.cosocket, () => raw.requestResponse(requests(proxies.cosocket.ports[0]), ms))
        },
        {
          name: VARIANT.pipeProxy,
          role: "reference",
          measure: (ms) => through(proxies.pipe, () => raw.requestResponse(requests(proxies.pipe.ports[0]), ms))
        },
        {
          name: VARIANT.noProxy,
          role: "baseline",
          measure: async (ms) => ({ value: (await raw.requestResponse(requests(redis.port), ms)).value })
        }
      ]
    },
    {
      id: WORKLOAD.proxyBulk,
      title: "Proxy: bulk through it, 64 KiB units, 1 connection (raw node:net driver)",
      unit: "MB/s",
      higherIsBetter: true,
      cpu: "proxy CPU us/MB",
      variants: [
        {
          name: VARIANT.proxyExample,
          role: "ours",
          measure: (ms) => through(proxies.cosocket, () => raw.streaming(bulk(proxies.cosocket.ports[1]), ms))
        },
        {
          name: VARIANT.pipeProxy,
          role: "reference",
          measure: (ms) => through(proxies.pipe, () => raw.streaming(bulk(proxies.pipe.ports[1]), ms))
        },
        {
          name: VARIANT.noProxy,
          role: "baseline",
          measure: async (ms) => ({ value: (await raw.streaming(bulk(data.port), ms)).value })
        }
      ]
    }
  ]
}
