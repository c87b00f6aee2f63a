/**
 * Plays a script on one accepted connection: each step in order, reading what the client sent
 * and writing the peer's replies, until the last step or the first failure. A failure destroys
 * the connection; either way the outcome completes the connection's `done`.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as ScriptedPeer from "../ScriptedPeer.js"
import type { AcceptedConnection } from "./acceptedConnection.js"
import { escape, ScriptError } from "./scriptError.js"

/** Runs `steps` on `connection` and completes `connection.done` with the outcome. */
export const play = (connection: AcceptedConnection, steps: ReadonlyArray<ScriptedPeer.Step>): Effect.Effect<void> =>
  Effect.forEach(steps, (step, index) => runStep(connection, index, step), { discard: true }).pipe(
    Effect.tapError(() => Effect.sync(() => connection.destroy())),
    Effect.exit,
    Effect.flatMap((exit) => Deferred.done(connection.done, exit))
  )

const runStep = (
  connection: AcceptedConnection,
  index: number,
  step: ScriptedPeer.Step
): Effect.Effect<void, ScriptError> => {
  switch (step._tag) {
    case "Expect": {
      const expected = step.bytes
      return connection.waitFor(() => {
        const unread = connection.unread()
        const available = Math.min(unread.length, expected.length)
        for (let i = 0; i < available; i++) {
          if (unread[i] !== expected[i]) {
            return Effect.fail(
              new ScriptError({
                connection: connection.index,
                step: index,
                reason: "Mismatch",
                expected: escape(expected),
                got: escape(unread.subarray(0, available))
              })
            )
          }
        }
        if (available === expected.length) {
          connection.consume(available)
          return Effect.void
        }
        return connection.isGone() ? Effect.fail(closedEarly(connection, index, expected)) : undefined
      })
    }
    case "ExpectLength": {
      return connection.waitFor(() => {
        if (connection.unread().length >= step.length) {
          connection.consume(step.length)
          return Effect.void
        }
        return connection.isGone() ? Effect.fail(closedEarly(connection, index)) : undefined
      })
    }
    case "AwaitEnd": {
      return connection.waitFor(() => {
        if (connection.ended) {
          connection.consumeAll()
          return Effect.void
        }
        return connection.isGone() ? Effect.fail(closedEarly(connection, index)) : undefined
      })
    }
    case "Send": {
      return Effect.callback<void, ScriptError>((resume) => {
        connection.socket!.write(step.bytes, (error) => {
          if (error) {
            const failure = { connection: connection.index, step: index, reason: "SocketError", cause: error } as const
            resume(Effect.fail(new ScriptError(failure)))
          } else {
            resume(Effect.void)
          }
        })
      })
    }
    case "Delay": {
      // a real timer: the script runs on wall-clock time also inside tests that use TestClock
      return Effect.callback<void>((resume) => {
        const timer = setTimeout(() => resume(Effect.void), step.millis)
        return Effect.sync(() => clearTimeout(timer))
      })
    }
    case "HalfClose": {
      return Effect.sync(() => {
        connection.socket!.end()
      })
    }
    case "Close": {
      return Effect.suspend(() => {
        const socket = connection.socket!
        if (!socket.destroyed) {
          if (socket.writableFinished || !socket.writable) {
            socket.destroy()
          } else {
            socket.once("finish", () => socket.destroy())
            socket.end()
          }
        }
        return Effect.promise(() => connection.whenClosed)
      })
    }
    case "Reset": {
      return Effect.suspend(() => {
        const socket = connection.socket!
        try {
          connection.tcp.resetAndDestroy()
        } catch {
          // unix sockets have no RST: a plain destroy
          connection.tcp.destroy()
        }
        if (socket !== connection.tcp) {
          socket.destroy()
        }
        return Effect.promise(() => connection.whenClosed)
      })
    }
    case "StopReading": {
      return Effect.sync(() => {
        connection.socket!.pause()
      })
    }
  }
}

/**
 * A read step can no longer be satisfied: the client closed early, or the socket failed. An
 * `expect` step also names the bytes it wanted and what arrived instead.
 */
const closedEarly = (connection: AcceptedConnection, step: number, expected?: Uint8Array): ScriptError =>
  new ScriptError({
    connection: connection.index,
    step,
    reason: connection.failure === undefined ? "ClientClosed" : "SocketError",
    cause: connection.failure,
    expected: expected === undefined ? undefined : escape(expected),
    got: expected === undefined ? undefined : escape(connection.unread())
  })
