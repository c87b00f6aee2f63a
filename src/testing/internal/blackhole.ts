/**
 * The scripted peer's blackhole: a loopback address where connects hang, made by a child process
 * that listens with a backlog of 1 and never accepts, and by filling its accept queue with held
 * connections until a further connect no longer completes.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"

// A child process that listens with a backlog of 1 and then blocks its event loop (it never
// accepts), checking every 200 ms whether its parent is gone so that it cannot outlive it.
const blackholeChild = `
const net = require("node:net")
const server = net.createServer()
server.listen({ host: "127.0.0.1", port: 0, backlog: 1 }, () => {
  process.stdout.write(server.address().port + "\\n", () => {
    const parent = process.ppid
    const cell = new Int32Array(new SharedArrayBuffer(4))
    for (;;) {
      Atomics.wait(cell, 0, 0, 200)
      if (process.ppid !== parent) process.exit(0)
    }
  })
})
`

/**
 * Connects to the child's port: the connected socket (to hold, filling the accept queue) if the
 * connect completes within `millis`, or `undefined` if it hangs (the queue is full).
 */
const probe = (port: number, millis: number): Effect.Effect<Net.Socket | undefined> =>
  Effect.callback<Net.Socket | undefined>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.on("error", () => {})
    let settled = false
    const settle = (outcome: Effect.Effect<Net.Socket | undefined>) => {
      if (!settled) {
        settled = true
        clearTimeout(timer)
        resume(outcome)
      }
    }
    // decide after the next poll phase: a blocked event loop runs due timers before it polls I/O,
    // so a connect the kernel already completed must get its chance to be seen first
    const timer = setTimeout(() =>
      setImmediate(() => {
        if (!settled) {
          settle(Effect.succeed(undefined))
          socket.destroy()
        }
      }), millis)
    socket.once("connect", () => settle(Effect.succeed(socket)))
    socket.once("close", () => settle(Effect.die(new Error("ScriptedPeer.blackhole: a probe connection was refused"))))
    return Effect.sync(() => {
      settled = true
      clearTimeout(timer)
      socket.destroy()
    })
  })

/** See `ScriptedPeer.blackhole`. Closing the scope kills the child and closes the held connections. */
export const blackhole: Effect.Effect<{ readonly host: string; readonly port: number }, never, Scope.Scope> = Effect
  .gen(function*() {
    const env = { ...process.env }
    delete env.NODE_OPTIONS
    const child = ChildProcess.spawn(process.execPath, ["-e", blackholeChild], {
      stdio: ["ignore", "pipe", "pipe"],
      env
    })
    const exited = new Promise<void>((resolve) => child.once("close", () => resolve()))
    child.on("error", () => {})
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => {
        child.kill("SIGKILL")
        return exited
      })
    )
    const fillers: Array<Net.Socket> = []
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const socket of fillers) {
          socket.destroy()
        }
      })
    )

    // a real timer: the caller may run under TestClock
    const port = yield* Effect.callback<number>((resume) => {
      let out = ""
      let err = ""
      const timer = setTimeout(() => {
        resume(Effect.die(new Error(`ScriptedPeer.blackhole: the child did not start: ${err}`)))
      }, 10_000)
      child.stderr!.on("data", (chunk: Buffer) => {
        err += chunk.toString()
      })
      child.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString()
        const newline = out.indexOf("\n")
        if (newline >= 0) {
          clearTimeout(timer)
          resume(Effect.succeed(Number(out.slice(0, newline))))
        }
      })
      child.once("close", (code) => {
        clearTimeout(timer)
        resume(Effect.die(new Error(`ScriptedPeer.blackhole: the child exited (${code}): ${err}`)))
      })
      return Effect.sync(() => clearTimeout(timer))
    })

    for (let attempt = 0; attempt < 32; attempt++) {
      const socket = yield* probe(port, 200)
      if (socket === undefined) {
        return { host: "127.0.0.1", port }
      }
      fillers.push(socket)
    }
    return yield* Effect.die(new Error("ScriptedPeer.blackhole: connects still complete after 32 held connections"))
  })
