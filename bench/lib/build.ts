/**
 * The library as users run it: src/** transpiled to plain JS in `.bench-tmp/dist` with
 * TypeScript's transpileModule (no type check, no bundling, one file per module, like `tsc`).
 * The bench measures effect-cosocket from there, not through tsx: tsx's transform adds a
 * `__name` call to every named function, which costs CPU and several KB of heap per connection.
 * The examples the bench drives (the proxy) are built the same way into `.bench-tmp/examples`,
 * their imports of src pointed at the build.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import ts from "typescript"

const root = Path.resolve(Path.dirname(Url.fileURLToPath(import.meta.url)), "../..")
export const distDir = Path.join(root, ".bench-tmp", "dist")

export const distUrl = (file: string): string => Url.pathToFileURL(Path.join(distDir, file)).href

const examplesDir = Path.join(root, ".bench-tmp", "examples")

/** The built example, e.g. `proxy/Proxy.js`. */
export const exampleUrl = (file: string): string => Url.pathToFileURL(Path.join(examplesDir, file)).href

/** The examples the bench drives, relative to examples/. */
const EXAMPLES = ["proxy/Proxy.ts"]

const sourceFiles = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = Path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : []
  })

/**
 * Transpiles src/** to .bench-tmp/dist and the driven examples to .bench-tmp/examples (ES2022
 * modules), replacing an earlier build. Inline source maps only for profiling (they make the files
 * bigger to load).
 */
export const buildLibrary = (options: { readonly sourceMaps: boolean }): void => {
  const src = Path.join(root, "src")
  Fs.rmSync(distDir, { recursive: true, force: true })
  Fs.rmSync(examplesDir, { recursive: true, force: true })
  for (const file of sourceFiles(src)) {
    transpile(file, Path.join(distDir, Path.relative(src, file)).replace(/\.ts$/, ".js"), options)
  }
  for (const example of EXAMPLES) {
    // examples/x/y.ts imports "../../src/..."; from .bench-tmp/examples/x/y.js that is "../../dist/...".
    const out = Path.join(examplesDir, example).replace(/\.ts$/, ".js")
    transpile(Path.join(root, "examples", example), out, options)
    Fs.writeFileSync(out, Fs.readFileSync(out, "utf8").replace(/(from\s+["'])\.\.\/\.\.\/src\//g, "$1../../dist/"))
  }
}

const transpile = (file: string, out: string, options: { readonly sourceMaps: boolean }): void => {
  const { outputText } = ts.transpileModule(Fs.readFileSync(file, "utf8"), {
    compilerOptions: {
      module: ts.ModuleKind.ES2022,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      sourceMap: false,
      inlineSourceMap: options.sourceMaps,
      inlineSources: options.sourceMaps
    },
    fileName: file
  })
  Fs.mkdirSync(Path.dirname(out), { recursive: true })
  Fs.writeFileSync(out, outputText)
}
