import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    // Integration tests open real sockets and start real services; give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
    coverage: {
      include: ['src/protocol/**/*.ts'],
      exclude: ['src/**/*.test.ts'],
      thresholds: { 'src/protocol/**/*.ts': { lines: 98, branches: 95, functions: 100, statements: 98 } },
    },
  },
})
