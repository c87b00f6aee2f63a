/**
 * The example multipart reader (examples/multipart): parts streamed with
 * `receiveUntil("\r\n--" + boundary).stream(size)`, for any parts and any chunking.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import * as Multipart from "../examples/multipart/Multipart.js"
import { overChunks } from "../examples/support/servers.js"
import { TcpSocket } from "../src/index.js"
import { NodeCosocket } from "../src/node/index.js"
import { Chunking, ScriptedPeer } from "../src/testing/index.js"

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"))
const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1")

const contains = (haystack: Uint8Array, needle: string): boolean => text(haystack).includes(needle)

// -------------------------------------------------------------------------------------------------
// arbitraries

const boundary = fc.oneof(
  fc.stringMatching(/^[0-9A-Za-z'()+_,\-./:=?]{1,12}$/),
  fc.stringMatching(/^-{1,4}[ab]{0,2}$/)
)
const headers = fc.array(
  fc.tuple(
    fc.stringMatching(/^[A-Za-z][A-Za-z-]{0,9}$/),
    fc.stringMatching(/^([!-~]([ -~]{0,14}[!-~])?)?$/)
  ),
  { maxLength: 3 }
)

/** A boundary, parts whose bodies never contain the delimiter, and options of the encoding. */
const body = boundary.chain((b) => {
  const delimiter = `\r\n--${b}`
  const partBody = Chunking.arbitraryBytes({ alphabet: `-\r\nx${b.slice(0, 2)}`, maxLength: 40 })
    .filter((bytes) => !contains(bytes, delimiter))
  return fc.record({
    boundary: fc.constant(b),
    parts: fc.array(fc.record({ headers, body: partBody }), { maxLength: 4 }),
    preamble: fc.option(
      fc.stringMatching(/^[ -~]{0,12}$/).filter((p) => !p.includes(`--${b}`)),
      { nil: undefined }
    ),
    epilogue: fc.option(fc.stringMatching(/^[ -~\r\n]{0,12}$/), { nil: undefined }),
    chunkSize: fc.integer({ min: 1, max: 9 })
  })
})

const chunkedBody = body.chain((input) => {
  const encoded = Multipart.encode(input.parts, input.boundary, input)
  return Chunking.arbitraryChunking(encoded).map((chunks) => ({ ...input, encoded, chunks }))
})

// -------------------------------------------------------------------------------------------------
// helpers

const overString = <A, E>(body: string, f: (socket: TcpSocket.TcpSocket) => Effect.Effect<A, E>) =>
  overChunks([bytes(body)], f)

const events = (socket: TcpSocket.TcpSocket, b: string, chunkSize = 4) =>
  Stream.runCollect(Multipart.events(socket, b, { chunkSize }))

/** Events with the body chunks as text. */
const show = (all: ReadonlyArray<Multipart.Event>) =>
  all.map((e) => e._tag === "Body" ? `body:${text(e.chunk)}` : e._tag === "PartStart" ? e.headers : "end")

// -------------------------------------------------------------------------------------------------

describe("examples/multipart", () => {
  it.live("parts, headers and sized body chunks, in order; the epilogue is left unread", () =>
    overString(
      "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Empty:\r\n\r\nhello world\r\n" +
        "--XyZ\r\n\r\n\r\n--XyZ--\r\nepilogue",
      (socket) =>
        Effect.gen(function*() {
          expect(show(yield* events(socket, "XyZ", 4))).toEqual([
            [["Content-Disposition", "form-data; name=\"a\""], ["X-Empty", ""]],
            "body:hell",
            "body:o wo",
            "body:rld",
            "end",
            [],
            "end"
          ])
          expect(text(yield* socket.receive("*a"))).toBe("epilogue")
        })
    ))

  it.live("near-delimiters inside a body stay body bytes (self-overlapping prefixes of \\r\\n--ab)", () =>
    overString("--ab\r\n\r\n\r\n--a\r\n-\r\n--\r\n--b-\r\n--ab--", (socket) =>
      Effect.gen(function*() {
        const parts = yield* Multipart.collect(socket, "ab", { chunkSize: 3 })
        expect(parts.map((p) => text(p.body))).toEqual(["\r\n--a\r\n-\r\n--\r\n--b-"])
      })))

  it.live("no parts; transport padding after boundaries; a final -- without CRLF at EOF", () =>
    Effect.gen(function*() {
      expect(yield* overString("--b--", (socket) => events(socket, "b"))).toEqual([])
      const padded = yield* overString("--b \t\r\nA: 1\r\n\r\nx\r\n--b--  ", (socket) => events(socket, "b"))
      expect(show(padded)).toEqual([[["A", "1"]], "body:x", "end"])
    }))

  it.live("malformed bodies fail with a typed MultipartError naming the problem", () =>
    Effect.gen(function*() {
      const failure = (body: string, b = "b") =>
        overString(body, (socket) => Effect.flip(events(socket, b))).pipe(
          Effect.map((e) => `${e._tag}: ${e.message}`)
        )
      expect(yield* failure("--b\r\nA: 1\r\n\r\ntruncated body")).toBe(
        "MultipartError: the body ended before the closing boundary"
      )
      expect(yield* failure("no boundary at all")).toBe("MultipartError: the body ended before the closing boundary")
      expect(yield* failure("--b\r\nno colon\r\n\r\nx\r\n--b--")).toBe(
        "MultipartError: bad part header: \"no colon\""
      )
      expect(yield* failure("--bX\r\n\r\nx\r\n--b--")).toBe("MultipartError: bad boundary line: \"--bX\"")
      expect(yield* failure("--b--", "")).toBe("MultipartError: invalid multipart boundary \"\"")
      expect(yield* failure("--b--", "a\r\nb")).toBe("MultipartError: invalid multipart boundary \"a\\r\\nb\"")
    }))

  it("boundaryOf reads the Content-Type parameter", () => {
    expect(Multipart.boundaryOf("multipart/form-data; boundary=----x7")).toBe("----x7")
    expect(Multipart.boundaryOf("multipart/mixed; charset=utf-8; boundary=\"a b:c\"")).toBe("a b:c")
    expect(Multipart.boundaryOf("text/plain")).toBeUndefined()
  })

  it.live("a 1 MiB part streams in chunks of at most the size, byte-exact", () => {
    const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 7 + (i >> 8)) & 0xff)
    const encoded = Multipart.encode([{ headers: [["A", "b"]], body: big }], "bnd")
    return overChunks(
      Chunking.split(encoded, [1, 4096, 100_000, 700_001, encoded.length - 3]),
      (socket) =>
        Effect.gen(function*() {
          const all = yield* events(socket, "bnd", 1000)
          const chunks = all.flatMap((e) => e._tag === "Body" ? [e.chunk] : [])
          expect(chunks.every((c) => c.length > 0 && c.length <= 1000)).toBe(true)
          expect(Buffer.from(Chunking.concat(chunks)).equals(Buffer.from(big))).toBe(true)
        })
    )
  })

  it.live("in memory, any parts, any chunking, any chunk size: the parts come back exactly", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(chunkedBody, (input) =>
          Effect.runPromise(overChunks(input.chunks, (socket) =>
            Effect.gen(function*() {
              const all = yield* events(socket, input.boundary, input.chunkSize)
              for (const e of all) {
                if (e._tag === "Body") {
                  expect(e.chunk.length).toBeGreaterThan(0)
                }
                if (e._tag === "Body") {
                  expect(e.chunk.length).toBeLessThanOrEqual(input.chunkSize)
                }
              }
              const parts: Array<Multipart.Part> = []
              let current: Array<Uint8Array> = []
              let head: Multipart.Part["headers"] = []
              for (const e of all) {
                if (e._tag === "PartStart") {
                  head = e.headers
                  current = []
                } else if (e._tag === "Body") {
                  current.push(e.chunk)
                } else parts.push({ headers: head, body: Chunking.concat(current) })
              }
              expect(parts).toEqual(input.parts)
              // reading stopped right after the closing boundary line
              const rest = yield* Effect.result(socket.receive("*a"))
              if (input.epilogue === undefined) {
                // the closing "--" was the last bytes: the reader met EOF, the read half is closed
                expect(Result.isFailure(rest) && rest.failure._tag).toBe("SocketClosed")
              } else {
                expect(Result.map(rest, text)).toEqual(Result.succeed(input.epilogue))
              }
            })))),
        { numRuns: 100 }
      )
    ))

  it.live("over a scripted loopback peer sending the chunks apart: collect returns the parts", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(chunkedBody.filter((input) => input.chunks.length <= 12), (input) =>
          Effect.runPromise(
            Effect.gen(function*() {
              const peer = yield* ScriptedPeer.make({
                script: [ScriptedPeer.sendChunks(input.chunks, 2), ScriptedPeer.close]
              })
              const socket = yield* TcpSocket.make
              yield* socket.setTimeout("10 seconds")
              yield* socket.connect(peer.host, peer.port)
              const parts = yield* Multipart.collect(socket, input.boundary, { chunkSize: input.chunkSize })
              expect(parts).toEqual(input.parts)
            }).pipe(Effect.scoped, Effect.provide(NodeCosocket.layer), Effect.orDie)
          )),
        { numRuns: 12 }
      )
    ))
})
