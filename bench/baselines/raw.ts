/**
 * The ceiling: hand-written node:net clients. Same shapes as ours: N connections each doing
 * sequential request/response (optionally pipelined), and single-connection streaming reads,
 * with the framing written by hand on 'data' events.
 */
import * as Net from "node:net"
import { cpuWindow, Latencies, type Sample } from "../lib/index.js"

export interface Framer {
  push(chunk: Buffer): void
}

/** A sample and the work behind it: operations, units or MB counted in the timed window. */
export type Measured = Sample & { readonly work: number }

export const connectAll = (host: string, port: number, count: number): Promise<Array<Net.Socket>> =>
  Promise.all(Array.from({ length: count }, () =>
    new Promise<Net.Socket>((resolve, reject) => {
      const socket = Net.connect({ host, port, noDelay: true })
      socket.once("error", reject)
      socket.once("connect", () => {
        socket.off("error", reject)
        socket.on("error", () => {})
        resolve(socket)
      })
    })))

export interface RequestResponse {
  readonly host: string
  readonly port: number
  readonly connections: number
  /** Sent once after connecting (a mode line), before the timed part. */
  readonly hello?: Buffer | undefined
  readonly request: Buffer
  /** Framed units that make up one response. */
  readonly unitsPerResponse: number
  /** Operations one request counts as (pipelined: its depth). */
  readonly opsPerRequest: number
  readonly framer: (onUnit: (unit: Buffer) => void) => Framer
  readonly latency?: boolean | undefined
}

/**
 * Closed loop: each connection sends the next request when the previous response is complete.
 * Also the process's CPU per operation over the timed window.
 */
export const requestResponse = async (shape: RequestResponse, durationMs: number): Promise<Measured> => {
  const sockets = await connectAll(shape.host, shape.port, shape.connections)
  try {
    // One untimed round trip per connection: the connection is established and warm.
    await Promise.all(sockets.map((socket) => exchange(socket, shape)))
    const latencies = shape.latency === true ? new Latencies() : undefined
    let ops = 0
    const cpu = cpuWindow()
    const start = performance.now()
    const deadline = start + durationMs
    await Promise.all(sockets.map((socket) =>
      new Promise<void>((resolve, reject) => {
        let remaining = shape.unitsPerResponse
        let sentAt = performance.now()
        const framer = shape.framer(() => {
          if (--remaining > 0) return
          const now = performance.now()
          ops += shape.opsPerRequest
          latencies?.add(now - sentAt)
          if (now >= deadline) {
            socket.removeAllListeners("data")
            return resolve()
          }
          remaining = shape.unitsPerResponse
          sentAt = now
          socket.write(shape.request)
        })
        socket.on("data", (chunk: Buffer) => framer.push(chunk))
        socket.once("close", () => reject(new Error("connection closed")))
        socket.write(shape.request)
      })
    ))
    const elapsed = performance.now() - start
    return {
      value: (ops / elapsed) * 1000,
      p50: latencies?.percentile(50),
      p99: latencies?.percentile(99),
      cpuUs: cpu() / ops,
      work: ops
    }
  } finally {
    for (const socket of sockets) socket.destroy()
  }
}

const exchange = (socket: Net.Socket, shape: RequestResponse): Promise<void> =>
  new Promise((resolve) => {
    let remaining = shape.unitsPerResponse
    const framer = shape.framer(() => {
      if (--remaining === 0) {
        socket.removeAllListeners("data")
        resolve()
      }
    })
    socket.on("data", (chunk: Buffer) => framer.push(chunk))
    if (shape.hello !== undefined) socket.write(shape.hello)
    socket.write(shape.request)
  })

export interface Streaming {
  readonly host: string
  readonly port: number
  readonly hello: Buffer
  /** Bytes per unit, for MB/s figures; 0: the figure is units per second. */
  readonly bytesPerUnit: number
  readonly framer: (onUnit: (unit: unknown) => void) => Framer
}

/** One connection reading an endless stream: units (or MB) per second. */
export const streaming = async (shape: Streaming, durationMs: number): Promise<Measured> => {
  const [socket] = await connectAll(shape.host, shape.port, 1)
  try {
    let units = 0
    const framer = shape.framer(() => {
      units++
    })
    const start = performance.now()
    const deadline = start + durationMs
    const elapsed = await new Promise<number>((resolve, reject) => {
      socket.on("data", (chunk: Buffer) => {
        framer.push(chunk)
        const now = performance.now()
        if (now >= deadline) {
          socket.removeAllListeners("data")
          socket.pause()
          resolve(now - start)
        }
      })
      socket.once("close", () => reject(new Error("connection closed")))
      socket.write(shape.hello)
    })
    const perSecond = (units / elapsed) * 1000
    const mb = shape.bytesPerUnit > 0
    return {
      value: mb ? (perSecond * shape.bytesPerUnit) / 1e6 : perSecond,
      work: mb ? (units * shape.bytesPerUnit) / 1e6 : units
    }
  } finally {
    socket.destroy()
  }
}
