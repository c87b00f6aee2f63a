/**
 * RESP2, the Redis serialization protocol: command encoding, reply values and a pure,
 * synchronous reply parser (no Effect inside). The parser is what the property tests exercise;
 * the client's straight-line reader (./RedisClient.ts) shares its header parsing and must agree
 * with it on every valid reply.
 */
import * as Data from "effect/Data"

// -------------------------------------------------------------------------------------------------
// values

/**
 * `+OK\r\n`. Binary-safe: `bytes` are the reply's exact bytes (a script's `redis.status_reply`
 * may return any); `value` is their UTF-8 text, for the usual ASCII replies.
 */
export interface SimpleString {
  readonly _tag: "SimpleString"
  readonly value: string
  readonly bytes: Uint8Array
}

/**
 * `-ERR unknown command\r\n` (a reply value; a top-level one fails `command` with `RedisError`).
 * `bytes` are the exact bytes after the `-`; `message` is their UTF-8 text.
 */
export interface ErrorReply {
  readonly _tag: "ErrorReply"
  readonly message: string
  readonly bytes: Uint8Array
}

/** `:42\r\n`: a signed 64-bit integer. */
export interface Integer {
  readonly _tag: "Integer"
  readonly value: bigint
}

/** `$3\r\nfoo\r\n`: binary-safe bytes. */
export interface Bulk {
  readonly _tag: "Bulk"
  readonly value: Uint8Array
}

/** `$-1\r\n`: the nil bulk string (GET of a missing key). */
export interface Nil {
  readonly _tag: "Nil"
}

/** `*2\r\n...`: an array of replies, possibly nested. */
export interface RespArray {
  readonly _tag: "Array"
  readonly items: ReadonlyArray<RespValue>
}

/** `*-1\r\n`: the nil array (BLPOP that timed out). */
export interface NilArray {
  readonly _tag: "NilArray"
}

/** Any RESP2 reply. */
export type RespValue = SimpleString | ErrorReply | Integer | Bulk | Nil | RespArray | NilArray

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A status reply from its text (UTF-8) or its exact bytes. */
export const simple = (value: string | Uint8Array): RespValue =>
  typeof value === "string"
    ? { _tag: "SimpleString", value, bytes: encoder.encode(value) }
    : { _tag: "SimpleString", value: decoder.decode(value), bytes: value }
/** An error reply from its text (UTF-8) or its exact bytes. */
export const error = (message: string | Uint8Array): RespValue =>
  typeof message === "string"
    ? { _tag: "ErrorReply", message, bytes: encoder.encode(message) }
    : { _tag: "ErrorReply", message: decoder.decode(message), bytes: message }
export const integer = (value: bigint | number): RespValue => ({ _tag: "Integer", value: BigInt(value) })
export const bulk = (value: Uint8Array | string): RespValue => ({
  _tag: "Bulk",
  value: typeof value === "string" ? encoder.encode(value) : value
})
export const nil: RespValue = { _tag: "Nil" }
export const array = (items: ReadonlyArray<RespValue>): RespValue => ({ _tag: "Array", items })
export const nilArray: RespValue = { _tag: "NilArray" }

// -------------------------------------------------------------------------------------------------
// errors

/** The server's error reply (`-ERR ...`, `-WRONGTYPE ...`) to a command. */
export class RedisError extends Data.TaggedError("RedisError")<{
  /** The reply text without the leading `-`, e.g. `"ERR unknown command 'FOO'"` (UTF-8). */
  readonly reply: string
  /** The reply's exact bytes without the leading `-` (binary-safe; `reply` may be lossy). */
  readonly bytes: Uint8Array
}> {
  override get message(): string {
    return this.reply
  }
  /** The first word of the reply (`"ERR"`, `"WRONGTYPE"`, `"NOAUTH"`, ...). */
  get kind(): string {
    const space = this.reply.indexOf(" ")
    return space < 0 ? this.reply : this.reply.slice(0, space)
  }
}

/** The bytes on the wire are not RESP2: the connection is out of sync and must be closed. */
export class ProtocolError extends Data.TaggedError("ProtocolError")<{
  readonly reason: string
}> {
  override get message(): string {
    return `protocol error: ${this.reason}`
  }
}

// -------------------------------------------------------------------------------------------------
// encoding

/** A command argument: strings are UTF-8, numbers and bigints their decimal text. */
export type Arg = string | Uint8Array | number | bigint

const CR = 13
const LF = 10

const argBytes = (arg: Arg): Uint8Array =>
  arg instanceof Uint8Array ? arg : encoder.encode(typeof arg === "string" ? arg : String(arg))

/** Appends byte arrays into one. */
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

const pushCommand = (parts: Array<Uint8Array>, args: ReadonlyArray<Arg>): void => {
  parts.push(encoder.encode(`*${args.length}\r\n`))
  for (const arg of args) {
    const bytes = argBytes(arg)
    parts.push(encoder.encode(`$${bytes.length}\r\n`), bytes, CRLF)
  }
}

const CRLF = new Uint8Array([CR, LF])
const PLUS = new Uint8Array([0x2b])
const MINUS = new Uint8Array([0x2d])

/** One command as a RESP array of bulk strings: `SET k v` -> `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n`. */
export const encodeCommand = (args: ReadonlyArray<Arg>): Uint8Array => {
  const parts: Array<Uint8Array> = []
  pushCommand(parts, args)
  return concat(parts)
}

/** Several commands back to back, for one `send` (pipelining). */
export const encodeCommands = (commands: ReadonlyArray<ReadonlyArray<Arg>>): Uint8Array => {
  const parts: Array<Uint8Array> = []
  for (const args of commands) pushCommand(parts, args)
  return concat(parts)
}

/** A reply as the server writes it (for fake servers and tests). */
export const encodeValue = (value: RespValue): Uint8Array => {
  const parts: Array<Uint8Array> = []
  const go = (v: RespValue): void => {
    switch (v._tag) {
      case "SimpleString":
        parts.push(PLUS, v.bytes, CRLF)
        return
      case "ErrorReply":
        parts.push(MINUS, v.bytes, CRLF)
        return
      case "Integer":
        parts.push(encoder.encode(`:${v.value}\r\n`))
        return
      case "Bulk":
        parts.push(encoder.encode(`$${v.value.length}\r\n`), v.value, CRLF)
        return
      case "Nil":
        parts.push(encoder.encode("$-1\r\n"))
        return
      case "NilArray":
        parts.push(encoder.encode("*-1\r\n"))
        return
      case "Array":
        parts.push(encoder.encode(`*${v.items.length}\r\n`))
        for (const item of v.items) go(item)
        return
    }
  }
  go(value)
  return concat(parts)
}

// -------------------------------------------------------------------------------------------------
// parsing

/** Redis's `proto-max-bulk-len` default: longer bulk strings are garbage, not a reason to wait. */
export const MAX_BULK_LENGTH = 512 * 1024 * 1024
/** Longest array the parser accepts (items are parsed one by one; nothing is preallocated). */
export const MAX_ARRAY_LENGTH = 2 ** 32

/** A bulk string's header (`$n`, n >= 0): `n` bytes and CRLF follow. */
export interface BulkHeader {
  readonly _tag: "BulkHeader"
  readonly length: number
}

/** An array's header (`*n`, n > 0): `n` replies follow. */
export interface ArrayHeader {
  readonly _tag: "ArrayHeader"
  readonly length: number
}

/** What one header line says: a complete scalar reply, or how much more to read. */
export type Header = RespValue | BulkHeader | ArrayHeader

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** `-1` or decimal digits (at most 10); `undefined` otherwise. */
const parseLength = (line: Uint8Array): number | undefined => {
  if (line.length === 3 && line[1] === 0x2d && line[2] === 0x31) return -1
  if (line.length < 2 || line.length > 11) return undefined
  let n = 0
  for (let i = 1; i < line.length; i++) {
    const c = line[i]
    if (c < 0x30 || c > 0x39) return undefined
    n = n * 10 + (c - 0x30)
  }
  return n
}

const latin1 = (bytes: Uint8Array): string => {
  let s = ""
  for (const b of bytes) s += String.fromCharCode(b)
  return s
}

/**
 * Parses one header line, given without its line terminator (the straight-line reader gets it
 * from `receive("*l")`, the parser from the bytes before CRLF).
 */
export const parseHeader = (line: Uint8Array): Header | ProtocolError => {
  if (line.length === 0) return new ProtocolError({ reason: "empty line" })
  switch (line[0]) {
    // copies: the line may be a view of a buffer that is reused
    case 0x2b: // +
      return simple(line.slice(1))
    case 0x2d: // -
      return error(line.slice(1))
    case 0x3a: { // :
      const text = latin1(line.subarray(1))
      if (!/^-?[0-9]{1,19}$/.test(text)) return new ProtocolError({ reason: `bad integer "${text}"` })
      const value = BigInt(text)
      if (value < INT64_MIN || value > INT64_MAX) return new ProtocolError({ reason: `integer out of range "${text}"` })
      return { _tag: "Integer", value }
    }
    case 0x24: { // $
      const length = parseLength(line)
      if (length === undefined) return new ProtocolError({ reason: `bad bulk length "${latin1(line.subarray(1))}"` })
      if (length === -1) return nil
      if (length > MAX_BULK_LENGTH) {
        return new ProtocolError({ reason: `bulk length ${length} exceeds ${MAX_BULK_LENGTH}` })
      }
      return { _tag: "BulkHeader", length }
    }
    case 0x2a: { // *
      const length = parseLength(line)
      if (length === undefined) return new ProtocolError({ reason: `bad array length "${latin1(line.subarray(1))}"` })
      if (length === -1) return nilArray
      if (length > MAX_ARRAY_LENGTH) {
        return new ProtocolError({ reason: `array length ${length} exceeds ${MAX_ARRAY_LENGTH}` })
      }
      if (length === 0) return array([])
      return { _tag: "ArrayHeader", length }
    }
    default:
      return new ProtocolError({ reason: `unknown reply type byte 0x${line[0].toString(16).padStart(2, "0")}` })
  }
}

/** Checks that the two bytes at `at` are CRLF (the bulk string's trailer). */
export const isCrlf = (bytes: Uint8Array, at: number): boolean => bytes[at] === CR && bytes[at + 1] === LF

/** A complete reply and the offset just past it. */
export interface Parsed {
  readonly _tag: "Parsed"
  readonly value: RespValue
  readonly next: number
}

/** The bytes so far are a valid but incomplete reply. */
export interface NeedMore {
  readonly _tag: "NeedMore"
}

export const needMore: NeedMore = { _tag: "NeedMore" }

/** What {@link parseReply} returns. */
export type ParseResult = Parsed | NeedMore | ProtocolError

/**
 * Parses one reply starting at `offset`. Pure and synchronous; iterative (an explicit stack for
 * nested arrays), so deep nesting cannot overflow the call stack; it never preallocates from a
 * declared length, so garbage lengths cannot exhaust memory. Lines must end with CRLF and contain
 * no other CR.
 */
export const parseReply = (bytes: Uint8Array, offset = 0): ParseResult => {
  const stack: Array<{ readonly items: Array<RespValue>; remaining: number }> = []
  let pos = offset
  for (;;) {
    const lf = bytes.indexOf(LF, pos)
    if (lf < 0) {
      // A CR not followed by LF can never become a valid line.
      const cr = bytes.indexOf(CR, pos)
      if (cr >= 0 && cr < bytes.length - 1) return new ProtocolError({ reason: "CR inside a line" })
      return needMore
    }
    if (lf === pos || bytes[lf - 1] !== CR) return new ProtocolError({ reason: "line not terminated by CRLF" })
    const cr = bytes.indexOf(CR, pos)
    if (cr < lf - 1) return new ProtocolError({ reason: "CR inside a line" })
    const header = parseHeader(bytes.subarray(pos, lf - 1))
    pos = lf + 1
    let value: RespValue
    switch (header._tag) {
      case "ProtocolError":
        return header
      case "ArrayHeader":
        stack.push({ items: [], remaining: header.length })
        continue
      case "BulkHeader": {
        const end = pos + header.length
        if (end + 2 > bytes.length) return needMore
        if (!isCrlf(bytes, end)) return new ProtocolError({ reason: "bulk string not terminated by CRLF" })
        value = { _tag: "Bulk", value: bytes.slice(pos, end) }
        pos = end + 2
        break
      }
      default:
        value = header
    }
    // A complete value: attach it to the enclosing arrays, closing those that are now full.
    for (;;) {
      const top = stack[stack.length - 1]
      if (top === undefined) return { _tag: "Parsed", value, next: pos }
      top.items.push(value)
      top.remaining--
      if (top.remaining > 0) break
      stack.pop()
      value = { _tag: "Array", items: top.items }
    }
  }
}
