/**
 * Catalog group TCP-UNTIL on real loopback sockets: a body peer sends a header block, body B and
 * FIN; the client consumes the header block with `receiveUntil("\r\n\r\n").read`, then runs the
 * case's calls. Each case also runs with the peer writing one byte per segment, since chunk
 * boundaries must never change results (the catalog's "buffer size 1" variants).
 *
 * Deliberate differences (the README's "Deliberate differences"): sized reads never return more than `size`
 * (TCP-UNTIL-019, -025, -026, -031 return smaller chunks than OpenResty, with the same
 * concatenation), and `readChunk(size <= 0)` is InvalidArgument rather than "no size"
 * (TCP-UNTIL-030). TCP-UNTIL-015's "no leak" has no GC-visible equivalent; the long pattern is
 * matched for real instead.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import { TcpSocket } from "../src/index.js"
import { bodyPeer, memcachedPeer, outcome, REQ57, run, server } from "./support/loopback.js"

type Call =
  | { readonly r: number | undefined; readonly reader?: 1 | 2 }
  | { readonly receive: number }

interface Case {
  readonly id: string
  readonly body: string
  readonly pattern: string
  readonly pattern2?: string
  readonly inclusive?: boolean
  readonly calls: ReadonlyArray<Call>
  readonly expected: ReadonlyArray<string>
}

const r = (size?: number, reader?: 1 | 2): Call => reader === undefined ? { r: size } : { r: size, reader }
const rx = (n: number, size?: number): Array<Call> => Array.from({ length: n }, () => r(size))
const recv = (n: number): Call => ({ receive: n })

const cases: ReadonlyArray<Case> = [
  { id: "TCP-UNTIL-005", body: "abcabcaad\n", pattern: "aa", calls: rx(2), expected: ["abcabc", "ERR closed [d\n]"] },
  {
    id: "TCP-UNTIL-006",
    body: "abaabcaaaef\n",
    pattern: "aaa",
    calls: rx(2),
    expected: ["abaabc", "ERR closed [ef\n]"]
  },
  {
    id: "TCP-UNTIL-007",
    body: "baaaaaaaaeaaaaaaadf\n",
    pattern: "aaaaad",
    calls: rx(2),
    expected: ["baaaaaaaaeaa", "ERR closed [f\n]"]
  },
  {
    id: "TCP-UNTIL-009",
    body: "abcabdabcabcabdabcabe\n",
    pattern: "abcabdabcabe",
    calls: rx(2),
    expected: ["abcabdabc", "ERR closed [\n]"]
  },
  {
    id: "TCP-UNTIL-010",
    body: "abcabcabdabcabe\n",
    pattern: "abcabdabcabe",
    calls: rx(2),
    expected: ["abc", "ERR closed [\n]"]
  },
  {
    id: "TCP-UNTIL-011",
    body: "ababcabdabcabe\n",
    pattern: "abcabdabcabe",
    calls: rx(2),
    expected: ["ab", "ERR closed [\n]"]
  },
  {
    id: "TCP-UNTIL-013",
    body: "hello, world ----abc\n",
    pattern: "--abc",
    calls: rx(6, 4),
    expected: ["hell", "o, w", "orld", " --", "END", "ERR closed [\n]"]
  },
  {
    id: "TCP-UNTIL-014",
    body: "hello, world ----abc\n",
    pattern: "--abc",
    calls: [r(4), recv(1), r(4), recv(1), r(4), recv(1), r(4), recv(1), r(4), recv(1)],
    expected: ["hell", "o", ", wo", "r", "ld -", "-", "", "\n", "END", "ERR closed []"]
  },
  {
    id: "TCP-UNTIL-015",
    body: "xx------------------------------------------- abcdefghijklmnopqrstuvwxyz\n",
    pattern: "------------------------------------------- abcdefghijklmnopqrstuvwxyz",
    calls: rx(2),
    expected: ["xx", "ERR closed [\n]"]
  },
  {
    id: "TCP-UNTIL-017",
    body: "----abc----abc-\n",
    pattern: "--abc",
    calls: [r(2), recv(1), r(2), recv(1), r(2), recv(1), r(2), recv(1), r(2), r(2)],
    expected: ["--", "-", "-a", "b", "c-", "-", "", "-", "END", "ERR closed [\n]"]
  },
  {
    id: "TCP-UNTIL-018",
    body: "------abd----abc\n",
    pattern: "--abc",
    pattern2: "-ab",
    calls: [r(2), recv(1), r(1), r(2, 2), r(undefined), r(undefined)],
    expected: ["--", "-", "-", "-", "d--", "ERR closed [\n]"]
  },
  {
    id: "TCP-UNTIL-019 (ours: never exceeds size)",
    body: "ab1ab1\n",
    pattern: "ab1ab2",
    calls: [r(2), recv(3)],
    expected: ["ab", "1ab"]
  },
  {
    id: "TCP-UNTIL-021",
    body: "ababcabdabcabe\n",
    pattern: "abcabdabcabe",
    inclusive: true,
    calls: rx(2),
    expected: ["ababcabdabcabe", "ERR closed [\n]"]
  },
  {
    id: "TCP-UNTIL-022",
    body: "abcabcaad\n",
    pattern: "aa",
    inclusive: false,
    calls: rx(2),
    expected: ["abcabc", "ERR closed [d\n]"]
  },
  {
    id: "TCP-UNTIL-023",
    body: "abcabcaad\n",
    pattern: "aa",
    inclusive: true,
    calls: rx(2),
    expected: ["abcabcaa", "ERR closed [d\n]"]
  },
  {
    id: "TCP-UNTIL-025 (ours: never exceeds size)",
    body: "hello, world ----abc\n",
    pattern: "--abc",
    inclusive: true,
    calls: rx(7, 4),
    expected: ["hell", "o, w", "orld", " ---", "-abc", "END", "ERR closed [\n]"]
  },
  {
    id: "TCP-UNTIL-026 (ours: never exceeds size)",
    body: "hello, world ----abc\n",
    pattern: "--abc",
    inclusive: true,
    calls: [r(4), recv(1), r(4), recv(1), r(4), recv(1), r(4), recv(1), r(4), recv(1)],
    // The occurrence is committed once its first byte was returned: the foreign receive(1) that
    // takes its last byte completes it, and the reader's next call is the end marker.
    expected: ["hell", "o", ", wo", "r", "ld -", "-", "--ab", "c", "END", "\n"]
  },
  {
    id: "TCP-UNTIL-031 (ours: never exceeds size)",
    body: "abcabcabd\n",
    pattern: "abcabd",
    calls: rx(7, 1),
    expected: ["a", "b", "c", "", "END", "\n", "ERR closed []"]
  }
]

const runCase = (c: Case, byteByByte: boolean) =>
  run(Effect.gen(function*() {
    const peer = yield* server(bodyPeer(c.body, byteByByte))
    const socket = yield* TcpSocket.make
    yield* socket.connect("127.0.0.1", peer.port)
    yield* socket.send(REQ57)
    yield* (yield* socket.receiveUntil("\r\n\r\n")).read
    const options = c.inclusive === undefined ? undefined : { inclusive: c.inclusive }
    const r1 = yield* socket.receiveUntil(c.pattern, options)
    const r2 = c.pattern2 === undefined ? r1 : yield* socket.receiveUntil(c.pattern2, options)
    const out: Array<string> = []
    for (const call of c.calls) {
      if ("receive" in call) {
        out.push(yield* outcome(socket.receive(call.receive)))
        continue
      }
      const reader = call.reader === 2 ? r2 : r1
      if (call.r === undefined) {
        out.push(yield* outcome(reader.read))
      } else {
        const chunk = yield* Effect.result(reader.readChunk(call.r))
        out.push(
          Result.isFailure(chunk)
            ? yield* outcome(Effect.fail(chunk.failure))
            : Option.match(chunk.success, { onNone: () => "END", onSome: TcpSocket.text })
        )
      }
    }
    expect(out).toEqual(c.expected)
    expect(yield* outcome(socket.close)).toBe("undefined")
  }))

describe("TcpSocket.receiveUntil", () => {
  for (const c of cases) {
    it.live(`${c.id} ${JSON.stringify(c.body)} until ${JSON.stringify(c.pattern)}`, () => runCase(c, false))
    it.live(`${c.id} one byte per segment`, () => runCase(c, true))
  }

  it.live("TCP-UNTIL-001 memcached line", () =>
    run(Effect.gen(function*() {
      const peer = yield* server(memcachedPeer)
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.send("flush_all\r\n")
      expect(TcpSocket.text(yield* (yield* socket.receiveUntil("\r\n")).read)).toBe("OK")
    })))

  it.live("TCP-UNTIL-002 / TCP-UNTIL-003 HTTP lines and the whole header block", () =>
    run(Effect.gen(function*() {
      const { httpPeer, RESP_FOO_LINES } = yield* Effect.promise(() => import("./support/loopback.js"))
      const peer = yield* server(httpPeer())
      const lines = yield* TcpSocket.make
      yield* lines.connect("127.0.0.1", peer.port)
      yield* lines.send(REQ57)
      const reader = yield* lines.receiveUntil("\r\n")
      const out: Array<string> = []
      for (let i = 0; i < 7; i++) out.push(yield* outcome(reader.read))
      expect(out).toEqual([...RESP_FOO_LINES.slice(0, 6), "ERR closed [foo\n]"])
      const block = yield* TcpSocket.make
      yield* block.connect("127.0.0.1", peer.port)
      yield* block.send(REQ57)
      const headers = yield* block.receiveUntil("\r\n\r\n")
      expect(yield* outcome(headers.read)).toBe(RESP_FOO_LINES.slice(0, 5).join("\r\n"))
      expect(yield* outcome(headers.read)).toBe("ERR closed [foo\n]")
    })))

  it.live("TCP-UNTIL-029 an empty pattern is InvalidArgument; a reader on a never-connected socket is closed", () =>
    run(Effect.gen(function*() {
      const socket = yield* TcpSocket.make
      const error = yield* Effect.flip(socket.receiveUntil(""))
      expect([error._tag, error.message]).toEqual(["InvalidArgument", "pattern is empty"])
      const reader = yield* socket.receiveUntil("x")
      expect(yield* outcome(reader.read)).toBe("ERR closed")
    })))

  it.live("TCP-UNTIL-030 (ours) readChunk sizes below 1 are InvalidArgument; fractions truncate", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.end("abcXd"))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const reader = yield* socket.receiveUntil("X")
      for (const size of [-5, 0, Number.NaN]) {
        const error = yield* Effect.flip(reader.readChunk(size))
        expect([error._tag, error.message]).toEqual(["InvalidArgument", "bad size argument"])
      }
      expect(Option.map(yield* reader.readChunk(2.7), TcpSocket.text)).toEqual(Option.some("ab"))
      const inclusive = yield* Effect.flip(
        socket.receiveUntil("x", { inclusive: "yes" as unknown as boolean })
      )
      expect(inclusive.message).toBe(`bad "inclusive" option value type: string`)
    })))

  it.live("EOF mid-match: the held-back bytes are in the partial", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.end("xy--"))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const reader = yield* socket.receiveUntil("--abc")
      expect(yield* outcome(reader.read)).toBe("ERR closed [xy--]")
    })))

  it.live("stream(size) yields the chunks before the pattern, then the next occurrence", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.end("part one--Bpart two--Btail"))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const reader = yield* socket.receiveUntil("--B")
      const first = yield* Stream.runCollect(reader.stream(3))
      expect(Array.from(first, TcpSocket.text)).toEqual(["par", "t o", "ne"])
      const second = yield* Stream.runCollect(reader.stream(100))
      expect(Array.from(second, TcpSocket.text)).toEqual(["part two"])
      expect(yield* outcome(socket.receive("*a"))).toBe("tail")
    })))

  // OpenResty returns the pending end marker from the next iterator call of either form.
  it.live("after a readChunk that reached the pattern, read is the end marker (empty bytes), as in OpenResty", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.end("x"))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const reader = yield* socket.receiveUntil("x")
      expect(Option.map(yield* reader.readChunk(2), TcpSocket.text)).toEqual(Option.some(""))
      // OpenResty: it() gives nil, nil, nil; the occurrence is finished, nothing is read.
      expect(yield* outcome(reader.read)).toBe("")
      expect(yield* outcome(reader.read)).toBe("ERR closed []")
    })))

  it.live("after a readChunk that reached the pattern, read ends that occurrence even after other reads", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.end("ab--cd\n--ef--"))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const reader = yield* socket.receiveUntil("--")
      expect(Option.map(yield* reader.readChunk(5), TcpSocket.text)).toEqual(Option.some("ab"))
      expect(yield* outcome(socket.receive())).toBe("cd")
      expect(yield* outcome(reader.read)).toBe("")
      expect(yield* outcome(reader.read)).toBe("")
      expect(yield* outcome(reader.read)).toBe("ef")
    })))

  // README "No bytes are lost when a reader holds back a possible start of the pattern".
  it.live("(ours) bytes held back by a timed-out reader are read by the next receive (OpenResty loses them)", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.write("-"))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.setTimeouts(0, 0, 100)
      const reader = yield* socket.receiveUntil("--", { inclusive: true })
      expect(yield* outcome(reader.read)).toBe("ERR timeout []")
      // OpenResty: timeout with an empty partial; the "-" only ever comes back through that reader.
      expect(yield* outcome(socket.receive())).toBe("ERR timeout [-]")
    })))

  it.live("(ours) bytes held back after a sized chunk go to receive(n), receiveAny and a new reader", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => s.write("ab--a"))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.setTimeouts(0, 0, 100)
      const reader = yield* socket.receiveUntil("--abc")
      // "--a" may start the pattern: the chunk stops before it (OpenResty holds it inside the iterator).
      expect(Option.map(yield* reader.readChunk(2), TcpSocket.text)).toEqual(Option.some("ab"))
      expect(yield* outcome(socket.receive(1))).toBe("-")
      const other = yield* socket.receiveUntil("a")
      expect(yield* outcome(other.read)).toBe("-")
      expect(yield* outcome(socket.receiveAny(5))).toBe("ERR timeout []")
    })))

  // Found by the differential campaign: the reader kept the old connection's offsets.
  it.live("a reader used across a reconnect: a committed occurrence ends with the old connection", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s, index) => s.write(index === 0 ? "abcabd-rest" : "zabcabdq"))
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      const reader = yield* socket.receiveUntil("abcabd", { inclusive: true })
      expect(Option.map(yield* reader.readChunk(4), TcpSocket.text)).toEqual(Option.some("abca"))
      yield* socket.connect("127.0.0.1", peer.port)
      // The occurrence is finished (its end marker is owed); the scan starts over on the new bytes.
      expect(yield* reader.readChunk(7)).toEqual(Option.none())
      expect(Option.map(yield* reader.readChunk(7), TcpSocket.text)).toEqual(Option.some("zabcabd"))
      expect(yield* reader.readChunk(7)).toEqual(Option.none())
      expect(yield* outcome(socket.receive(1))).toBe("q")
    })))

  it.live("a read timeout keeps the matcher state; the next read continues correctly", () =>
    run(Effect.gen(function*() {
      const peer = yield* server((s) => {
        s.setNoDelay(true)
        s.write("abc--a")
        setTimeout(() => s.write("bc tail"), 200)
      })
      const socket = yield* TcpSocket.make
      yield* socket.connect("127.0.0.1", peer.port)
      yield* socket.setTimeouts(0, 0, 100)
      const reader = yield* socket.receiveUntil("--abc")
      // Only the bytes that cannot start the pattern are returned (and consumed) as partial.
      expect(yield* outcome(reader.read)).toBe("ERR timeout [abc]")
      yield* socket.setTimeouts(0, 0, 1000)
      expect(yield* outcome(reader.read)).toBe("")
      expect(yield* outcome(socket.receive(5))).toBe(" tail")
    })))
})
