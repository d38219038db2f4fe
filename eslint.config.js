import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'out/**', 'coverage/**', 'dist/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Determinism seams (see ../shared/DESIGN.md): the engine and the pure channel core get
    // time, timers, randomness, network and disk only through Clock, Random, Store and the
    // transport/connector interfaces (runtime/types.ts), so a seeded simulator can replay them.
    files: ['runtime/engine/**/*.ts', 'runtime/net/channel.ts', 'runtime/net/framing.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...[
          'setTimeout',
          'setInterval',
          'setImmediate',
          'clearTimeout',
          'clearInterval',
          'clearImmediate',
        ].map((name) => ({
          name,
          message: 'use the Clock seam (clock.setTimer / clearTimer) from runtime/types.ts',
        })),
        { name: 'performance', message: 'use the Clock seam (clock.monotonicMs / nowNs)' },
        { name: 'fetch', message: 'network goes through the transport seam' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'use the Clock seam (clock.nowMs)' },
        { object: 'performance', property: 'now', message: 'use the Clock seam (clock.monotonicMs)' },
        { object: 'Math', property: 'random', message: 'use the Random seam (runtime/types.ts)' },
        { object: 'process', property: 'hrtime', message: 'use the Clock seam (clock.nowNs)' },
        { object: 'crypto', property: 'getRandomValues', message: 'use the Random seam' },
        { object: 'crypto', property: 'randomUUID', message: 'use the Random seam' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date']", message: 'use the Clock seam (clock.nowMs)' },
        { selector: "CallExpression[callee.name='Date']", message: 'use the Clock seam (clock.nowMs)' },
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            'fs',
            'fs/promises',
            'net',
            'dgram',
            'http',
            'https',
            'child_process',
            'timers',
            'timers/promises',
            'perf_hooks',
            'crypto',
            'worker_threads',
          ].flatMap((m) =>
            [m, `node:${m}`].map((name) => ({
              name,
              message: 'I/O, time and randomness come in through the seams of runtime/types.ts',
            })),
          ),
        },
      ],
    },
  },
);
