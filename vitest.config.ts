import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `import ... from 'buffy'` (the examples, as a user's app writes it) resolves to the
  // TypeScript sources, as it does under tsc and tsx in a checkout (package.json exports).
  resolve: { conditions: ['buffy-source'] },
  ssr: { resolve: { conditions: ['buffy-source'] } },
  test: {
    include: ['test/**/*.test.ts', 'conformance/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Processes the tests start log text lines (the wording the tests read); without this their
    // stderr, a pipe, would get JSON lines (runtime/log.ts). test/runtime/log.test.ts checks JSON.
    env: { BUFFY_LOG_FORMAT: 'text' },
  },
});
