/**
 * Starts a throw-away memcached on a free loopback port, then runs set, get, incr and delete
 * through the cosocket memcached client, reusing the pooled connection.
 *
 *   npx tsx examples/memcached/main.ts
 */
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { NodeCosocket } from "../../src/node/index.js"
import { memcachedServer } from "../support/servers.js"
import * as Memcached from "./MemcachedClient.js"

const program = Effect.gen(function*() {
  const server = yield* memcachedServer()
  const options = { host: server.host, port: server.port, timeout: "5 seconds" } as const

  yield* Memcached.use(options, (mc) =>
    Effect.gen(function*() {
      yield* Console.log(`set greeting -> ${yield* mc.set("greeting", "hello from a cosocket", { flags: 7 })}`)
      const item = yield* mc.get("greeting")
      yield* Console.log(
        `get greeting -> ${
          item === undefined ? "(miss)" : `${new TextDecoder().decode(item.value)} (flags ${item.flags})`
        }`
      )
      yield* mc.set("hits", "41")
      yield* Console.log(`incr hits -> ${yield* mc.incr("hits")} (reused ${mc.reusedTimes})`)
    }))

  yield* Memcached.use(options, (mc) =>
    Effect.gen(function*() {
      yield* Console.log(`delete greeting -> ${yield* mc.delete("greeting")} (reused ${mc.reusedTimes})`)
      yield* Console.log(`get greeting -> ${(yield* mc.get("greeting")) === undefined ? "(miss)" : "hit"}`)
    }))
})

Effect.runPromiseExit(program.pipe(Effect.scoped, Effect.provide(NodeCosocket.layer))).then((exit) => {
  if (Exit.isFailure(exit)) console.error(Cause.pretty(exit.cause))
  process.exit(Exit.isSuccess(exit) ? 0 : 1)
})
