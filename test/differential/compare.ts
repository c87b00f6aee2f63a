/**
 * The comparator: OpenResty's result lines against the library's, operation by operation. It
 * normalises only what README.md lists under "Deliberate differences from OpenResty" (each rule
 * cites its bullet, and the test checks the bullet is still there):
 *
 * - rules that change no stream position are normalised and the comparison goes on;
 * - rules after which the two sides read from different stream positions (a longer sized chunk,
 *   bytes held back by a reader, a dirty connection pooled by OpenResty only) end the comparison
 *   at that operation: the program "agrees up to a listed difference".
 *
 * Every other difference is a failure.
 */
import { type Op, pick, type Program, unhex } from "./program.js"

/** README bullets (their bold lead), cited by the rules below. */
export const BULLETS = {
  sized: "Sized `receiveUntil` never returns more than `size`",
  heldBack: "No bytes are lost when a reader holds back a possible start of the pattern",
  endMarker: "`read` returns empty bytes for an end marker",
  dirty: "Dirty connections are not pooled",
  keepaliveRule: "One rule for `setKeepalive` failures"
} as const

export type Bullet = keyof typeof BULLETS

export type Verdict =
  | { readonly _tag: "Same"; readonly normalised: ReadonlyArray<Bullet> }
  | {
    readonly _tag: "Listed"
    readonly bullet: Bullet
    readonly step: number
    readonly normalised: ReadonlyArray<Bullet>
  }
  | {
    readonly _tag: "Differ"
    readonly step: number
    readonly openresty: string
    readonly ours: string
    readonly why: string
  }

type Result =
  | { readonly _tag: "ok"; readonly bytes: string }
  | { readonly _tag: "end" }
  | { readonly _tag: "err"; readonly error: string; readonly partial: string | undefined }
  | { readonly _tag: "other"; readonly raw: string }

const parse = (line: string): Result => {
  if (line === "END") return { _tag: "end" }
  if (line.startsWith("OK ")) return { _tag: "ok", bytes: unhex(line.slice(3)) }
  const err = /^ERR (.+) (-|[0-9a-f]*)$/.exec(line)
  if (err !== null) return { _tag: "err", error: err[1], partial: err[2] === "-" ? undefined : unhex(err[2]) }
  return { _tag: "other", raw: line }
}

/** `ANY <n> <result>`: receiveAny got n bytes (1..max), then the top-up; compared on the result. */
const splitAny = (line: string): { readonly got: number; readonly rest: string } | undefined => {
  const m = /^ANY (\d+) (.*)$/.exec(line)
  return m === null ? undefined : { got: Number(m[1]), rest: m[2] }
}

const bytesOf = (r: Result): string | undefined => r._tag === "ok" ? r.bytes : r._tag === "err" ? r.partial : undefined

const stripCR = (s: string): string => s.replace(/\r/g, "")

const isPrefix = (a: string, b: string): boolean => b.startsWith(a)

const KEEPALIVE_REFUSED = /^KA ERR (closed|unread data in buffer|connection in dubious state) reused 0$/

/** `BUSY <second receive(1)> | <send> | <first receive(1), the blocked fiber's>`: the bytes both got, in read order. */
const busyBytes = (line: string): string | undefined => {
  const parts = line.slice("BUSY ".length).split(" | ")
  if (parts.length !== 3) return undefined
  const get = (r: Result) => r._tag === "ok" ? r.bytes : r._tag === "err" ? r.partial ?? "" : ""
  return get(parse(parts[2])) + get(parse(parts[0]))
}

/** One reader instance's state as far as OpenResty's held-back bytes go. */
interface Reader {
  readonly pattern: string
  /** Its last call may have left a possible start of the pattern held back (timeout, full chunk). */
  holding: boolean
}

const proper = (pattern: string): Array<string> =>
  Array.from({ length: pattern.length - 1 }, (_, i) => pattern.slice(0, i + 1))

/**
 * The library kept bytes that OpenResty's reader held back and lost (README: held-back bullet):
 * a foreign read sees them first.
 */
const heldBackForeign = (op: Op, holders: ReadonlyArray<Reader>, theirs: string, ours: string): boolean =>
  holders.some((r) =>
    proper(r.pattern).some((h) => {
      const held = op._tag === "line" ? stripCR(h) : h
      if (op._tag === "line" && h.includes("\n")) return ours === stripCR(h.slice(0, h.indexOf("\n")))
      if (isPrefix(ours, held + theirs) || isPrefix(held + theirs, ours)) return true
      return false
    })
  )

/** At the end of the stream the library's partial also holds the reader's held-back prefix. */
const heldBackAtEof = (reader: Reader, theirs: Result, ours: Result): boolean => {
  if (theirs._tag !== "err" || theirs.error !== "closed" || theirs.partial === undefined) return false
  const o = bytesOf(ours)
  if (o === undefined || !o.startsWith(theirs.partial) || o.length === theirs.partial.length) return false
  const extra = o.slice(theirs.partial.length)
  return reader.pattern.startsWith(extra) && extra.length < reader.pattern.length
}

export const compare = (
  program: Program,
  openresty: ReadonlyArray<string>,
  ours: ReadonlyArray<string>
): Verdict => {
  const normalised = new Set<Bullet>()
  const readers: Array<Reader> = [{ pattern: program.reader.pattern, holding: false }]
  const differ = (step: number, why: string): Verdict => ({
    _tag: "Differ",
    step,
    openresty: openresty[step] ?? "<nothing>",
    ours: ours[step] ?? "<nothing>",
    why
  })
  const listed = (bullet: Bullet, step: number): Verdict => ({
    _tag: "Listed",
    bullet,
    step,
    normalised: [...normalised]
  })
  let timedOut = false
  const steps = Math.max(openresty.length, ours.length)
  for (let step = 0; step < steps; step++) {
    const op = program.ops[step]
    let a = openresty[step]
    let b = ours[step]
    if (op === undefined || a === undefined || b === undefined) return differ(step, "one side ran fewer operations")
    if (op._tag === "any") {
      // Segment timing decides how much receiveAny returns: its bounds are checked, and the result
      // with its top-up is compared.
      const x = splitAny(a)
      const y = splitAny(b)
      for (const got of [x?.got, y?.got]) {
        if (got !== undefined && (got < 1 || got > op.max)) return differ(step, "receiveAny out of 1..max")
      }
      a = x?.rest ?? a
      b = y?.rest ?? b
    }
    const theirs = parse(a)
    const mine = parse(b)
    const reader = op._tag === "read" || op._tag === "chunk" ? readers[pick(readers.length, op.back)] : undefined
    if (a !== b) {
      if (op._tag === "read" && theirs._tag === "end" && mine._tag === "ok" && mine.bytes === "") {
        // README: "`read` returns empty bytes for an end marker".
        normalised.add("endMarker")
      } else if (op._tag === "keepalive" && KEEPALIVE_REFUSED.test(a) && KEEPALIVE_REFUSED.test(b)) {
        // README: "One rule for `setKeepalive` failures": which reason a connection with unread
        // bytes or a FIN gets depends on where they wait. Both sides then connect afresh.
        normalised.add("keepaliveRule")
      } else if (
        op._tag === "keepalive" && timedOut && /^KA OK reused [1-9]\d*$/.test(a) &&
        /^KA ERR dirty connection reused 0$/.test(b)
      ) {
        // README: "Dirty connections are not pooled": OpenResty reuses the connection, we start a new one.
        return listed("dirty", step)
      } else if (
        op._tag === "keepalive" && readers.some((r) => r.holding) && /^KA OK reused [1-9]\d*$/.test(a) &&
        /^KA ERR (unread data in buffer|connection in dubious state) reused 0$/.test(b)
      ) {
        // README: the held-back bullet: the bytes OpenResty's reader kept are unread bytes here.
        return listed("heldBack", step)
      } else if (
        op._tag === "busy" && readers.some((r) => r.holding) &&
        readers.some((r) => r.holding && proper(r.pattern).some((h) => (busyBytes(b) ?? "").startsWith(h)))
      ) {
        // README: the held-back bullet: the library's fibers read the bytes OpenResty's reader kept.
        return listed("heldBack", step)
      } else if (
        op._tag === "chunk" && theirs._tag === "ok" && mine._tag === "ok" &&
        theirs.bytes.length > op.size && mine.bytes.length <= op.size && mine.bytes.length < theirs.bytes.length &&
        theirs.bytes.startsWith(mine.bytes)
      ) {
        // README: "Sized `receiveUntil` never returns more than `size`": the sides now stand at
        // different stream positions.
        return listed("sized", step)
      } else {
        const o = bytesOf(mine)
        const t = bytesOf(theirs)
        const holders = readers.filter((r) => r.holding && r !== reader)
        if (reader !== undefined && heldBackAtEof(reader, theirs, mine)) return listed("heldBack", step)
        if (o !== undefined && t !== undefined && holders.length > 0 && heldBackForeign(op, holders, t, o)) {
          return listed("heldBack", step)
        }
        return differ(step, "not a listed difference")
      }
    }
    if (a.includes(" timeout ")) timedOut = true
    // Track which readers may hold bytes back (from OpenResty's side, which both sides agree on so far).
    if (op._tag === "until") {
      readers.push({ pattern: op.pattern, holding: false })
    } else if (reader !== undefined) {
      if (theirs._tag === "err" && theirs.error === "timeout") reader.holding = true
      else if (op._tag === "chunk" && theirs._tag === "ok" && theirs.bytes.length >= op.size) reader.holding = true
      else reader.holding = false
    }
  }
  return { _tag: "Same", normalised: [...normalised] }
}
