/**
 * A streaming reader of a multipart body (RFC 2046: `--boundary` delimited parts, each with
 * headers and a body), in the style of lua-resty-upload: part bodies are never buffered whole,
 * they arrive as chunks of at most `chunkSize` bytes from `receiveUntil("\r\n--" + boundary)`
 * and its `stream(size)`.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { CosocketError, TcpSocket } from "../../src/index.js"

/** What the reader emits, in order: for each part `PartStart`, zero or more `Body`, `PartEnd`. */
export type Event =
  | { readonly _tag: "PartStart"; readonly headers: ReadonlyArray<readonly [name: string, value: string]> }
  | { readonly _tag: "Body"; readonly chunk: Uint8Array }
  | { readonly _tag: "PartEnd" }

/** The body is not valid multipart (bad boundary line or header, or it ended before the close). */
export class MultipartError extends Data.TaggedError("MultipartError")<{
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

export type ReadError = MultipartError | TcpSocket.ReceiveError | CosocketError.InvalidArgument

export interface Options {
  /** Largest `Body` chunk (default 16 KiB). */
  readonly chunkSize?: number | undefined
  /** Most headers per part (default 64). */
  readonly maxHeaders?: number | undefined
}

/** RFC 2046 boundary: 1..70 characters of `bchars`, not ending with a space. */
export const boundaryProblem = (boundary: string): string | undefined =>
  /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/.test(boundary)
    ? undefined
    : `invalid multipart boundary ${JSON.stringify(boundary)}`

/** The boundary parameter of a `Content-Type: multipart/...; boundary=...` value, if any. */
export const boundaryOf = (contentType: string): string | undefined => {
  const match = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType)
  return match === null ? undefined : match[1] ?? match[2]
}

const latin1 = (bytes: Uint8Array): string => {
  let s = ""
  for (const b of bytes) s += String.fromCharCode(b)
  return s
}

const decoder = new TextDecoder()

/** EOF in the middle of the body: the body was cut short. */
const truncated = (error: ReadError): ReadError =>
  error._tag === "SocketClosed" && error.partial !== undefined
    ? new MultipartError({ reason: "the body ended before the closing boundary" })
    : error

/**
 * Reads a multipart body from the socket as a stream of events. The socket must be positioned at
 * the body (any preamble is skipped); reading stops right after the closing boundary line, so the
 * epilogue, if any, is left unread.
 */
export const events = (
  socket: TcpSocket.TcpSocket,
  boundary: string,
  options: Options = {}
): Stream.Stream<Event, ReadError> =>
  Stream.unwrap(Effect.gen(function*() {
    const problem = boundaryProblem(boundary)
    if (problem !== undefined) return yield* new MultipartError({ reason: problem })
    const chunkSize = options.chunkSize ?? 16 * 1024
    const maxHeaders = options.maxHeaders ?? 64
    const first = yield* socket.receiveUntil(`--${boundary}`)
    const delimiter = yield* socket.receiveUntil(`\r\n--${boundary}`)

    /** The rest of a boundary line: `""` before a part, `"--"` after the last one. */
    const boundaryLine = Effect.gen(function*() {
      const line = yield* socket.receive("*l").pipe(
        // The closing `--` may be the very last bytes of the stream.
        Effect.catchTag("SocketClosed", (e) =>
          e.partial !== undefined && latin1(e.partial).trim() === "--" ? Effect.succeed(e.partial) : Effect.fail(e))
      )
      const rest = latin1(line).replace(/[ \t]+$/, "")
      if (rest !== "" && rest !== "--") {
        return yield* new MultipartError({ reason: `bad boundary line: ${JSON.stringify(`--${boundary}${rest}`)}` })
      }
      return rest
    })

    const headers = Effect.gen(function*() {
      const out: Array<readonly [string, string]> = []
      for (;;) {
        const line = yield* socket.receive("*l")
        if (line.length === 0) {
          return out
        }
        if (out.length >= maxHeaders) {
          return yield* new MultipartError({ reason: `more than ${maxHeaders} headers` })
        }
        const text = decoder.decode(line)
        const colon = text.indexOf(":")
        if (colon <= 0) {
          return yield* new MultipartError({ reason: `bad part header: ${JSON.stringify(text)}` })
        }
        out.push([text.slice(0, colon).trim(), text.slice(colon + 1).trim()])
      }
    })

    const parts: Stream.Stream<Event, ReadError> = Stream.unwrap(Effect.gen(function*() {
      if ((yield* boundaryLine) === "--") {
        return Stream.empty
      }
      const start: Event = { _tag: "PartStart", headers: yield* headers }
      const body = delimiter.stream(chunkSize).pipe(
        Stream.filter((chunk) =>
          chunk.length > 0
        ),
        Stream.map((chunk): Event => ({ _tag: "Body", chunk }))
      )
      return Stream.succeed(start).pipe(
        Stream.concat(body),
        Stream.concat(Stream.succeed<Event>({ _tag: "PartEnd" })),
        Stream.concat(Stream.suspend(() => parts))
      )
    }))

    yield* first.read // the preamble
    return parts
  })).pipe(Stream.mapError(truncated))

/** A part read whole (for small bodies and tests). */
export interface Part {
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>
  readonly body: Uint8Array
}

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  let length = 0
  for (const chunk of chunks) length += chunk.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** Reads every part into memory. */
export const collect = (
  socket: TcpSocket.TcpSocket,
  boundary: string,
  options: Options = {}
): Effect.Effect<ReadonlyArray<Part>, ReadError> =>
  Stream.runFold(
    events(socket, boundary, options),
    () => ({ parts: [] as Array<Part>, headers: [] as Part["headers"], chunks: [] as Array<Uint8Array> }),
    (state, event) => {
      switch (event._tag) {
        case "PartStart":
          return { ...state, headers: event.headers, chunks: [] }
        case "Body":
          state.chunks.push(event.chunk)
          return state
        case "PartEnd":
          state.parts.push({ headers: state.headers, body: concat(state.chunks) })
          return state
      }
    }
  ).pipe(Effect.map((state) => state.parts))

/** The value of a header (case-insensitive name), if present. */
export const header = (part: Pick<Part, "headers">, name: string): string | undefined =>
  part.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1]

const encoder = new TextEncoder()

/** Encodes parts as a multipart body (for servers and tests). */
export const encode = (
  parts: ReadonlyArray<Part>,
  boundary: string,
  options: { readonly preamble?: string | undefined; readonly epilogue?: string | undefined } = {}
): Uint8Array => {
  const chunks: Array<Uint8Array> = []
  if (options.preamble !== undefined) chunks.push(encoder.encode(`${options.preamble}\r\n`))
  for (const part of parts) {
    const head = part.headers.map(([name, value]) => `${name}: ${value}\r\n`).join("")
    chunks.push(encoder.encode(`--${boundary}\r\n${head}\r\n`), part.body, encoder.encode("\r\n"))
  }
  chunks.push(encoder.encode(`--${boundary}--`))
  if (options.epilogue !== undefined) chunks.push(encoder.encode(`\r\n${options.epilogue}`))
  return concat(chunks)
}
