/**
 * Starts a throw-away redis-server on a free loopback port, then runs a few commands, a pipeline
 * and a pooled reuse through the cosocket Redis client.
 *
 *   npx tsx examples/redis/main.ts
 */
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { NodeCosocket } from "../../src/node/index.js"
import { redisServer } from "../support/servers.js"
import * as Redis from "./RedisClient.js"

const program = Effect.gen(function*() {
  const server = yield* redisServer()
  const options = { host: server.host, port: server.port, db: 1, timeout: "5 seconds" } as const

  yield* Redis.use(options, (redis) =>
    Effect.gen(function*() {
      yield* Console.log(`PING -> ${yield* redis.ping} (pool key ${redis.poolKey}, reused ${redis.reusedTimes})`)
      yield* redis.set("greeting", "hello from a cosocket")
      const value = yield* redis.get("greeting")
      yield* Console.log(`GET greeting -> ${value === undefined ? "(nil)" : new TextDecoder().decode(value)}`)
      const replies = yield* redis.pipeline([["INCR", "n"], ["INCR", "n"], ["RPUSH", "l", "a", "b"], [
        "LRANGE",
        "l",
        0,
        -1
      ], [
        "HGET",
        "l",
        "x"
      ]])
      yield* Console.log(`pipeline -> ${replies.map(Redis.show).join(" | ")}`)
    }))

  // The second connection of the same key comes from the pool: no new AUTH/SELECT needed.
  yield* Redis.use(options, (redis) =>
    Effect.gen(function*() {
      const n = yield* redis.incr("n")
      yield* Console.log(`INCR n -> ${n} (reused ${redis.reusedTimes})`)
    }))
})

Effect.runPromiseExit(program.pipe(Effect.scoped, Effect.provide(NodeCosocket.layer))).then((exit) => {
  if (Exit.isFailure(exit)) console.error(Cause.pretty(exit.cause))
  process.exit(Exit.isSuccess(exit) ? 0 : 1)
})
