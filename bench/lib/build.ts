/**
 * The library as users run it: src/** transpiled to plain JS in `.bench-tmp/dist` with
 * TypeScript's transpileModule (no type check, no bundling, one file per module, like `tsc`).
 * The bench measures effect-cosocket from there, not through tsx: tsx's transform adds a
 * `__name` call to every named function, which costs CPU and several KB of heap per connection.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import ts from "typescript"

const root = Path.resolve(Path.dirname(Url.fileURLToPath(import.meta.url)), "../..")
export const distDir = Path.join(root, ".bench-tmp", "dist")

export const distUrl = (file: string): string => Url.pathToFileURL(Path.join(distDir, file)).href

const sourceFiles = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = Path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : []
  })

/**
 * Transpiles src/** to .bench-tmp/dist (ES2022 modules), replacing an earlier build. Inline source
 * maps only for profiling (they make the files bigger to load).
 */
export const buildLibrary = (options: { readonly sourceMaps: boolean }): void => {
  const src = Path.join(root, "src")
  Fs.rmSync(distDir, { recursive: true, force: true })
  for (const file of sourceFiles(src)) {
    const out = Path.join(distDir, Path.relative(src, file)).replace(/\.ts$/, ".js")
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
}
