/**
 * The differential test's program language: what the replay peer sends (a byte stream in chunks,
 * each released when the client announces an operation) and the read operations the client runs
 * on one connection. The same program runs in nginx (Lua, `ngx.socket.tcp`) and through the
 * library; both print one result line per operation.
 *
 * Arrival is tied to operations, not to wall-clock pauses: before operation `k` the client sends
 * the control line `k\n` and the peer then writes every chunk whose `at` is `k` (and the FIN when
 * `fin` is `k`). So what has arrived when an operation blocks or times out is the same on both
 * sides, whatever the machine's load.
 */

/** One write of the peer. `bytes` is latin1 (one character per byte). */
export interface Chunk {
  readonly bytes: string
  /** The operation index that releases it. */
  readonly at: number
  /** Milliseconds before this write (0: the next turn of the event loop). */
  readonly pause: number
}

export type Op =
  | { readonly _tag: "line" } // receive("*l")
  | { readonly _tag: "all" } // receive("*a")
  | { readonly _tag: "bytes"; readonly n: number } // receive(n)
  // receiveAny(max), then receive(max - got) when it got less: compared on the concatenation
  | { readonly _tag: "any"; readonly max: number }
  // a new receiveUntil reader; `back` picks one for read / readChunk: 0 is the newest, 1 the one
  // before, ... (modulo the number of readers)
  | { readonly _tag: "until"; readonly pattern: string; readonly inclusive: boolean }
  | { readonly _tag: "read"; readonly back: number } // it()
  | { readonly _tag: "chunk"; readonly back: number; readonly size: number } // it(size)
  // setkeepalive(), then connect again (same pool) and getreusedtimes(); a fresh connection names
  // the program again. Not announced: nothing is released while the connection may sit in the pool.
  | { readonly _tag: "keepalive" }
  // a second light thread / fiber blocks in receive(1); meanwhile receive(1) (busy reading) and a
  // send (allowed: full duplex); then the blocked reader's result
  | { readonly _tag: "busy" }

export interface Until {
  readonly pattern: string
  readonly inclusive: boolean
}

export interface Program {
  readonly chunks: ReadonlyArray<Chunk>
  /** The operation index at which the peer sends FIN (after that index's chunks); null: left open. */
  readonly fin: number | null
  /** Each chunk is written one byte per segment. */
  readonly byteByByte: boolean
  /** The first receiveUntil reader, made before operation 0. */
  readonly reader: Until
  readonly ops: ReadonlyArray<Op>
}

/** The reader a read / readChunk uses, as an index into the readers made so far (oldest first). */
export const pick = (count: number, back: number): number => count - 1 - (back % count)

/** The read timeout both sides use (ms): an inactivity timer, so it must outlast a release. */
export const READ_TIMEOUT = 250
/** Before keepalive / busy operations, both sides let released bytes settle (ms). */
export const SETTLE = 30
/** A program stops after this many read timeouts (each costs READ_TIMEOUT). */
export const MAX_TIMEOUTS = 3

export const hex = (s: string): string => Buffer.from(s, "latin1").toString("hex")
export const unhex = (s: string): string => Buffer.from(s, "hex").toString("latin1")

/** The line-based form the Lua runner parses (patterns in hex). */
export const encodeOps = (reader: Until, ops: ReadonlyArray<Op>): string =>
  [
    `reader ${hex(reader.pattern)} ${reader.inclusive ? 1 : 0}`,
    ...ops.map((op) => {
      switch (op._tag) {
        case "line":
          return "line"
        case "all":
          return "all"
        case "bytes":
          return `bytes ${op.n}`
        case "any":
          return `any ${op.max}`
        case "until":
          return `until ${hex(op.pattern)} ${op.inclusive ? 1 : 0}`
        case "read":
          return `read ${op.back}`
        case "chunk":
          return `chunk ${op.back} ${op.size}`
        case "keepalive":
          return "keepalive"
        case "busy":
          return "busy"
      }
    })
  ].join("\n")

/** A readable rendering of a program, for reports and failure messages. */
export const show = (p: Program): string => {
  const q = (s: string) => JSON.stringify(s)
  const until = (u: Until) => `receiveUntil(${q(u.pattern)}${u.inclusive ? ", inclusive" : ""})`
  let readers = 1
  const ops = p.ops.map((op, k) => {
    const release = p.chunks.filter((c) => c.at === k).map((c) => q(c.bytes)).join(" ")
    const fin = p.fin === k ? " FIN" : ""
    const arrive = release === "" && fin === "" ? "" : `  <- ${release}${fin}`
    switch (op._tag) {
      case "line":
        return `${k}: receive("*l")${arrive}`
      case "all":
        return `${k}: receive("*a")${arrive}`
      case "bytes":
        return `${k}: receive(${op.n})${arrive}`
      case "any":
        return `${k}: receiveAny(${op.max})${arrive}`
      case "until":
        return `${k}: r${readers++} = ${until(op)}${arrive}`
      case "read":
        return `${k}: r${pick(readers, op.back)}.read${arrive}`
      case "chunk":
        return `${k}: r${pick(readers, op.back)}.readChunk(${op.size})${arrive}`
      case "keepalive":
        return `${k}: setKeepalive, connect, getReusedTimes`
      case "busy":
        return `${k}: fiber 2 receive(1) || receive(1), send("busy\\n"); join fiber 2${arrive}`
    }
  })
  const later = p.chunks.filter((c) => c.at >= p.ops.length).length
  return [
    `peer: ${p.byteByByte ? "one byte per segment" : "one segment per chunk"}, ${
      p.fin === null || p.fin >= p.ops.length ? "left open" : "FIN as shown"
    }${later > 0 ? `, ${later} chunk(s) never released` : ""}`,
    `r0 = ${until(p.reader)}`,
    ...ops
  ].join("\n")
}
