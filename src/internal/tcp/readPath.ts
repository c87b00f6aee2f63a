/**
 * The read path, in one straight line: the transport's wake-up -> the connection pulls the
 * platform's bytes into its buffer -> the read's need steps over the buffer -> the caller gets
 * the result. A read first tries synchronously; only when the buffer cannot satisfy the need does
 * it wait, with an inactivity timeout on the socket's schedule.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { ReceiveLimitExceeded, SocketClosed, SocketIoError, SocketReadTimeout } from "../../CosocketError.js"
import type * as Api from "../../TcpSocket.js"
import * as needs from "../needs.js"
import * as timer from "../timer.js"
import type { Busy } from "./busy.js"
import type { Connection } from "./connection.js"

export type ReadOperation = "receive" | "receiveAny" | "receiveUntil"

/**
 * Runs `need` on `conn` inside a callback's registration (`Effect.callback`): resumes at once when
 * the buffer suffices, else waits on the transport with `busy.reading` set until the wait settles
 * (the returned effect cancels the wait). The caller checked that the read may run.
 */
export const start = <A>(
  resume: (effect: Effect.Effect<A, Api.ReceiveError>) => void,
  conn: Connection,
  operation: ReadOperation,
  need: needs.Need<A>,
  busy: Busy,
  schedule: timer.Schedule,
  timeout: Duration.Duration
): Effect.Effect<void> | undefined => {
  const first = attempt(conn, need)
  if (first !== needs.NEED_MORE) {
    resume(outcome(conn, operation, first as Settled<A>))
    return undefined
  }
  busy.reading = true
  return new ReadWait(conn, operation, need, busy, schedule, timeout).begin(resume)
}

type Settled<A> = A | needs.EndOfStream | ReceiveLimitExceeded

/** Steps the need over the buffer, pulling the platform's bytes first when it needs more. Never waits. */
const attempt = <A>(conn: Connection, need: needs.Need<A>): needs.StepResult<A> => {
  const r = need.step(conn.buffer, conn.end)
  if (r !== needs.NEED_MORE || conn.end !== "open") return r
  conn.pull()
  return need.step(conn.buffer, conn.end)
}

/** Turns a completed step into the read's result; the end of the stream closes the read half. */
const outcome = <A>(
  conn: Connection,
  operation: ReadOperation,
  result: Settled<A>
): Effect.Effect<A, Api.ReceiveError> => {
  if (result instanceof needs.EndOfStream) {
    const failure = conn.failure
    conn.closeHalf("read")
    if (failure !== undefined) {
      return Effect.fail(
        new SocketIoError({
          operation,
          code: failure.code,
          reason: failure.reason,
          partial: result.partial,
          cause: failure.cause
        })
      )
    }
    return Effect.fail(new SocketClosed({ operation, partial: result.partial }))
  }
  if (result instanceof ReceiveLimitExceeded) {
    conn.dirty ??= "limit"
    return Effect.fail(result)
  }
  return Effect.succeed(result as A)
}

/**
 * A read waiting for the transport: every wake-up steps the need again synchronously, and the
 * inactivity timer counts from the last wake-up that brought bytes.
 */
class ReadWait<A> extends timer.InactivityWait<A, Api.ReceiveError> {
  private result: Settled<A> | undefined = undefined

  constructor(
    readonly conn: Connection,
    readonly operation: ReadOperation,
    readonly need: needs.Need<A>,
    readonly busy: Busy,
    schedule: timer.Schedule,
    timeout: Duration.Duration
  ) {
    super(schedule, timeout)
  }

  /** What the connection calls when the transport may have something (a function: it keeps it). */
  private readonly wake = (): void => {
    if (this.isSettled) return
    const conn = this.conn
    if (!conn.canRead) return this.finish(this.closed)
    const received = conn.buffer.consumed + conn.buffer.length
    const result = attempt(conn, this.need)
    if (result !== needs.NEED_MORE) {
      this.result = result as Settled<A>
      return this.finish(this.completed)
    }
    if (conn.buffer.consumed + conn.buffer.length !== received) this.progress()
    this.listen()
  }

  private completed(): Effect.Effect<A, Api.ReceiveError> {
    return outcome(this.conn, this.operation, this.result!)
  }

  private closed(): Effect.Effect<A, Api.ReceiveError> {
    return Effect.fail(new SocketClosed({ operation: this.operation }))
  }

  private timedOut(): Effect.Effect<A, Api.ReceiveError> {
    this.conn.dirty ??= "readTimeout"
    return Effect.fail(
      new SocketReadTimeout({ operation: this.operation, partial: this.need.partial(this.conn.buffer) })
    )
  }

  private listen(): void {
    const conn = this.conn
    conn.waitRead(this.wake)
    // Something may have happened since the last attempt (a close, or bytes a synchronous
    // transport delivered while nobody waited): look again rather than sleep.
    if (conn.isGone || conn.transportReady) this.wake()
  }

  protected start(): void {
    this.listen()
  }

  protected stop(): void {
    this.busy.reading = false
    this.conn.waitRead(undefined)
  }

  protected onTimeout(): void {
    this.finish(this.conn.canRead ? this.timedOut : this.closed)
  }

  // Interruption consumes nothing: the bytes stay in the buffer; the protocol state is unknown.
  protected onInterrupt(): void {
    if (!this.conn.isGone) this.conn.dirty ??= "interrupted"
  }
}
