/**
 * Timers on an Effect `Clock` without a fiber per timer. `Effect.timeout` forks a fiber and races
 * it for every wait, which costs more than the I/O it guards on a hot request path; here a
 * timer is a callback:
 *
 * - with Effect's live clock, a plain host timer (what the live clock's `sleep` uses anyway);
 * - with any other clock (`TestClock`), a daemon fiber sleeping on that clock, so tests drive
 *   every socket timeout with `TestClock.adjust` exactly as before.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

/** What a timer calls when it fires. */
export interface TimerTarget {
  onTimer(): void
}

/**
 * Timers on one clock: `start` calls `target.onTimer()` once after `millis` (finite) unless
 * `cancel` gets its handle first (`cancel(undefined)` does nothing). A handle, not a cancel
 * closure, and the target as the timer's argument: a timer per wait allocates no closure. `now`
 * is the clock's time in milliseconds, as the timers count it.
 */
export interface Schedule {
  readonly start: (millis: number, target: TimerTarget) => unknown
  readonly cancel: (handle: unknown) => void
  readonly now: () => number
}

/** Host timers accept at most 2^31-1 ms; longer ones never fire (as Effect's live clock does). */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/** Effect's live clock: the `Clock` reference's default, which the runtime creates once and keeps. */
const isLiveClock = (clock: Clock.Clock): boolean => clock === Context.get(Context.empty(), Clock.Clock)

/**
 * One host timer per duration in use. A read or send arms a timeout and, far more often than not,
 * settles before it fires; a `setTimeout` and `clearTimeout` per wait (a `Timeout` object made,
 * linked and unlinked) then costs more than the wait itself. Here the timers of one duration sit
 * in one list in the order they started, which is their deadline order, and the list has one host
 * timer, armed for its head or earlier: starting a timer is an append, cancelling one an unlink.
 * An empty list keeps its host timer but unrefs it (nothing waits, so it must not keep the process
 * alive), and refs it again for the next timer: a request that arms and cancels one timeout costs
 * no host timer at all. When the host timer fires early (its head was cancelled), it is armed again
 * for the new head.
 */
class HostTimer {
  prev: HostTimer | undefined = undefined
  next: HostTimer | undefined = undefined
  /** The list it is in; `undefined` once it fired or was cancelled. */
  list: TimerList | undefined

  constructor(readonly target: TimerTarget, readonly deadline: number, list: TimerList) {
    this.list = list
  }
}

class TimerList {
  head: HostTimer | undefined = undefined
  tail: HostTimer | undefined = undefined
  host: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(readonly millis: number) {}
}

const timerLists = new Map<number, TimerList>()

/** Monotonic, as host timers are: a wall-clock step must not stretch or cut a timeout. */
const hostNow = (): number => performance.now()

const startHostTimer = (millis: number, target: TimerTarget): HostTimer | undefined => {
  if (millis > MAX_TIMER_MILLIS) return undefined
  let list = timerLists.get(millis)
  if (list === undefined) {
    list = new TimerList(millis)
    timerLists.set(millis, list)
  }
  const t = new HostTimer(target, hostNow() + millis, list)
  const tail = list.tail
  if (tail === undefined) list.head = t
  else tail.next = t
  t.prev = tail
  list.tail = t
  if (list.host === undefined) list.host = setTimeout(fireList, millis, list)
  else if (tail === undefined) list.host.ref()
  return t
}

const unlink = (t: HostTimer, list: TimerList): void => {
  const { next, prev } = t
  if (prev === undefined) list.head = next
  else prev.next = next
  if (next === undefined) list.tail = prev
  else next.prev = prev
  t.prev = t.next = t.list = undefined
}

const cancelHostTimer = (handle: unknown): void => {
  const t = handle as HostTimer | undefined
  const list = t?.list
  if (list === undefined) return
  unlink(t!, list)
  if (list.head === undefined) list.host?.unref()
}

/**
 * The list's host timer fired: every timer whose deadline passed fires, in order; the host timer
 * is armed again for the new head. A host timer may fire a little before the deadline measured
 * here (Node counts from the event loop's cached time), in which case it is armed for the rest.
 */
const fireList = (list: TimerList): void => {
  list.host = undefined
  const now = hostNow()
  for (let t = list.head; t !== undefined && t.deadline <= now; t = list.head) {
    unlink(t, list)
    t.target.onTimer()
  }
  const head = list.head
  if (head === undefined) {
    if (list.host === undefined && timerLists.get(list.millis) === list) timerLists.delete(list.millis)
  } else if (list.host === undefined) {
    list.host = setTimeout(fireList, Math.max(1, head.deadline - now), list)
  }
}

/** How many host timers of the host schedule keep the process alive (for tests: an empty list's must not). */
export const armedHostTimers = (): number => {
  let n = 0
  for (const list of timerLists.values()) if (list.host !== undefined && list.host.hasRef()) n++
  return n
}

const hostSchedule: Schedule = {
  start: startHostTimer,
  cancel: cancelHostTimer,
  now: hostNow
}

const fiberSchedule = (clock: Clock.Clock): Schedule => ({
  start: (millis, target) =>
    Effect.runFork(Effect.andThen(clock.sleep(Duration.millis(millis)), Effect.sync(() => target.onTimer()))),
  cancel: (handle) => {
    if (handle !== undefined) Effect.runFork(Fiber.interrupt(handle as Fiber.Fiber<void>))
  },
  now: () => clock.currentTimeMillisUnsafe()
})

/** The scheduler for a clock (read once per socket, when it is made). */
export const forClock = (clock: Clock.Clock): Schedule => isLiveClock(clock) ? hostSchedule : fiberSchedule(clock)

/**
 * One async wait, settled once, with an inactivity timer: the shape of every socket read and send
 * that cannot complete at once. Progress only notes the time; when the timer fires early because
 * progress was made since, it is armed again for what is left. A bulk read woken once per chunk
 * then costs one clock read per chunk instead of a host timer cancelled and made again.
 *
 * A subclass installs its wakers in `start` (it may settle at once), removes them in `stop`,
 * decides what a timeout means in `onTimeout` and what an interruption leaves behind in
 * `onInterrupt`. One object per wait, methods on the
 * prototype: a wait sits on the hot path of every request, so it allocates as little as it can.
 */
export abstract class InactivityWait<A, E> implements TimerTarget {
  private settled = false
  /** The running timer's handle, if any. */
  private timer: unknown = undefined
  /** The timeout in milliseconds; -1: none. */
  private readonly millis: number
  /** When progress was last made, on the schedule's clock; -1: none since the wait began. */
  private lastProgress = -1
  private resume: ((effect: Effect.Effect<A, E>) => void) | undefined = undefined

  constructor(readonly schedule: Schedule, timeout: Duration.Duration) {
    this.millis = Duration.isFinite(timeout) ? Duration.toMillis(timeout) : -1
  }

  protected abstract start(): void
  protected abstract stop(): void
  protected abstract onTimeout(): void
  protected abstract onInterrupt(): void

  /** The wait as an Effect (run it once). */
  run(): Effect.Effect<A, E> {
    // One parameter only: a register function that takes the abort signal too makes Effect
    // allocate an AbortController for every wait.
    return Effect.callback<A, E>((resume) => this.begin(resume))
  }

  /**
   * Starts the wait inside a callback's registration (`Effect.callback`): `resume` gets the
   * result; the returned effect is the callback's canceller (an interruption).
   */
  begin(resume: (effect: Effect.Effect<A, E>) => void): Effect.Effect<void> {
    this.resume = resume
    // The timer counts from now; the clock is read only when progress is made.
    if (this.millis >= 0) this.timer = this.schedule.start(this.millis, this)
    this.start()
    return Effect.sync(() => {
      if (this.settled) return
      this.halt()
      this.onInterrupt()
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

  /** Progress was made: the inactivity timeout counts from now. */
  progress(): void {
    if (this.millis >= 0) this.lastProgress = this.schedule.now()
  }

  /** @internal the timer fired: a timeout, or progress since it was armed and a new timer */
  onTimer(): void {
    this.timer = undefined
    if (this.settled) return
    const left = this.lastProgress < 0 ? 0 : this.lastProgress + this.millis - this.schedule.now()
    if (left > 0) {
      this.timer = this.schedule.start(left, this)
      return
    }
    this.onTimeout()
  }

  private halt(): void {
    this.settled = true
    if (this.timer !== undefined) {
      this.schedule.cancel(this.timer)
      this.timer = undefined
    }
    this.stop()
  }
}

/**
 * Fails with `onTimeout()` when `self` takes longer than `duration` (when finite), timed on
 * `schedule` like every other wait: `self` is interrupted when the timer wins.
 */
export const withTimeout = <A, E, E2>(
  schedule: Schedule,
  self: Effect.Effect<A, E>,
  duration: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2> =>
  Duration.isFinite(duration) ? Effect.raceFirst(self, expiry(schedule, Duration.toMillis(duration), onTimeout)) : self

/** Fails with `onTimeout()` after `millis` on `schedule`. */
const expiry = <E>(schedule: Schedule, millis: number, onTimeout: () => E): Effect.Effect<never, E> =>
  Effect.callback<never, E>((resume) => {
    const handle = schedule.start(millis, { onTimer: () => resume(Effect.fail(onTimeout())) })
    return Effect.sync(() => schedule.cancel(handle))
  })
