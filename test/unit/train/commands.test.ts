import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../generator/cli/main.ts';
import type { Io } from '../../../generator/cli/command.ts';
import { validatorFor, registerSchema } from '../../../policies/documents.ts';
import bundleSchema from '../../../policies/schema/policy-bundle.schema.json' with { type: 'json' };
import orgSchema from '../../../policies/schema/organisation.schema.json' with { type: 'json' };

function capture(cwd: string): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  let clock = 0;
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t), isTty: false, cwd, env: {}, now: () => (clock += 10) };
}

const fixture = new URL('../../fixtures/train/short-ddos.yaml', import.meta.url).pathname;

describe('karma-hpa train / evaluate', () => {
  it('trains, writes bundle-shaped agents and curves, and evaluates them against baselines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-train-cmd-'));
    try {
      const io = capture(dir);
      const code = await main(['train', '--topology', 'chained-services', '--scenarios', fixture, '--seed', '3', '--out', 'run', '--iterations', '2', '--episodes', '2', '--workers', '1'], io);
      expect(io.stderr.join('')).toMatch(/train mas: 2\/2/);
      expect(code).toBe(0);
      const policies = JSON.parse(readFileSync(join(dir, 'run', 'policies.json'), 'utf8')) as { agents: unknown[]; method: string };
      expect(policies.method).toBe('mas');
      registerSchema(orgSchema);
      const agentSchema = { ...(bundleSchema as { definitions: Record<string, unknown> }).definitions.agent as object, definitions: (bundleSchema as { definitions: object }).definitions };
      const validate = validatorFor(agentSchema);
      for (const a of policies.agents) expect(validate(a), JSON.stringify(validate.errors)).toBe(true);
      expect(policies.agents.map((a) => (a as { name: string }).name)).toEqual(['bottleneck-manager', 'ddos-manager', 'failure-manager', 'resource-manager']);
      const curves = JSON.parse(readFileSync(join(dir, 'run', 'curves.json'), 'utf8')) as { iterations: { meanReturn: number }[] };
      expect(curves.iterations).toHaveLength(2);

      const io2 = capture(dir);
      const code2 = await main(['evaluate', '--topology', 'chained-services', '--scenarios', fixture, '--methods', 'default-hpa,static-max,mas', '--policies', 'run', '--seeds', '2', '--json', '--out', 'eval'], io2);
      expect(io2.stderr.join('')).not.toMatch(/error/);
      expect(code2).toBe(0);
      const summary = JSON.parse(io2.stdout.join('')) as { summary: { method: string; seeds: number; successRate: { mean: number } }[]; seeds: number[] };
      expect(summary.summary.map((r) => r.method)).toEqual(['default-hpa', 'static-max', 'mas']);
      expect(summary.seeds.every((s) => s >= 0x40000000)).toBe(true);
      const byMethod = Object.fromEntries(summary.summary.map((r) => [r.method, r.successRate.mean]));
      expect(byMethod['static-max']).toBeGreaterThanOrEqual(byMethod['default-hpa']!);
      const episodes = JSON.parse(readFileSync(join(dir, 'eval', 'episodes.json'), 'utf8')) as { episodes: unknown[] };
      expect(episodes.episodes).toHaveLength(6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('names a bad method and a missing option', async () => {
    const io = capture(tmpdir());
    expect(await main(['evaluate', '--topology', 'chained-services', '--scenarios', fixture, '--methods', 'magic'], io)).toBe(2);
    expect(io.stderr.join('')).toMatch(/unknown method "magic"/);
    const io2 = capture(tmpdir());
    expect(await main(['train', '--topology', 'chained-services', '--out', 'x'], io2)).toBe(2);
    expect(io2.stderr.join('')).toMatch(/missing required option --scenarios/);
    const dir = mkdtempSync(join(tmpdir(), 'karma-train-cfg-'));
    try {
      writeFileSync(join(dir, 'mappo.json'), JSON.stringify({ entropyCoef: 'lots', learningRate: 1 }));
      const io3 = capture(dir);
      expect(await main(['train', '--topology', 'chained-services', '--scenarios', fixture, '--out', 'x', '--config', 'mappo.json'], io3)).toBe(2);
      expect(io3.stderr.join('')).toMatch(/entropyCoef: expected a number/);
      expect(io3.stderr.join('')).toMatch(/learningRate: not a MAPPO hyperparameter/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
