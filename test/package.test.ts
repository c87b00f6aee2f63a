/**
 * The package as users get it: `npm pack` builds `dist/` (the `prepack` script), the tarball holds
 * the build and an explicit `exports` map of the three public entry points, and a project that
 * installs the tarball (with `effect` and the optional `fast-check` peer) imports every entry point
 * at run time and type-checks a consumer file against the shipped declarations.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const manifest = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as {
  readonly name: string
  readonly version: string
  readonly exports: Record<string, unknown>
  readonly dependencies: Record<string, string>
  readonly devDependencies: Record<string, string>
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string): string => {
  const result = ChildProcess.spawnSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited with ${result.status}:\n${result.stdout}${result.stderr}`)
  }
  return result.stdout
}

const consumer = `import { Effect, Layer } from "effect"
import { ConnectionPool, CosocketConfig, CosocketError, TcpSocket, Transport } from "effect-cosocket"
import { NodeCosocket } from "effect-cosocket/node"
import { Chunking, ScriptedPeer } from "effect-cosocket/testing"

type Failure = CosocketError.ConnectFailure | CosocketError.ReceiveError | CosocketError.SendError
type Needs = Transport.TcpConnector | ConnectionPool.ConnectionPool

export const ping: Effect.Effect<string, Failure, Needs> =
  TcpSocket.withConnection("127.0.0.1", 6379, (socket) =>
    Effect.gen(function*() {
      yield* socket.send("PING\\r\\n")
      return TcpSocket.text(yield* socket.receive())
    }))

export const live: Layer.Layer<Needs | Transport.UdpConnector, CosocketError.InvalidArgument> = NodeCosocket.layer
export const program: Effect.Effect<string, Failure | CosocketError.InvalidArgument> = ping.pipe(Effect.provide(live))
export const config = CosocketConfig.layer({ readTimeout: "1 second" })
export const chunkings = Chunking.arbitraryChunking(new Uint8Array([1, 2, 3]))
export const peer = ScriptedPeer.make({ script: [] })
`

describe("the published package", () => {
  it("npm pack ships dist/ with the public entry points only; an installed tarball imports and type-checks", () => {
    expect(Object.keys(manifest.exports).sort()).toEqual([".", "./node", "./package.json", "./testing"])
    // The one runtime dependency (SHA-256 and HMAC for TLS fingerprints and credential ids), pinned exactly.
    expect(manifest.dependencies).toEqual({ "@noble/hashes": "2.4.0" })

    const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "cosocket-pack-"))
    try {
      run("npm", ["pack", "--pack-destination", work, "--silent"], root)
      const tarball = Path.join(work, `${manifest.name}-${manifest.version}.tgz`)
      const files = run("tar", ["-tzf", tarball], work).split("\n").filter((line) => line.length > 0)
      for (const entry of ["index", "node/index", "testing/index"]) {
        expect(files).toContain(`package/dist/${entry}.js`)
        expect(files).toContain(`package/dist/${entry}.d.ts`)
      }
      expect(files.filter((file) => file.startsWith("package/test/") || file.startsWith("package/bench/"))).toEqual([])

      const project = Path.join(work, "consumer")
      Fs.mkdirSync(project)
      Fs.writeFileSync(
        Path.join(project, "package.json"),
        JSON.stringify({ name: "consumer", version: "0.0.0", private: true, type: "module" })
      )
      run("npm", [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        tarball,
        `effect@${manifest.devDependencies.effect}`,
        `fast-check@${manifest.devDependencies["fast-check"]}`,
        `@types/node@${manifest.devDependencies["@types/node"]}`
      ], project)

      const imported = run(process.execPath, [
        "--input-type=module",
        "-e",
        `const [core, node, testing] = await Promise.all([import("effect-cosocket"), import("effect-cosocket/node"), import("effect-cosocket/testing")])
console.log(JSON.stringify([Object.keys(core).sort(), typeof node.NodeCosocket.layer, typeof testing.ScriptedPeer.make, core.ConnectionPool.credentialId("user", "password")]))`
      ], project)
      const [keys, layer, make, id] = JSON.parse(imported)
      expect([keys, layer, make]).toEqual([
        ["ConnectionPool", "CosocketConfig", "CosocketError", "Tls", "Transport", "TcpSocket", "UdpSocket"].sort(),
        "object",
        "function"
      ])
      // the runtime dependency was installed with the tarball and computes (the HMAC key is per process)
      expect(id).toMatch(/^cred-[0-9a-f]{16}$/)
      expect(Fs.existsSync(Path.join(project, "node_modules", "@noble", "hashes", "package.json"))).toBe(true)
      // A deep import is not part of the API: the exports map refuses it.
      expect(() =>
        run(
          process.execPath,
          ["--input-type=module", "-e", `await import("effect-cosocket/dist/internal/pool.js")`],
          project
        )
      ).toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/)

      Fs.writeFileSync(Path.join(project, "consumer.ts"), consumer)
      Fs.writeFileSync(
        Path.join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            module: "NodeNext",
            moduleResolution: "NodeNext",
            strict: true,
            exactOptionalPropertyTypes: true,
            noEmit: true,
            types: ["node"]
          },
          files: ["consumer.ts"]
        })
      )
      const tsc = Path.join(root, "node_modules", "typescript", "bin", "tsc")
      expect(run(process.execPath, [tsc, "-p", project], project)).toBe("")
    } finally {
      Fs.rmSync(work, { recursive: true, force: true })
    }
  }, 240_000)
})
