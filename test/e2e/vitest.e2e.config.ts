import { defineConfig } from 'vitest/config';

// End-to-end tests against the real cluster named by KUBECONFIG (skipped without one): `npm run test:e2e`.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    testTimeout: 300_000,
    // Set-up waits for the CRD, a ready Deployment and metrics-server's first report; clean-up for the namespace to go.
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
