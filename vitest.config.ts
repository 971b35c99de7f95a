import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 300_000,
    // e2e files share one testbed (one Docker engine): run files one at a time
    fileParallelism: false,
  },
});
