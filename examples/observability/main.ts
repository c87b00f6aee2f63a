/**
 * Observability: spans and pool metrics of effect-cosocket, exported to the console with Effect 4's
 * own modules, against an embedded loopback server.
 *
 * - Spans: any Effect tracer sees them. Here a console tracer (Effect's `Tracer.make` over
 *   `Tracer.NativeSpan`) prints each span when it ends; in production provide an exporter instead,
 *   for example `OtlpTracer.layer({ url: "http://collector:4318/v1/traces", resource: { serviceName } })`
 *   from `effect/observability`. Without a tracer (Effect's native one) the library makes no span.
 * - Metrics: the pool's `db.client.connection.*` and `cosocket.pool.*` series, printed in the
 *   Prometheus text format by `PrometheusMetrics.format` from `effect/observability` (serve it with
 *   `PrometheusMetrics.layerHttp`, or push with `OtlpMetrics.layer`).
 *
 *   npx tsx examples/observability/main.ts
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { PrometheusMetrics } from "effect/observability"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as Net from "node:net"
import { CosocketConfig, TcpSocket } from "../../src/index.js"
import { NodeCosocket } from "../../src/node/index.js"

/**
 * An embedded line server: answers each line with `+<line>` after 5 ms. Closing it also closes the
 * connections still open (the pool keeps one idle until the layer closes, after this server).
 */
const embeddedServer = Effect.acquireRelease(
  Effect.callback<Net.Server>((resume) => {
    const server = Net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      let pending = ""
      socket.on("data", (chunk) => {
        pending += chunk.toString("utf8")
        let newline: number
        while ((newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline)
          pending = pending.slice(newline + 1)
          setTimeout(() => socket.write(`+${line}\n`), 5)
        }
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
      for (const socket of sockets) socket.destroy()
    })
)
const sockets = new Set<Net.Socket>()

/** A span that prints itself when it ends: name, parent, duration, outcome and attributes. */
class ConsoleSpan extends Tracer.NativeSpan {
  override end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    super.end(endTime, exit)
    const parent = Option.getOrUndefined(this.parent)
    const millis = Number(endTime - this.startTime) / 1e6
    const attributes = Array.from(this.attributes, ([k, v]) => `${k}=${String(v)}`).join(" ")
    console.log(
      `span ${this.name.padEnd(22)} ${millis.toFixed(2).padStart(7)} ms  ${exit._tag.padEnd(7)}` +
        `  parent=${parent?._tag === "Span" ? parent.name : "-"}  ${attributes}`
    )
  }
}

const ConsoleTracer = Layer.succeed(
  Tracer.Tracer,
  Tracer.make({ span: (options) => new ConsoleSpan(options) })
)

/** One pooled exchange, in a span of its own (the cosocket spans become its children). */
const request = (port: number, line: string) =>
  TcpSocket.withConnection("127.0.0.1", port, (socket) =>
    Effect.gen(function*() {
      yield* socket.send(`${line}\n`)
      return TcpSocket.text(yield* socket.receive())
    }), { pool: "line-server", poolSize: 1, backlog: 8, timeout: "2 seconds" }).pipe(
      Effect.withSpan("request", { attributes: { line } })
    )

const main = Effect.gen(function*() {
  const server = yield* embeddedServer
  const port = (server.address() as Net.AddressInfo).port

  console.log("-- one request: connect (fresh), send, receive")
  yield* request(port, "hello")
  console.log("-- three at once on a pool of one: two wait in the backlog (cosocket.pool.wait)")
  const replies = yield* Effect.all(["a", "b", "c"].map((line) => request(port, line)), { concurrency: "unbounded" })
  console.log(`replies: ${replies.join(" ")}`)

  console.log("-- the pool's metrics (Prometheus text format)")
  const text = yield* PrometheusMetrics.format()
  for (const line of text.split("\n")) {
    if (/^(db_client_connection|cosocket_pool)/.test(line)) console.log(line)
  }
})

main.pipe(
  Effect.scoped,
  Effect.provide(
    Layer.mergeAll(NodeCosocket.layer, ConsoleTracer).pipe(
      // traceIo: a span per send and read too (off by default: only connects, handshakes, pool waits)
      Layer.provideMerge(CosocketConfig.layer({ traceIo: true }))
    )
  ),
  Effect.runPromise
).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
