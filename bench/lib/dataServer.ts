/**
 * The data server of the reading workloads, run in its own Node process (see processes.ts). The
 * first line a client sends picks the mode:
 *
 * - `lines`, `bytes`, `until-large`: an endless stream of LINE_BLOCK / BYTE_BLOCK /
 *   UNTIL_LARGE_MESSAGE, with backpressure, until the client goes away;
 * - `until-small`: request/response, one UNTIL_SMALL_MESSAGE per LF the client sends.
 *
 * Prints `PORT n` on stdout once listening; exits when its stdin closes.
 */
import * as Net from "node:net"
import { BYTE_BLOCK, LINE_BLOCK, UNTIL_LARGE_MESSAGE, UNTIL_SMALL_MESSAGE } from "./payloads.js"

const blocks: Record<string, Buffer> = {
  lines: Buffer.concat([LINE_BLOCK, LINE_BLOCK, LINE_BLOCK, LINE_BLOCK]),
  bytes: BYTE_BLOCK,
  "until-large": UNTIL_LARGE_MESSAGE
}

const server = Net.createServer({ noDelay: true }, (socket) => {
  socket.on("error", () => {})
  let head = ""
  let mode: string | undefined
  const stream = (block: Buffer) => {
    const pump = () => {
      while (!socket.destroyed && socket.write(block)) {
        // keep writing until the socket buffers enough
      }
    }
    socket.on("drain", pump)
    pump()
  }
  socket.on("data", (chunk: Buffer) => {
    if (mode === "until-small") {
      let n = 0
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++
      for (let i = 0; i < n; i++) socket.write(UNTIL_SMALL_MESSAGE)
      return
    }
    if (mode !== undefined) return
    head += chunk.toString("latin1")
    const lf = head.indexOf("\n")
    if (lf === -1) return
    mode = head.slice(0, lf).trim()
    const rest = head.slice(lf + 1)
    if (mode === "until-small") {
      for (const c of rest) if (c === "\n") socket.write(UNTIL_SMALL_MESSAGE)
      return
    }
    const block = blocks[mode]
    if (block === undefined) socket.destroy()
    else stream(block)
  })
})

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`PORT ${(server.address() as Net.AddressInfo).port}\n`)
})

process.stdin.on("data", () => {})
process.stdin.on("end", () => process.exit(0))
process.stdin.on("error", () => process.exit(0))
