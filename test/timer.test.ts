/**
 * The host schedule (Effect's live clock): timers of one duration share one host timer, fire in
 * deadline order, never before their deadline, and an empty list keeps no host timer that holds the
 * process alive.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as timer from "../src/internal/timer.js"

const live = timer.forClock(Context.get(Context.empty(), Clock.Clock))

const hostTimers = timer.armedHostTimers

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** A target that records when (on the schedule's clock) and in which order it fired. */
const recorder = () => {
  const fired: Array<{ readonly name: string; readonly at: number }> = []
  const target = (name: string): timer.TimerTarget => ({ onTimer: () => fired.push({ name, at: live.now() }) })
  return { fired, target }
}

describe("the host schedule", () => {
  it("timers of one duration fire in the order they started, none before its deadline, on one host timer", async () => {
    const before = hostTimers()
    const { fired, target } = recorder()
    const started: Record<string, number> = {}
    for (const name of ["a", "b", "c"]) {
      started[name] = live.now()
      live.start(20, target(name))
      await sleep(2)
    }
    expect(hostTimers()).toBe(before + 1)
    await sleep(60)
    expect(fired.map((f) => f.name)).toEqual(["a", "b", "c"])
    for (const f of fired) expect(f.at - started[f.name]).toBeGreaterThanOrEqual(20)
    expect(hostTimers()).toBe(before)
  })

  it("a cancelled timer never fires; cancelling the last one lets the process exit at once (the host timer is unref'd)", async () => {
    const before = hostTimers()
    const { fired, target } = recorder()
    const a = live.start(15, target("a"))
    const b = live.start(15, target("b"))
    const c = live.start(15, target("c"))
    live.cancel(b)
    live.cancel(b) // twice: nothing more
    await sleep(40)
    expect(fired.map((f) => f.name)).toEqual(["a", "c"])
    live.cancel(a) // after it fired: nothing
    const d = live.start(1000, target("d"))
    const e = live.start(1000, target("e"))
    expect(hostTimers()).toBe(before + 1)
    live.cancel(e)
    expect(hostTimers()).toBe(before + 1)
    live.cancel(d)
    expect(hostTimers()).toBe(before)
    live.cancel(c)
    live.cancel(undefined)
    expect(fired.map((f) => f.name)).toEqual(["a", "c"])
  })

  it("durations have lists of their own; a timer started while its list fires waits its full duration", async () => {
    const before = hostTimers()
    const { fired, target } = recorder()
    let restartedAt = 0
    live.start(30, target("long"))
    live.start(10, {
      onTimer: () => {
        fired.push({ name: "short", at: live.now() })
        restartedAt = live.now()
        live.start(10, target("again"))
      }
    })
    expect(hostTimers()).toBe(before + 2)
    await sleep(60)
    expect(fired.map((f) => f.name)).toEqual(["short", "again", "long"])
    expect(fired[1].at - restartedAt).toBeGreaterThanOrEqual(10)
    expect(hostTimers()).toBe(before)
  })

  it("a timer started on a list whose host timer was armed for a cancelled one fires at its own deadline", async () => {
    const { fired, target } = recorder()
    live.cancel(live.start(25, target("cancelled")))
    await sleep(10)
    const startedAt = live.now()
    live.start(25, target("late"))
    await sleep(50)
    expect(fired.map((f) => f.name)).toEqual(["late"])
    expect(fired[0].at - startedAt).toBeGreaterThanOrEqual(25)
  })

  it("a timer beyond what host timers accept never fires and arms nothing", () => {
    const before = hostTimers()
    expect(live.start(2 ** 31, { onTimer: () => expect.unreachable() })).toBeUndefined()
    expect(hostTimers()).toBe(before)
  })
})
