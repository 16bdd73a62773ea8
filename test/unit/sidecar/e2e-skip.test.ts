import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SKIP_REASON } from '../../e2e/cluster.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('end-to-end suite without a cluster', () => {
  it('skips every test and says why when KUBECONFIG is unset', () => {
    // A fresh vitest with the e2e config, as `npm run test:e2e` runs it, minus this run's own variables.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'KUBECONFIG' && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'));
    const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/e2e/vitest.e2e.config.ts', '--reporter', 'verbose'],
      { cwd: ROOT, env: { ...env, NO_COLOR: '1', CI: '1' }, encoding: 'utf8', timeout: 120_000 });
    const out = `${run.stdout}${run.stderr}`;
    expect(run.status, out).toBe(0);
    expect(out).toContain(`skipping the sidecar end-to-end tests: ${SKIP_REASON}`);
    expect(out).toMatch(/Tests\s+(\d+) skipped \(\1\)/);
    expect(out).not.toMatch(/\d+ passed/);
  });
});
