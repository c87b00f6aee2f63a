/**
 * @since 0.1.0
 */

/**
 * Node implementations of the transports, and the all-in-one layer.
 *
 * @since 0.1.0
 */
export * as NodeCosocket from "./NodeCosocket.js"
