import { defineConfig } from 'vitest/config';

// End-to-end tests against the real cluster named by KUBECONFIG (skipped without one): `npm run test:e2e`.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
