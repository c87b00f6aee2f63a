import { defineConfig } from "vitest/config"

// The tests Stryker runs against each mutant: the pure core's and the in-memory engine and pool
// tests (no real sockets, no child processes), so a mutant's verdict does not depend on timing.
export default defineConfig({
  test: {
    include: [
      "test/byteBuffer.test.ts",
      "test/matcher.test.ts",
      "test/needs.test.ts",
      "test/sendable.test.ts",
      "test/validate.test.ts",
      "test/testing.Chunking.test.ts",
      "test/tcp.engine.test.ts",
      "test/udp.engine.test.ts",
      "test/pool.memory.test.ts",
      "test/pool.model.test.ts",
      "test/batchNeed.test.ts",
      "test/deadlineHeap.test.ts",
      "test/target.test.ts",
      "test/pool.deadline.test.ts",
      "test/pool.lease.test.ts",
      "test/poolMetrics.test.ts",
      "test/mutation.*.test.ts"
    ],
    pool: "forks",
    testTimeout: 30_000,
    sequence: { concurrent: false }
  }
})
