/**
 * Shared helpers of the bench.
 */
export * from "./cpu.js"
export * from "./framing.js"
export * from "./payloads.js"
export * from "./stats.js"
export * from "./timedRequests.js"
export * from "./types.js"
