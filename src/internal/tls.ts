/**
 * The TLS pieces the TCP engine uses, under one import: option parsing (./tlsOptions.ts) and the
 * live session of an upgraded stream (./tlsSession.ts). The identity that joins pool keys is in
 * ./tlsIdentity.ts.
 *
 * @internal
 */
export { parse, type ParsedTls } from "./tlsOptions.js"
export { sessionOf } from "./tlsSession.js"
