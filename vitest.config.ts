import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The web console's modules (console/src) are compiled before the tests that serve them.
    globalSetup: ['test/support/build-console.ts'],
    // Each file opens its own database (an in-memory PGlite, or a fresh PostgreSQL database).
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
