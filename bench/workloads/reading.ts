/**
 * Reading workloads against the data server (its own process): 32-byte lines (one read per line,
 * and a batched read), 4 KiB records, 64 KiB bulk reads, and receiveUntil with 10 x 1 KiB parts
 * (request/response, 50 connections) and with 4 x 64 KiB parts (streaming).
 */
import * as Effect from "effect/Effect"
import * as Readline from "node:readline"
import type { TcpSocket } from "../../src/index.js"
import * as effectFloor from "../baselines/effectFloor.js"
import * as nodeSocket from "../baselines/nodeSocket.js"
import * as raw from "../baselines/raw.js"
import {
  DELIMITER,
  DELIMITER_BYTES,
  DelimiterSplitter,
  FixedSplitter,
  LARGE_PART_SIZE,
  LineSplitter,
  NotAvailable,
  type Sample,
  SMALL_PARTS
} from "../lib/index.js"
import { VARIANT, WORKLOAD } from "../lib/names.js"
import type { DataServer } from "../lib/processes.js"
import type { Variant, Workload } from "../lib/types.js"
import * as cosocket from "./cosocket.js"

/**
 * A batched line read: every complete line already buffered (at least one), waiting only when none
 * is; each line without its CRLF, as `receive("*l")` returns it.
 */
export type LineBatchRead = (socket: TcpSocket.TcpSocket) => Effect.Effect<ReadonlyArray<Uint8Array>, unknown>

/** The batched read the lines workload measures beside `receive("*l")`: `receiveMany`. */
export const readLineBatch: LineBatchRead | undefined = (socket) => socket.receiveMany()

/** node:readline over a socket (the anchors' second line-reading reference). */
const readlineLines = async (host: string, port: number, durationMs: number): Promise<Sample> => {
  const [socket] = await raw.connectAll(host, port, 1)
  try {
    const lines = Readline.createInterface({ input: socket, crlfDelay: Infinity })
    let count = 0
    const start = performance.now()
    const deadline = start + durationMs
    const elapsed = await new Promise<number>((resolve) => {
      lines.on("line", () => {
        if (++count % 1024 === 0) {
          const now = performance.now()
          if (now >= deadline) {
            lines.removeAllListeners("line")
            lines.close()
            resolve(now - start)
          }
        }
      })
      socket.write("lines\n")
    })
    return { value: (count / elapsed) * 1000 }
  } finally {
    socket.destroy()
  }
}

export const workloads = (data: DataServer, runtimes: cosocket.Runtimes): ReadonlyArray<Workload> => {
  const { host, port } = data
  const runtime = runtimes.main
  const ours = (options: Parameters<typeof cosocket.streaming>[2], rt = runtime) => (ms: number) =>
    rt.runPromise(cosocket.streaming(host, port, options, ms))
  const untilSmall = (rt: cosocket.Runtime) => (ms: number) =>
    rt.runPromise(
      cosocket.untilRequestResponse(host, port, { connections: 50, delimiter: DELIMITER, parts: SMALL_PARTS }, ms)
    )
  const batchedLines = (ms: number): Promise<Sample> => {
    const read = readLineBatch
    if (read === undefined) return Promise.reject(new NotAvailable("effect-cosocket has no batched read yet"))
    return runtime.runPromise(
      cosocket.streaming(host, port, {
        hello: "lines\n",
        bytesPerUnit: 0,
        checkEvery: 1024,
        read: (socket) => Effect.succeed(read(socket))
      }, ms)
    )
  }
  const untilSmallShape: raw.RequestResponse = {
    host,
    port,
    connections: 50,
    hello: Buffer.from("until-small\n"),
    request: Buffer.from("M\n"),
    unitsPerResponse: SMALL_PARTS,
    opsPerRequest: 1,
    framer: (onUnit) => new DelimiterSplitter(DELIMITER_BYTES, onUnit)
  }
  /**
   * The hand-written reference (one connection, framing on 'data' events), the bare Effect client
   * on the same framer (it checks the clock every `checkEvery` units, as ours does, and pauses the
   * socket while `highWater` units wait) and the platform-node socket on the same framer.
   */
  const referenceAndFloor = (
    hello: string,
    bytesPerUnit: number,
    framer: raw.Streaming["framer"],
    floor: { readonly checkEvery: number; readonly highWater: number }
  ): ReadonlyArray<Variant> => {
    const shape = { host, port, hello: Buffer.from(hello), bytesPerUnit, framer }
    return [
      { name: VARIANT.raw, role: "reference", measure: (ms) => raw.streaming(shape, ms) },
      {
        name: effectFloor.NAME,
        role: "baseline",
        measure: (ms) => runtime.runPromise(effectFloor.streaming({ ...shape, ...floor }, ms))
      },
      { name: nodeSocket.NAME, role: "baseline", measure: (ms) => runtime.runPromise(nodeSocket.streaming(shape, ms)) }
    ]
  }
  const bulk: Parameters<typeof cosocket.streaming>[2] = {
    hello: "bytes\n",
    bytesPerUnit: 65536,
    checkEvery: 4,
    read: (socket) => Effect.succeed(socket.receive(65536))
  }
  return [
    {
      id: WORKLOAD.lines,
      title: "receive(\"*l\"), 32-byte CRLF lines, 1 connection",
      unit: "lines/s",
      higherIsBetter: true,
      note: "raw, the bare Effect client and the platform-node socket: lines hand-split into strings on each " +
        "chunk; ours returns each line as bytes",
      variants: [
        {
          name: VARIANT.ours,
          role: "ours",
          measure: ours({
            hello: "lines\n",
            bytesPerUnit: 0,
            checkEvery: 1024,
            read: (socket) => Effect.succeed(socket.receive())
          })
        },
        { name: VARIANT.batchedLines, role: "baseline", measure: batchedLines },
        ...referenceAndFloor("lines\n", 0, (onUnit) => new LineSplitter(onUnit), { checkEvery: 1024, highWater: 8192 }),
        { name: VARIANT.readline, role: "baseline", measure: (ms) => readlineLines(host, port, ms) }
      ]
    },
    {
      id: WORKLOAD.records,
      title: "receive(4096), fixed records, 1 connection",
      unit: "records/s",
      higherIsBetter: true,
      variants: [
        {
          name: VARIANT.ours,
          role: "ours",
          measure: ours({
            hello: "bytes\n",
            bytesPerUnit: 0,
            checkEvery: 64,
            read: (socket) => Effect.succeed(socket.receive(4096))
          })
        },
        ...referenceAndFloor("bytes\n", 0, (onUnit) => new FixedSplitter(4096, onUnit), {
          checkEvery: 64,
          highWater: 64
        })
      ]
    },
    {
      id: WORKLOAD.bulk,
      title: "receive(65536), bulk, 1 connection",
      unit: "MB/s",
      higherIsBetter: true,
      variants: [
        { name: VARIANT.ours, role: "ours", measure: ours(bulk) },
        { name: cosocket.NO_TIMEOUTS, role: "baseline", measure: ours(bulk, runtimes.noTimeouts) },
        ...referenceAndFloor("bytes\n", 65536, (onUnit) => new FixedSplitter(65536, onUnit), {
          checkEvery: 4,
          highWater: 4
        })
      ]
    },
    {
      id: WORKLOAD.untilSmall,
      title: "receiveUntil, 10 x 1 KiB parts per message, 50 connections (request/response)",
      unit: "messages/s",
      higherIsBetter: true,
      variants: [
        { name: VARIANT.ours, role: "ours", measure: untilSmall(runtime) },
        { name: cosocket.NO_TIMEOUTS, role: "baseline", measure: untilSmall(runtimes.noTimeouts) },
        { name: VARIANT.raw, role: "reference", measure: (ms) => raw.requestResponse(untilSmallShape, ms) },
        {
          name: effectFloor.NAME,
          role: "baseline",
          measure: (ms) => runtime.runPromise(effectFloor.requestResponse(untilSmallShape, ms))
        },
        {
          name: nodeSocket.NAME,
          role: "baseline",
          measure: (ms) =>
            runtime.runPromise(nodeSocket.requestResponse({
              ...untilSmallShape,
              repliesPerRequest: SMALL_PARTS
            }, ms))
        }
      ]
    },
    {
      id: WORKLOAD.untilLarge,
      title: "receiveUntil, 4 x 64 KiB parts per message, 1 connection (streaming)",
      unit: "MB/s",
      higherIsBetter: true,
      variants: [
        {
          name: VARIANT.ours,
          role: "ours",
          measure: ours({
            hello: "until-large\n",
            bytesPerUnit: LARGE_PART_SIZE,
            checkEvery: 4,
            read: (socket) => Effect.map(socket.receiveUntil(DELIMITER), (reader) => reader.read)
          })
        },
        ...referenceAndFloor(
          "until-large\n",
          LARGE_PART_SIZE,
          (onUnit) => new DelimiterSplitter(DELIMITER_BYTES, onUnit),
          { checkEvery: 4, highWater: 4 }
        )
      ]
    }
  ]
}
