/**
 * The write path: bytes go to the transport at once; when the platform cannot take them
 * synchronously the send waits for the transport's completion report, with an inactivity timeout
 * that every reported progress restarts.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { SocketClosed, SocketIoError, SocketTimeout } from "../../CosocketError.js"
import type * as Api from "../../TcpSocket.js"
import * as timer from "../timer.js"
import type { Busy } from "./busy.js"
import type { Connection } from "./connection.js"

/**
 * Sends `bytes` (non-empty) on `conn`: done when the transport took them synchronously, else
 * waiting with `busy.writing` set until the wait settles. The caller checked that the send may run.
 */
export const write = (
  conn: Connection,
  bytes: Uint8Array,
  busy: Busy,
  schedule: timer.Schedule,
  timeout: Duration.Duration
): Effect.Effect<number, Api.SendError> => {
  if (conn.startWrite(bytes)) return Effect.succeed(bytes.length)
  busy.writing = true
  return new SendWait(conn, bytes.length, busy, schedule, timeout).run()
}

/** A send waiting for the transport to report completion; reported progress restarts the timer. */
class SendWait extends timer.InactivityWait<number, Api.SendError> {
  constructor(
    readonly conn: Connection,
    readonly length: number,
    readonly busy: Busy,
    schedule: timer.Schedule,
    timeout: Duration.Duration
  ) {
    super(schedule, timeout)
  }

  private readonly wake = (): void => {
    if (this.isSettled) return
    const conn = this.conn
    if (!conn.writeSettled) return conn.isGone ? this.finish(this.closed) : this.progress()
    if (conn.writeFailure === undefined) return this.finish(this.sent)
    this.finish(conn.isGone ? this.closed : this.failed)
  }

  private sent(): Effect.Effect<number, Api.SendError> {
    return Effect.succeed(this.length)
  }

  private closed(): Effect.Effect<number, Api.SendError> {
    return Effect.fail(new SocketClosed({ operation: "send" }))
  }

  private failed(): Effect.Effect<number, Api.SendError> {
    const f = this.conn.writeFailure!
    this.conn.dirty ??= "send"
    this.conn.closeHalf("write")
    return Effect.fail(
      new SocketIoError({ operation: "send", code: f.code, reason: f.reason, delivery: "partial", cause: f.cause })
    )
  }

  private timedOut(): Effect.Effect<number, Api.SendError> {
    this.conn.dirty ??= "send"
    this.conn.closeHalf("write")
    return Effect.fail(new SocketTimeout({ operation: "send", delivery: "partial" }))
  }

  protected start(): void {
    this.conn.waitWrite(this.wake)
    if (this.conn.writeSettled || this.conn.isGone) this.wake()
  }

  protected stop(): void {
    this.busy.writing = false
    this.conn.waitWrite(undefined)
  }

  protected onTimeout(): void {
    this.finish(this.timedOut)
  }

  // An interrupted send may have handed part of the bytes over: nothing later may follow them on
  // this connection, so it is closed.
  protected onInterrupt(): void {
    if (!this.conn.writeSettled) this.conn.destroy()
  }
}
