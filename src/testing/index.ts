/**
 * The testing kit (Node-only): scripted loopback peers and fast-check chunking helpers for
 * protocol-client tests.
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
