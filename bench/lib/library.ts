/**
 * effect-cosocket's public modules, loaded from the plain-JS build (see build.ts). Values come
 * from `.bench-tmp/dist`; types from src. The build runs once per bench run: the parent process
 * builds and sets EFFECT_COSOCKET_BENCH_BUILT so child processes reuse it.
 */
import type * as Api from "../../src/index.js"
import type * as NodeApi from "../../src/node/index.js"
import { buildLibrary, distUrl } from "./build.js"

const BUILT = "EFFECT_COSOCKET_BENCH_BUILT"
if (process.env[BUILT] !== "1") {
  buildLibrary({ sourceMaps: process.argv.includes("--profile") })
  process.env[BUILT] = "1"
}

const api = (await import(distUrl("index.js"))) as typeof Api
const nodeApi = (await import(distUrl("node/index.js"))) as typeof NodeApi

export const TcpSocket: typeof Api.TcpSocket = api.TcpSocket
export const ConnectionPool: typeof Api.ConnectionPool = api.ConnectionPool
export const CosocketConfig: typeof Api.CosocketConfig = api.CosocketConfig
export const Transport: typeof Api.Transport = api.Transport
export const NodeCosocket: typeof NodeApi.NodeCosocket = nodeApi.NodeCosocket
