/**
 * Starting and stopping the `node:net` / `node:tls` servers of the testing kit (the scripted
 * peer and the fault proxy), so both treat their listener the same way.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Net from "node:net"

/**
 * Starts `server` listening. A failure to listen is a defect: it is the test's set-up that is
 * broken (a bad address, no free port), not the code under test. Later server errors are ignored:
 * a test server outlives any one failing connection. Interrupted before it listens, it closes
 * the server.
 */
export const listen = (server: Net.Server, where: Net.ListenOptions): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const onError = (error: Error) => resume(Effect.die(error))
    server.once("error", onError)
    server.listen(where, () => {
      server.off("error", onError)
      server.on("error", () => {})
      resume(Effect.void)
    })
    return Effect.sync(() => server.close())
  })

/**
 * Stops accepting and waits until `server` closed, which it does once every connection it
 * accepted is closed (destroy them first).
 */
export const close = (server: Net.Server): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    server.close(() => resume(Effect.void))
  })
