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
