// Mutation testing of the pure core and the pool (`npm run mutation`): Stryker mutates the files
// below, type-checks each mutant, and runs the in-memory tests (stryker.vitest.config.ts) against
// it. Reports: reports/mutation/mutation.html and .json. Survivors judged equivalent are listed,
// each with its reason, in mutation-equivalents.md.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  packageManager: "npm",
  testRunner: "vitest",
  vitest: { configFile: "stryker.vitest.config.ts", related: false },
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.build.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: false },
  mutate: [
    "src/internal/byteBuffer.ts",
    "src/internal/matcher.ts",
    "src/internal/needs.ts",
    "src/internal/search.ts",
    "src/internal/sendable.ts",
    "src/internal/validate.ts",
    "src/internal/pool.ts",
    "src/internal/intrusiveList.ts",
    "src/internal/deadlineHeap.ts",
    "src/internal/batchNeed.ts",
    "src/internal/target.ts"
  ],
  // The project's own Node (scripts/ensure-node.sh, 189 MB) is not needed in the sandbox: the test
  // runners are started with the Node that runs Stryker. (In a worktree it is a symlink, which
  // Stryker cannot copy.)
  ignorePatterns: ["/.node"],
  coverageAnalysis: "perTest",
  reporters: ["html", "json", "clear-text", "progress"],
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  concurrency: 2,
  timeoutMS: 20000,
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always"
}
