/**
 * The reader `receiveUntil` returns: `read` (up to the pattern), `readChunk(size)` (at most
 * `size` bytes of the part before it) and `stream(size)`, all over one matcher state.
 *
 * @internal
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { InvalidArgument } from "../../CosocketError.js"
import type * as Api from "../../TcpSocket.js"
import { BatchNeed } from "../batchNeed.js"
import * as needs from "../needs.js"
import * as validate from "../validate.js"
import * as args from "./arguments.js"

/** A reader over `state`; `read(need)` is an effect that runs `need` on the socket (with the socket's checks) each time it runs. */
export const untilReader = (
  state: needs.UntilState,
  maxReceiveSize: number | undefined,
  read: <A>(need: needs.Need<A>) => Effect.Effect<A, Api.ReceiveError>
): Api.UntilReader => {
  /**
   * One pull per batch of chunks; the end marker (a `null` chunk, always last in its batch) ends
   * the stream after the chunks before it (a `Cause.Done` failure is the end of a pull).
   */
  const chunks = (batch: BatchNeed<Uint8Array | null>) => {
    let ended = false
    const pull = read(batch)
    return Effect.suspend((): Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, Api.ReceiveError | Cause.Done> => {
      if (ended) return Cause.done()
      return Effect.flatMap(pull, (units) => {
        const last = units.length - 1
        if (units[last] !== null) return Effect.succeed(units as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>)
        ended = true
        return last === 0
          ? Cause.done()
          : Effect.succeed(units.slice(0, last) as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>)
      })
    })
  }

  // The need holds no state of its own (the reader's state does): one serves every read.
  const need = new needs.UntilNeed(state, maxReceiveSize)
  const whole = read(need)
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
    stream: (size) => {
      const n = args.parseCount("size", size)
      if (validate.isInvalid(n)) return Stream.fail(n)
      return Stream.fromPull(
        Effect.sync(() => chunks(new BatchNeed(new needs.UntilChunkNeed(state, n), Infinity, isEnd)))
      )
    }
  }
}

const isEnd = (chunk: Uint8Array | null): boolean => chunk === null
