/**
 * Baseline of the proxy workloads: the proxy one writes with node:net alone, bytes piped both ways
 * (Node's streams carry backpressure and pass a FIN on as `end()`). Its sockets are set up as the
 * proxy example's: the accepted side with Node's defaults, the upstream side with no delay
 * (effect-cosocket's default).
 */
import * as Net from "node:net"

export const listen = (upstream: { readonly host: string; readonly port: number }): Net.Server =>
  Net.createServer((client) => {
    const server = Net.connect({ ...upstream, noDelay: true })
    client.pipe(server)
    server.pipe(client)
    client.on("error", () => server.destroy())
    server.on("error", () => client.destroy())
  })
