/**
 * Timers on an Effect `Clock` without a fiber per timer. `Effect.timeoutFail` forks a fiber and
 * races it for every wait, which costs more than the I/O it guards on a hot request path; here a
 * timer is a callback:
 *
 * - with Effect's live clock, a plain host timer (what the live clock's `sleep` uses anyway);
 * - with any other clock (`TestClock`), a daemon fiber sleeping on that clock, so tests drive
 *   every socket timeout with `TestClock.adjust` exactly as before.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

/** Cancels a scheduled timer; calling it after the timer fired does nothing. */
export type Cancel = () => void

/** Runs `task` once after `duration` (finite) unless cancelled first. */
export type Schedule = (duration: Duration.Duration, task: () => void) => Cancel

/** Host timers accept at most 2^31-1 ms; longer ones never fire (as Effect's live clock does). */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

const noop: Cancel = () => {}

const liveClock: Clock.Clock = Effect.runSync(Effect.clock)

const hostSchedule: Schedule = (duration, task) => {
  const millis = Duration.toMillis(duration)
  if (millis > MAX_TIMER_MILLIS) return noop
  const handle = setTimeout(task, millis)
  return () => clearTimeout(handle)
}

const fiberSchedule = (clock: Clock.Clock): Schedule => (duration, task) => {
  const fiber = Effect.runFork(Effect.andThen(clock.sleep(duration), Effect.sync(task)))
  return () => {
    Effect.runFork(Fiber.interrupt(fiber))
  }
}

/** The scheduler for a clock (read once per socket, when it is made). */
export const forClock = (clock: Clock.Clock): Schedule => clock === liveClock ? hostSchedule : fiberSchedule(clock)

/**
 * One async wait, settled once, with an inactivity timer re-armed on progress: the shape of every
 * socket read and send that cannot complete at once. A subclass installs its wakers in `start`
 * (it may settle at once), removes them in `stop`, decides what a timeout means in `onTimeout`
 * and what an interruption leaves behind in `onInterrupt`. One object per wait, methods on the
 * prototype: a wait sits on the hot path of every request, so it allocates as little as it can.
 */
export abstract class InactivityWait<A, E> {
  private settled = false
  private cancel: Cancel | undefined = undefined
  private resume: ((effect: Effect.Effect<A, E>) => void) | undefined = undefined

  constructor(readonly schedule: Schedule, readonly timeout: Duration.Duration) {}

  protected abstract start(): void
  protected abstract stop(): void
  protected abstract onTimeout(): void
  protected abstract onInterrupt(): void

  /** The wait as an Effect (run it once). */
  run(): Effect.Effect<A, E> {
    return Effect.async<A, E>((resume) => {
      this.resume = resume
      this.progress()
      this.start()
      return Effect.sync(() => {
        if (this.settled) return
        this.halt()
        this.onInterrupt()
      })
    })
  }

  protected get isSettled(): boolean {
    return this.settled
  }

  /**
   * Settles the wait with the result `settle` computes after `stop` ran (so it may wake other
   * waiters safely); does nothing when already settled.
   */
  protected finish(settle: (this: this) => Effect.Effect<A, E>): void {
    if (this.settled) return
    this.halt()
    this.resume!(settle.call(this))
  }

  /** Progress was made: re-arms the inactivity timer. */
  progress(): void {
    if (this.cancel !== undefined) this.cancel()
    this.cancel = Duration.isFinite(this.timeout) ? this.schedule(this.timeout, this.fire) : undefined
  }

  private readonly fire = (): void => {
    if (!this.settled) this.onTimeout()
  }

  private halt(): void {
    this.settled = true
    if (this.cancel !== undefined) this.cancel()
    this.stop()
  }
}
