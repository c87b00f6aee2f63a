/**
 * The replay peer: a loopback server that plays a registered program's stream to whichever client
 * names it. The client's first line is the program id; each following line `k` announces
 * operation `k`, and the peer then writes the chunks released at `k` (each its own write, with
 * Nagle off, so one write is one segment), then the FIN if the program ends the stream there.
 * Scoped: closing the scope destroys every connection and closes the server.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import type { Program } from "./program.js"

export interface ReplayPeer {
  readonly port: number
  /** Registers a program under a fresh id; returns the id. */
  readonly register: (program: Program) => string
  readonly forget: (id: string) => void
}

const wait = (ms: number): Promise<void> =>
  new Promise((resolve) => ms <= 0 ? setImmediate(resolve) : setTimeout(resolve, ms))

const serve = (socket: Net.Socket, programs: Map<string, Program>): void => {
  socket.setNoDelay(true)
  socket.on("error", () => {})
  let program: Program | undefined
  let pending = ""
  // Releases run one after another, in announcement order.
  let queue: Promise<void> = Promise.resolve()
  const release = (k: number) => async () => {
    if (program === undefined) return
    for (const chunk of program.chunks) {
      if (chunk.at !== k) continue
      const pieces = program.byteByByte ? Array.from(chunk.bytes) : [chunk.bytes]
      for (const piece of pieces) {
        await wait(chunk.pause)
        if (socket.destroyed || socket.writableEnded) return
        socket.write(Buffer.from(piece, "latin1"))
      }
    }
    if (program.fin === k && !socket.destroyed && !socket.writableEnded) socket.end()
  }
  socket.on("data", (data) => {
    pending += data.toString("latin1")
    let i: number
    while ((i = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, i)
      pending = pending.slice(i + 1)
      if (program === undefined) {
        program = programs.get(line)
        if (program === undefined) socket.destroy()
        continue
      }
      // Anything else the client sends (the busy operation's send) is not an announcement.
      if (!/^\d+$/.test(line)) continue
      queue = queue.then(release(Number(line)))
    }
  })
  socket.on("end", () => socket.destroy())
}

/** A scoped replay peer on 127.0.0.1 and a free port. */
export const make: Effect.Effect<ReplayPeer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.callback<{ server: Net.Server; sockets: Set<Net.Socket>; peer: ReplayPeer }>((resume) => {
    const programs = new Map<string, Program>()
    const sockets = new Set<Net.Socket>()
    let next = 0
    const server = Net.createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      serve(socket, programs)
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as Net.AddressInfo
      const peer: ReplayPeer = {
        port: address.port,
        register: (program) => {
          const id = `p${++next}`
          programs.set(id, program)
          return id
        },
        forget: (id) => {
          programs.delete(id)
        }
      }
      resume(Effect.succeed({ server, sockets, peer }))
    })
  }),
  ({ server, sockets }) =>
    Effect.callback<void>((resume) => {
      for (const s of sockets) s.destroy()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ peer }) => peer))
