/**
 * Every TypeScript snippet in README.md type-checks against the library's sources, with the
 * project's compiler options. Each snippet is a module of its own, compiled from memory as if it
 * stood in test/ (so `effect` resolves from node_modules), with `effect-cosocket` and its subpaths
 * mapped to src/.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import ts from "typescript"

const root = Path.resolve(import.meta.dirname, "..")
const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")

const snippets = Array.from(readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm), (match) => match[1]!)

const compilerOptions = (): ts.CompilerOptions => {
  const config = ts.readConfigFile(Path.join(root, "tsconfig.base.json"), ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root)
  return {
    ...parsed.options,
    noEmit: true,
    // A snippet shows one piece of a program: names it declares for the reader need not be used.
    noUnusedLocals: false,
    baseUrl: root,
    paths: {
      "effect-cosocket": ["src/index.ts"],
      "effect-cosocket/node": ["src/node/index.ts"],
      "effect-cosocket/testing": ["src/testing/index.ts"]
    }
  }
}

describe("README.md", () => {
  it("has TypeScript snippets", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(4)
  })

  it("every TypeScript snippet type-checks", () => {
    const files = new Map(snippets.map((text, index) => [Path.join(root, "test", `readme-snippet-${index}.ts`), text]))
    const options = compilerOptions()
    const host = ts.createCompilerHost(options)
    const fileExists = host.fileExists.bind(host)
    const readFile = host.readFile.bind(host)
    const getSourceFile = host.getSourceFile.bind(host)
    host.fileExists = (file) => files.has(file) || fileExists(file)
    host.readFile = (file) => files.get(file) ?? readFile(file)
    host.getSourceFile = (file, language, onError, shouldCreate) => {
      const text = files.get(file)
      return text !== undefined
        ? ts.createSourceFile(file, text, language, true)
        : getSourceFile(file, language, onError, shouldCreate)
    }
    const program = ts.createProgram([...files.keys()], options, host)
    const diagnostics = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")
      if (diagnostic.file === undefined || diagnostic.start === undefined) return text
      const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
      return `${Path.basename(diagnostic.file.fileName)}:${line + 1}: ${text}`
    })
    expect(diagnostics).toEqual([])
  }, 120_000)
})
