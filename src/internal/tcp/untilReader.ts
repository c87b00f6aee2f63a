/**
 * The reader `receiveUntil` returns: `read` (up to the pattern), `readChunk(size)` (at most
 * `size` bytes of the part before it) and `stream(size)`, all over one matcher state.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { InvalidArgument } from "../../CosocketError.js"
import type * as Api from "../../TcpSocket.js"
import * as needs from "../needs.js"
import * as validate from "../validate.js"
import * as args from "./arguments.js"

/** A reader over `state`; `read` runs a need on the socket (with the socket's checks). */
export const untilReader = (
  state: needs.UntilState,
  maxReceiveSize: number | undefined,
  read: <A>(need: needs.Need<A>) => Effect.Effect<A, Api.ReceiveError>
): Api.UntilReader => {
  // The need holds no state of its own (the reader's state does): one serves every read.
  const need = new needs.UntilNeed(state, maxReceiveSize)
  const whole = Effect.suspend(() => read(need))
  type Chunk = Effect.Effect<Option.Option<Uint8Array>, Api.ReceiveError | InvalidArgument>
  const readChunk = (size: number): Chunk =>
    Effect.suspend((): Chunk => {
      const n = args.parseCount("size", size)
      if (validate.isInvalid(n)) return Effect.fail(n)
      return Effect.map(read(new needs.UntilChunkNeed(state, n)), Option.fromNullishOr)
    })
  return {
    read: whole,
    readChunk,
    // The end marker ends the stream (a `Cause.Done` failure is the end of a pull).
    stream: (size) =>
      Stream.fromEffectRepeat(
        Effect.flatMap(readChunk(size), (chunk) => chunk._tag === "Some" ? Effect.succeed(chunk.value) : Cause.done())
      )
  }
}
