/**
 * Workload ids and variant names: the workloads label their figures with them and the targets
 * table (targets.ts) finds the figures it compares by them.
 */

export const WORKLOAD = {
  pingC1: "redis-ping-c1",
  pingC50: "redis-ping-c50",
  pingC500: "redis-ping-c500",
  getC50: "redis-get64-c50",
  pipelined: "redis-pipeline10-c50",
  lines: "lines-32",
  records: "records-4096",
  bulk: "bulk-65536",
  untilSmall: "until-10x1k-c50",
  untilLarge: "until-4x64k",
  proxyRequests: "proxy-ping-c50",
  proxyBulk: "proxy-bulk",
  poolService: "pool-service",
  poolSocket: "pool-socket",
  idleMemory: "idle-memory",
  importTime: "import-time"
} as const

export const VARIANT = {
  ours: "effect-cosocket",
  raw: "raw node:net",
  bareEffect: "bare Effect client (the Effect runtime's floor)",
  apiFloor: "withConnection's run-loop steps with no engine behind them (diagnostic)",
  nodeSocket: "@effect/platform-node 4.1 socket",
  ioredis: "ioredis",
  scoped: "effect-cosocket, scope per request (Effect.scoped + make + connect + setKeepalive)",
  noTimeouts: "effect-cosocket, timeouts off (diagnostic)",
  batchedLines: "effect-cosocket, batched read (every buffered line per read)",
  readline: "node:readline",
  proxyExample: "effect-cosocket proxy example (examples/proxy)",
  pipeProxy: "raw node:net pipe proxy",
  noProxy: "no proxy (the driver straight to the backend)",
  plainJs: "plain JS map of arrays"
} as const
