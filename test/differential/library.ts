/**
 * The differential test's library side: runs a program through `TcpSocket` against the replay
 * peer and prints the same result lines as runner.lua (the OpenResty side).
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { type CosocketError, TcpSocket } from "../../src/index.js"
import { NodeCosocket } from "../../src/node/index.js"
import { hex, MAX_TIMEOUTS, pick, type Program, READ_TIMEOUT, SETTLE } from "./program.js"

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString("latin1")

type Outcome = { readonly data: string } | { readonly end: true } | {
  readonly error: string
  readonly partial: string | undefined
}

const outcome = <E extends CosocketError.CosocketError>(
  effect: Effect.Effect<Uint8Array | Option.Option<Uint8Array>, E>
): Effect.Effect<Outcome> =>
  Effect.match(effect, {
    onFailure: (e): Outcome => ({
      error: e.message,
      partial: "partial" in e && e.partial instanceof Uint8Array ? latin1(e.partial) : undefined
    }),
    onSuccess: (v): Outcome =>
      v instanceof Uint8Array ? { data: latin1(v) } : Option.isSome(v) ? { data: latin1(v.value) } : { end: true }
  })

const line = (o: Outcome): string =>
  "data" in o
    ? `OK ${hex(o.data)}`
    : "end" in o
    ? "END"
    : `ERR ${o.error} ${o.partial === undefined ? "-" : hex(o.partial)}`

/** Runs `program` (registered with the peer as `id`) and returns its result lines. */
export const runLibrary = (program: Program, port: number, id: string): Effect.Effect<Array<string>> =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* TcpSocket.make
    yield* socket.setTimeouts(5000, 5000, READ_TIMEOUT)
    // A pool per program, as on the OpenResty side.
    yield* socket.connect("127.0.0.1", port, { pool: id })
    yield* socket.send(`${id}\n`)
    const until = (pattern: string, inclusive: boolean) =>
      socket.receiveUntil(Buffer.from(pattern, "latin1"), { inclusive })
    const readers: Array<TcpSocket.UntilReader> = [yield* until(program.reader.pattern, program.reader.inclusive)]
    const out: Array<string> = []
    let timeouts = 0
    for (let k = 0; k < program.ops.length; k++) {
      const op = program.ops[k]
      if (op._tag !== "keepalive") yield* socket.send(`${k}\n`)
      let r: string
      switch (op._tag) {
        case "line":
          r = line(yield* outcome(socket.receive("*l")))
          break
        case "all":
          r = line(yield* outcome(socket.receive("*a")))
          break
        case "bytes":
          r = line(yield* outcome(socket.receive(op.n)))
          break
        case "any": {
          const first = yield* outcome(socket.receiveAny(op.max))
          if (!("data" in first)) {
            r = line(first)
          } else if (first.data.length < op.max) {
            const more = yield* outcome(socket.receive(op.max - first.data.length))
            const joined: Outcome = "data" in more
              ? { data: first.data + more.data }
              : {
                error: "error" in more ? more.error : "?",
                partial: first.data + ("partial" in more ? more.partial ?? "" : "")
              }
            r = `ANY ${first.data.length} ${line(joined)}`
          } else {
            r = `ANY ${first.data.length} ${line(first)}`
          }
          break
        }
        case "until": {
          readers.push(yield* until(op.pattern, op.inclusive))
          r = "NEW"
          break
        }
        case "read":
        case "chunk": {
          const reader = readers[pick(readers.length, op.back)]
          if (op._tag === "read") r = line(yield* outcome(reader.read))
          else r = line(yield* outcome(reader.readChunk(op.size)))
          break
        }
        case "keepalive": {
          yield* Effect.sleep(SETTLE)
          const kept = yield* Effect.match(socket.setKeepalive(), {
            onFailure: (e) => `ERR ${e.message}`,
            onSuccess: () => "OK"
          })
          const again = yield* Effect.result(socket.connect("127.0.0.1", port, { pool: id }))
          if (again._tag === "Failure") {
            r = `KA ${kept} connect ${again.failure.message}`
          } else {
            const n = yield* socket.getReusedTimes
            if (n === 0) yield* socket.send(`${id}\n`)
            r = `KA ${kept} reused ${n}`
          }
          break
        }
        case "busy": {
          yield* Effect.sleep(SETTLE)
          // As ngx.thread.spawn: the second fiber runs until it blocks (or finishes) first.
          const first = yield* Effect.forkChild(outcome(socket.receive(1)), { startImmediately: true })
          const second = line(yield* outcome(socket.receive(1)))
          const sent = yield* Effect.match(socket.send("busy\n"), {
            onFailure: (e) => `ERR ${e.message}`,
            onSuccess: (n) => `sent ${n}`
          })
          r = `BUSY ${second} | ${sent} | ${line(yield* Fiber.join(first))}`
          break
        }
      }
      out.push(r)
      if (r.includes(" timeout ") && ++timeouts >= MAX_TIMEOUTS) break
    }
    return out
  })).pipe(
    Effect.provide(NodeCosocket.layer),
    Effect.catch((e) => Effect.succeed([`HARNESS ${e.message}`])),
    // A defect (a bug in the library) is a result like any other: it differs from OpenResty's.
    Effect.catchDefect((defect) => Effect.succeed([`DEFECT ${String(defect)}`]))
  )
