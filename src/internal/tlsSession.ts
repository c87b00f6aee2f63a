/**
 * TLS sessions: the `TlsSession` values a handshake returns and `Tls.makeSession` rebuilds, and the
 * test for one. A session carries the TLS identity it was made under, so it is offered again only
 * to a handshake with the same identity (see ./tlsOptions.ts).
 *
 * @internal
 */
import type * as Api from "../Tls.js"
import type { TlsState } from "../Transport.js"

export const TypeId: Api.TypeId = Symbol.for("effect-cosocket/TlsSession") as Api.TypeId

const EMPTY = new Uint8Array(0)

class SessionImpl implements Api.TlsSession {
  readonly [TypeId]: Api.TypeId = TypeId
  constructor(
    private readonly latest: () => Uint8Array | undefined,
    readonly identity: string,
    readonly protocol: string | undefined,
    readonly alpnProtocol: string | undefined,
    readonly resumed: boolean
  ) {}
  get bytes(): Uint8Array {
    return this.latest() ?? EMPTY
  }
  toJSON(): unknown {
    return {
      _id: "TlsSession",
      identity: this.identity,
      protocol: this.protocol,
      alpnProtocol: this.alpnProtocol,
      resumed: this.resumed,
      bytes: this.bytes.length
    }
  }
}

export const isTlsSession = (u: unknown): u is Api.TlsSession =>
  typeof u === "object" && u !== null && (u as { [TypeId]?: unknown })[TypeId] === TypeId

/** A session from stored fields; the bytes are copied, so later changes to the caller's array do not leak in. */
export const makeSession = (fields: {
  readonly bytes: Uint8Array
  readonly identity: string
  readonly protocol?: string | undefined
  readonly alpnProtocol?: string | undefined
  readonly resumed?: boolean | undefined
}): Api.TlsSession => {
  const bytes = fields.bytes.slice()
  return new SessionImpl(
    () => bytes,
    fields.identity,
    fields.protocol,
    fields.alpnProtocol,
    fields.resumed === true
  )
}

/** The session of an upgraded stream: a live view whose `bytes` follow the latest ticket. */
export const sessionOf = (state: TlsState): Api.TlsSession =>
  new SessionImpl(state.session, state.identity, state.protocol, state.alpnProtocol, state.resumed)
