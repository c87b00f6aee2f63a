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

/** Control of one pending wait (see {@link inactivityWait}). */
export interface Wait<A, E> {
  /** Settles the wait once; `result` is computed after `stop` ran (so it may wake waiters safely). */
  readonly finish: (result: () => Effect.Effect<A, E>) => void
  /** Progress was made: re-arms the inactivity timer. */
  readonly progress: () => void
  readonly isSettled: () => boolean
}

/**
 * One async wait, settled once, with an inactivity timer re-armed on progress: the shape of every
 * socket read and send that cannot complete at once. `start` installs the wakers (it may finish
 * at once), `stop` removes them, `onTimeout` decides what a timeout means, `onInterrupt` what an
 * interruption leaves behind.
 */
export const inactivityWait = <A, E>(options: {
  readonly schedule: Schedule
  readonly timeout: Duration.Duration
  readonly start: (wait: Wait<A, E>) => void
  readonly stop: () => void
  readonly onTimeout: (wait: Wait<A, E>) => void
  readonly onInterrupt: () => void
}): Effect.Effect<A, E> =>
  Effect.async<A, E>((resume) => {
    let settled = false
    let cancel: Cancel | undefined
    const halt = () => {
      settled = true
      if (cancel !== undefined) cancel()
      options.stop()
    }
    const fire = () => {
      if (!settled) options.onTimeout(wait)
    }
    const wait: Wait<A, E> = {
      finish: (result) => {
        if (settled) return
        halt()
        resume(result())
      },
      progress: () => {
        if (cancel !== undefined) cancel()
        cancel = Duration.isFinite(options.timeout) ? options.schedule(options.timeout, fire) : undefined
      },
      isSettled: () => settled
    }
    wait.progress()
    options.start(wait)
    return Effect.sync(() => {
      if (settled) return
      halt()
      options.onInterrupt()
    })
  })
