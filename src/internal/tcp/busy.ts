/**
 * Which operations may run while another fiber connects, reads or writes: OpenResty's rule that
 * one fiber reads and one writes at a time, while a connect (or TLS handshake) excludes both, as
 * one table. Every operation of the socket asks `conflict` before it changes any state.
 *
 * @internal
 */
import { type Operation, SocketBusyConnecting, SocketBusyReading, SocketBusyWriting } from "../../CosocketError.js"

/** What an operation cannot run alongside. A connect in progress blocks everything. */
interface Excludes {
  readonly reading: boolean
  readonly writing: boolean
}

const everything: Excludes = { reading: true, writing: true }
const readers: Excludes = { reading: true, writing: false }
const writers: Excludes = { reading: false, writing: true }

/**
 * The busy matrix. Reads exclude other reads and sends exclude other sends (a reader and a writer
 * may run at once); `shutdown` sends FIN, so it waits for the writer only; everything that
 * replaces, hands over or ends the connection excludes both.
 */
const table: { readonly [K in BusyOperation]: Excludes } = {
  connect: everything,
  handshake: everything,
  close: everything,
  setKeepalive: everything,
  shutdown: writers,
  receive: readers,
  receiveAny: readers,
  receiveUntil: readers,
  send: writers
}

/** The operations the matrix constrains. */
export type BusyOperation = Extract<
  Operation,
  "connect" | "handshake" | "close" | "setKeepalive" | "shutdown" | "receive" | "receiveAny" | "receiveUntil" | "send"
>

/** The error a busy socket fails an operation with. */
export type BusyError = SocketBusyConnecting | SocketBusyReading | SocketBusyWriting

/** The errors the table lets `O` fail with. */
export type BusyErrorOf<O extends BusyOperation> = O extends "shutdown" | "send"
  ? SocketBusyConnecting | SocketBusyWriting
  : O extends "receive" | "receiveAny" | "receiveUntil" ? SocketBusyConnecting | SocketBusyReading
  : BusyError

/** The three flags of one socket object: set while a fiber waits in that role. */
export class Busy {
  connecting = false
  reading = false
  writing = false

  /** Whether any fiber is in the socket. */
  get any(): boolean {
    return this.connecting || this.reading || this.writing
  }

  /** The error `operation` fails with now, or `undefined` when it may run. */
  conflict<O extends BusyOperation>(operation: O): BusyErrorOf<O> | undefined {
    if (this.connecting) return new SocketBusyConnecting({ operation }) as BusyErrorOf<O>
    const excludes = table[operation]
    if (excludes.reading && this.reading) return new SocketBusyReading({ operation }) as BusyErrorOf<O>
    if (excludes.writing && this.writing) return new SocketBusyWriting({ operation }) as BusyErrorOf<O>
    return undefined
  }
}
