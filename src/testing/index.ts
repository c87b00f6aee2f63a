/**
 * The testing kit (Node-only): scripted loopback peers, a fault-injection proxy and fast-check
 * chunking helpers for protocol-client tests.
 *
 * @since 0.1.0
 */

/**
 * A scripted loopback `node:net` / `node:tls` peer (expect, send, delay, half-close, reset,
 * stop reading, ...) and a `blackhole` address where connects hang.
 *
 * @since 0.1.0
 */
export * as ScriptedPeer from "./ScriptedPeer.js"

/**
 * fast-check helpers: every chunking of a byte string, byte strings over a small alphabet,
 * `split` and `concat`.
 *
 * @since 0.1.0
 */
export * as Chunking from "./Chunking.js"

/**
 * A loopback TCP proxy in front of a real server that injects seeded faults into its replies
 * (delays, 1-byte segments, stalls, resets and closes mid-reply, resets after a reply) and counts
 * them and the connections it holds.
 *
 * @since 0.2.0
 */
export * as FaultProxy from "./FaultProxy.js"
