/**
 * The memcached text protocol for get, set, delete and incr: request encoding, reply values and a
 * pure, synchronous reply parser (no Effect inside). A reply's shape depends on the command, so
 * the parser takes the command; the client's straight-line reader (./MemcachedClient.ts) shares
 * the line parsing with it.
 */
import * as Data from "effect/Data"

// -------------------------------------------------------------------------------------------------
// values

/** The commands this client speaks; they decide how a reply is read. */
export type Command = "get" | "set" | "delete" | "incr"

/** One item of a `get` reply. */
export interface Item {
  readonly key: string
  readonly flags: number
  readonly value: Uint8Array
  /** Present in `gets` replies (not sent by this client; parsed when present). */
  readonly cas?: bigint | undefined
}

/** The server's error lines: `ERROR`, `CLIENT_ERROR <message>`, `SERVER_ERROR <message>`. */
export type ErrorKind = "ERROR" | "CLIENT_ERROR" | "SERVER_ERROR"

/** A memcached reply. */
export type Reply =
  | { readonly _tag: "Values"; readonly items: ReadonlyArray<Item> }
  | { readonly _tag: "Stored" }
  | { readonly _tag: "NotStored" }
  | { readonly _tag: "Exists" }
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "Deleted" }
  | { readonly _tag: "Number"; readonly value: bigint }
  | { readonly _tag: "ServerError"; readonly kind: ErrorKind; readonly message: string }

/** Which replies each command may get (error lines are valid for every command). */
export const expected: { readonly [C in Command]: ReadonlyArray<Reply["_tag"]> } = {
  get: ["Values"],
  set: ["Stored", "NotStored", "Exists", "NotFound"],
  delete: ["Deleted", "NotFound"],
  incr: ["Number", "NotFound"]
}

// -------------------------------------------------------------------------------------------------
// errors

/** The server answered with an error line. */
export class MemcachedError extends Data.TaggedError("MemcachedError")<{
  readonly kind: ErrorKind
  readonly detail: string
}> {
  override get message(): string {
    return this.detail === "" ? this.kind : `${this.kind} ${this.detail}`
  }
}

/** The bytes on the wire are not a valid reply to the command: close the connection. */
export class ProtocolError extends Data.TaggedError("ProtocolError")<{
  readonly reason: string
}> {
  override get message(): string {
    return `protocol error: ${this.reason}`
  }
}

/**
 * A request this client refuses to send; nothing was sent. Each refusal is a request memcached
 * (1.6) would misread, not one it rejects by design:
 *
 * - a key of 0 or more than 250 bytes, or with a space or control character: memcached splits
 *   the command line at spaces (a key "a b" would store "a" and read "b" as the flags);
 * - flags outside 0..2^32-1: memcached truncates them to 32 bits (4294967297 is stored as 1);
 * - an expiry outside -2^31..2^31-1 or not an integer: memcached truncates it to 32 bits, so
 *   2^31 becomes a negative (already expired) time and -2^31-1 a far future one;
 * - a delta outside 0..2^64-1 or not an integer.
 *
 * A negative expiry inside that range is sent: memcached stores the item already expired.
 */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<{
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

// -------------------------------------------------------------------------------------------------
// encoding

const encoder = new TextEncoder()
const CR = 13
const LF = 10
/** memcached's item size limit can be raised up to 1 GiB (`-I`); larger lengths are garbage. */
export const MAX_VALUE_LENGTH = 1024 * 1024 * 1024
const U32_MAX = 2 ** 32 - 1
const I32_MIN = -(2 ** 31)
const I32_MAX = 2 ** 31 - 1
const U64_MAX = 2n ** 64n - 1n

/** Why a key is invalid (1..250 bytes, no spaces or control characters), or `undefined`. */
export const keyProblem = (key: string): string | undefined => {
  const bytes = encoder.encode(key)
  if (bytes.length === 0 || bytes.length > 250) return `key length must be 1..250 bytes, got ${bytes.length}`
  for (const b of bytes) {
    if (b <= 0x20 || b === 0x7f) return `key contains a space or control character: ${JSON.stringify(key)}`
  }
  return undefined
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

const check = (problem: string | undefined): InvalidRequest | undefined =>
  problem === undefined ? undefined : new InvalidRequest({ reason: problem })

const checkKeys = (keys: ReadonlyArray<string>): InvalidRequest | undefined => {
  if (keys.length === 0) return new InvalidRequest({ reason: "get needs at least one key" })
  for (const key of keys) {
    const problem = check(keyProblem(key))
    if (problem !== undefined) return problem
  }
  return undefined
}

/** `get <key>*\r\n` */
export const encodeGet = (keys: ReadonlyArray<string>): Uint8Array | InvalidRequest =>
  checkKeys(keys) ?? encoder.encode(`get ${keys.join(" ")}\r\n`)

/** ` noreply`: the server sends no reply at all (not even an error line). */
const suffix = (noreply: boolean): string => noreply ? " noreply" : ""

/**
 * `set <key> <flags> <exptime> <bytes> [noreply]\r\n<data>\r\n`. A negative `exptime` stores
 * the item already expired (as memcached does).
 */
export const encodeSet = (
  key: string,
  value: Uint8Array | string,
  flags = 0,
  exptime = 0,
  noreply = false
): Uint8Array | InvalidRequest => {
  const bad = check(keyProblem(key))
  if (bad !== undefined) return bad
  if (!Number.isInteger(flags) || flags < 0 || flags > U32_MAX) {
    return new InvalidRequest({ reason: `flags must be an unsigned 32-bit integer, got ${flags}` })
  }
  if (!Number.isInteger(exptime) || exptime < I32_MIN || exptime > I32_MAX) {
    return new InvalidRequest({ reason: `exptime must be a signed 32-bit integer, got ${exptime}` })
  }
  const data = typeof value === "string" ? encoder.encode(value) : value
  return concat([
    encoder.encode(`set ${key} ${flags} ${exptime} ${data.length}${suffix(noreply)}\r\n`),
    data,
    encoder.encode("\r\n")
  ])
}

/** `delete <key> [noreply]\r\n` */
export const encodeDelete = (key: string, noreply = false): Uint8Array | InvalidRequest =>
  check(keyProblem(key)) ?? encoder.encode(`delete ${key}${suffix(noreply)}\r\n`)

/** `incr <key> <delta> [noreply]\r\n` */
export const encodeIncr = (key: string, delta: bigint | number, noreply = false): Uint8Array | InvalidRequest => {
  const bad = check(keyProblem(key))
  if (bad !== undefined) return bad
  if ((typeof delta === "number" && !Number.isSafeInteger(delta)) || BigInt(delta) < 0n || BigInt(delta) > U64_MAX) {
    return new InvalidRequest({ reason: `delta must be an unsigned 64-bit integer, got ${delta}` })
  }
  return encoder.encode(`incr ${key} ${delta}${suffix(noreply)}\r\n`)
}

/** A reply as the server writes it (for fake servers and tests). */
export const encodeReply = (reply: Reply): Uint8Array => {
  switch (reply._tag) {
    case "Values":
      return concat([
        ...reply.items.flatMap((item) => [
          encoder.encode(
            `VALUE ${item.key} ${item.flags} ${item.value.length}${item.cas === undefined ? "" : ` ${item.cas}`}\r\n`
          ),
          item.value,
          encoder.encode("\r\n")
        ]),
        encoder.encode("END\r\n")
      ])
    case "Stored":
      return encoder.encode("STORED\r\n")
    case "NotStored":
      return encoder.encode("NOT_STORED\r\n")
    case "Exists":
      return encoder.encode("EXISTS\r\n")
    case "NotFound":
      return encoder.encode("NOT_FOUND\r\n")
    case "Deleted":
      return encoder.encode("DELETED\r\n")
    case "Number":
      return encoder.encode(`${reply.value}\r\n`)
    case "ServerError":
      return encoder.encode(reply.message === "" ? `${reply.kind}\r\n` : `${reply.kind} ${reply.message}\r\n`)
  }
}

// -------------------------------------------------------------------------------------------------
// parsing

/** A `VALUE` line: `length` bytes and CRLF follow. */
export interface ValueHeader {
  readonly _tag: "ValueHeader"
  readonly key: string
  readonly flags: number
  readonly length: number
  readonly cas: bigint | undefined
}

/** The `END` line closing a `get` reply. */
export interface End {
  readonly _tag: "End"
}

/** What one line says, for a given command. */
export type Line = Reply | ValueHeader | End

const latin1 = (bytes: Uint8Array): string => {
  let s = ""
  for (const b of bytes) s += String.fromCharCode(b)
  return s
}

const decoder = new TextDecoder()

const digits = /^[0-9]{1,20}$/

const errorLine = (text: string): Reply | undefined => {
  for (const kind of ["ERROR", "CLIENT_ERROR", "SERVER_ERROR"] as const) {
    if (text === kind || text.startsWith(`${kind} `)) {
      return { _tag: "ServerError", kind, message: text.slice(kind.length + 1) }
    }
  }
  return undefined
}

const parseValueHeader = (text: string, line: Uint8Array): ValueHeader | ProtocolError => {
  const fields = text.split(" ")
  const bad = new ProtocolError({ reason: `bad VALUE line "${text}"` })
  if (fields.length !== 4 && fields.length !== 5) return bad
  const [, key, flags, length, cas] = fields
  if (key.length === 0 || key.length > 250 || !/^[\x21-\x7e\x80-\xff]+$/.test(key)) return bad
  if (!digits.test(flags) || Number(flags) > U32_MAX) return bad
  if (!digits.test(length) || Number(length) > MAX_VALUE_LENGTH) return bad
  if (cas !== undefined && (!digits.test(cas) || BigInt(cas) > U64_MAX)) return bad
  // Keys are bytes: decode them as UTF-8 (latin1 was only used to validate).
  const keyBytes = line.subarray(6, 6 + key.length)
  return {
    _tag: "ValueHeader",
    key: decoder.decode(keyBytes),
    flags: Number(flags),
    length: Number(length),
    cas: cas === undefined ? undefined : BigInt(cas)
  }
}

/**
 * Parses one line, given without its line terminator (from `receive("*l")` in the reader, from
 * the bytes before CRLF in the parser), as a reply to `command`.
 */
export const parseLine = (command: Command, line: Uint8Array): Line | ProtocolError => {
  const text = latin1(line)
  const error = errorLine(text)
  if (error !== undefined) return error
  let reply: Line | undefined
  switch (command) {
    case "get":
      if (text === "END") return { _tag: "End" }
      if (text.startsWith("VALUE ")) return parseValueHeader(text, line)
      break
    case "incr":
      if (digits.test(text)) {
        const value = BigInt(text)
        if (value <= U64_MAX) reply = { _tag: "Number", value }
      }
      break
  }
  if (reply === undefined) {
    reply = text === "STORED"
      ? { _tag: "Stored" }
      : text === "NOT_STORED"
      ? { _tag: "NotStored" }
      : text === "EXISTS"
      ? { _tag: "Exists" }
      : text === "NOT_FOUND"
      ? { _tag: "NotFound" }
      : text === "DELETED"
      ? { _tag: "Deleted" }
      : undefined
  }
  if (reply === undefined || !expected[command].includes(reply._tag as Reply["_tag"])) {
    return new ProtocolError({ reason: `unexpected reply to ${command}: "${text}"` })
  }
  return reply
}

/** The item a `VALUE` line and its data block describe (`cas` only when the line had one). */
export const item = (header: ValueHeader, value: Uint8Array): Item =>
  header.cas === undefined
    ? { key: header.key, flags: header.flags, value }
    : { key: header.key, flags: header.flags, value, cas: header.cas }

/** Checks that the two bytes at `at` are CRLF (a data block's trailer). */
export const isCrlf = (bytes: Uint8Array, at: number): boolean => bytes[at] === CR && bytes[at + 1] === LF

/** A complete reply and the offset just past it. */
export interface Parsed {
  readonly _tag: "Parsed"
  readonly value: Reply
  readonly next: number
}

/** The bytes so far are a valid but incomplete reply. */
export interface NeedMore {
  readonly _tag: "NeedMore"
}

export const needMore: NeedMore = { _tag: "NeedMore" }

export type ParseResult = Parsed | NeedMore | ProtocolError

/**
 * Parses the reply to `command` starting at `offset`. Pure and synchronous. Lines must end with
 * CRLF and contain no other CR; an error line ends a `get` reply too (its items are dropped).
 */
export const parseReply = (command: Command, bytes: Uint8Array, offset = 0): ParseResult => {
  const items: Array<Item> = []
  let pos = offset
  for (;;) {
    const lf = bytes.indexOf(LF, pos)
    if (lf < 0) {
      const cr = bytes.indexOf(CR, pos)
      if (cr >= 0 && cr < bytes.length - 1) return new ProtocolError({ reason: "CR inside a line" })
      return needMore
    }
    if (lf === pos || bytes[lf - 1] !== CR) return new ProtocolError({ reason: "line not terminated by CRLF" })
    if (bytes.indexOf(CR, pos) < lf - 1) return new ProtocolError({ reason: "CR inside a line" })
    const line = parseLine(command, bytes.subarray(pos, lf - 1))
    pos = lf + 1
    switch (line._tag) {
      case "ProtocolError":
        return line
      case "End":
        return { _tag: "Parsed", value: { _tag: "Values", items }, next: pos }
      case "ValueHeader": {
        const end = pos + line.length
        if (end + 2 > bytes.length) return needMore
        if (!isCrlf(bytes, end)) return new ProtocolError({ reason: "data block not terminated by CRLF" })
        items.push(item(line, bytes.slice(pos, end)))
        pos = end + 2
        continue
      }
      default:
        return { _tag: "Parsed", value: line, next: pos }
    }
  }
}
