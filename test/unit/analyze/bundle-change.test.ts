import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalPrettyJson } from '../../../policies/canonical.ts';
import { main } from '../../../generator/cli/main.ts';
import type { Io } from '../../../generator/cli/command.ts';
import { buildBundle } from '../../../generator/bundle/build.ts';
import { compareRules, explainBundleChange, renderBundleChange } from '../../../generator/analyze/bundle-change.ts';
import { newerBundle, olderBundle } from '../../fixtures/analyze/bundles.ts';

function capture(cwd: string): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => void (out += t), err: (t) => void (err += t), isTty: false, cwd, env: {}, now: () => 0, stdout: () => out, stderr: () => err };
}

describe('explainBundleChange', () => {
  const before = olderBundle();
  const after = newerBundle(before);

  it('finds exactly the planted differences', () => {
    const e = explainBundleChange(before, after);
    expect(e.version).toEqual({ from: '1.0.0', to: '1.1.0', change: 'minor', expected: 'minor', consistent: true });
    expect(e.retrained).toEqual(['ddos-manager']);
    expect(e.guards.map((g) => [g.field, g.from, g.to])).toEqual([['maxStep', 3, 2]]);
    expect(e.rules.map((r) => r.agent)).toEqual(['bottleneck-manager', 'ddos-manager']);
    const ddos = e.rules.find((r) => r.agent === 'ddos-manager')!;
    expect(ddos.changed).toHaveLength(1);
    expect(ddos.changed[0]!.what).toEqual(['request-rate change > 1.5× → > 1.8×']);
    expect(ddos.added).toHaveLength(1);
    expect(ddos.removed).toHaveLength(0);
    expect(ddos.fidelity).toEqual({ from: 0.93, to: 0.95 });
    expect(e.rules.find((r) => r.agent === 'bottleneck-manager')!.removed).toHaveLength(1);
    expect(e.roleAssignments).toEqual([]);
    expect(e.guides).toEqual([]);
    expect(e.organisationChanged).toBe(false);
    const success = e.metrics.filter((m) => m.metric === 'successRate');
    expect(success.map((m) => [m.method, m.better, m.significant])).toEqual([['default-hpa', undefined, false], ['karma', true, true]]);
  });

  it('says exactly that in the Markdown summary', () => {
    const md = renderBundleChange(explainBundleChange(before, after));
    const bullets = md.split('\n').filter((l) => l.startsWith('- **'));
    expect(bullets).toEqual([
      '- **Version**: minor version bump — a policy (network weights, normalisation or actions) changed.',
      '- **ddos** (karma): success rate 85.0 % → 90.9 %, +5.9 pp (better, outside both 95 % CIs).',
      '- **Retrained**: `ddos-manager` (new network weights).',
      '- **Rules**: 1 added, 1 removed, 1 changed.',
      '- **Guards**: maxStep 3 → 2.',
    ]);
    expect(md).toContain('| ddos | karma | recovery time | 41.0 s | 33.0 s | −8.0 s (better) |');
    expect(md).toContain('- removed: if pending requests > 50 then +2 replicas (support 8.0 %)');
    expect(md).toContain('- added: if CPU utilisation > 80 % and failed pods = 0 then +1 replica (support 10.0 %)');
    expect(md).toContain('- changed (+3 replicas): request-rate change > 1.5× → > 1.8×');
    expect(md).toContain('**`ddos-manager`** — fidelity 93.0 % → 95.0 %');
    expect(md).toContain('| guards.maxStep | 3 | 2 | largest replica change one decision may make |');
  });

  it('reports role changes, Action Guide changes and a version that does not follow the content', () => {
    const s = structuredClone(after.spec);
    s.agents[0]!.role = 'failure-manager';
    s.organisation.roles[0]!.actionGuide[0]!.allow = [2, 3];
    const changed = buildBundle({ app: 'chained-services', namespace: 'chained-services', organisation: s.organisation, agents: s.agents, guards: s.guards, targets: s.targets, provenance: s.provenance, evaluation: s.evaluation, description: s.description, previous: after });
    const e = explainBundleChange(after, changed);
    expect(e.version.change).toBe('major');
    expect(e.roleAssignments).toEqual([{ agent: s.agents[0]!.name, from: 'bottleneck-manager', to: 'failure-manager' }]);
    expect(e.guides).toEqual([{ role: 'bottleneck-manager', added: [], removed: [], changed: ['scale-up-on-backlog'] }]);
    expect(renderBundleChange(e)).toContain(`- **Roles**: \`${s.agents[0]!.name}\` is now \`failure-manager\` (was \`bottleneck-manager\`); Action Guide of \`bottleneck-manager\` changed.`);
    // Same content change with a hand-edited patch version: flagged.
    const mislabelled = { ...changed, spec: { ...changed.spec, version: '1.1.1' } };
    const m = explainBundleChange(after, mislabelled);
    expect(m.version.consistent).toBe(false);
    expect(renderBundleChange(m)).toContain('but the content needs a **major** bump');
  });

  it('warns when the rules decide without enough fidelity and when success drops', () => {
    const s = structuredClone(after.spec);
    for (const a of s.agents) a.ruleFidelity = a.name === 'ddos-manager' ? 0.95 : 0.8;
    s.evaluation!.scenarios = s.evaluation!.scenarios.map((r) => (r.method === 'karma' ? { ...r, successRate: 0.8, successRateCi95: [0.78, 0.82] as [number, number] } : r));
    const next = buildBundle({ app: 'chained-services', namespace: 'chained-services', organisation: s.organisation, agents: s.agents, guards: s.guards, targets: s.targets, provenance: s.provenance, evaluation: s.evaluation, description: s.description, evaluator: 'rules', previous: after });
    const e = explainBundleChange(after, next);
    expect(e.warnings).toEqual([
      'the rules decide (evaluator: rules) but `bottleneck-manager`\'s rules reproduce only 80.0 % of its policy\'s decisions',
      'the rules decide (evaluator: rules) but `failure-manager`\'s rules reproduce only 80.0 % of its policy\'s decisions',
      'the rules decide (evaluator: rules) but `resource-manager`\'s rules reproduce only 80.0 % of its policy\'s decisions',
      'success rate of `karma` in `ddos` went down (90.9 % → 80.0 %)',
    ]);
    const md = renderBundleChange(e);
    expect(md).toContain('> [!WARNING]\n> - the rules decide');
    expect(md).toContain('| evaluator | network | rules |');
    expect(explainBundleChange(before, after).warnings).toEqual([]);
  });

  it('pairs rules of the same shape as threshold changes, and keeps different shapes apart', () => {
    const r = compareRules(
      [{ conditions: [{ feature: 'failedPods', op: '>', threshold: 0.5 }], action: 1, support: 0.1 }, { conditions: [{ feature: 'pendingRequests', op: '>', threshold: 50 }], action: 2, support: 0.1 }],
      [{ conditions: [{ feature: 'failedPods', op: '>', threshold: 1.5 }], action: 1, support: 0.1 }, { conditions: [{ feature: 'pendingRequests', op: '>', threshold: 50 }], action: 3, support: 0.1 }],
    );
    expect(r.changed.map((c) => c.what)).toEqual([['failed pods ≥ 1 → ≥ 2']]);
    expect(r.added.map((x) => x.action)).toEqual([3]);
    expect(r.removed.map((x) => x.action)).toEqual([2]);
  });
});

describe('karma-hpa diff', () => {
  const dir = mkdtempSync(join(tmpdir(), 'karma-diff-'));
  const before = olderBundle();
  const after = newerBundle(before);
  writeFileSync(join(dir, 'old.json'), canonicalPrettyJson(before));
  writeFileSync(join(dir, 'new.json'), canonicalPrettyJson(after));

  it('prints the Markdown explanation, or JSON with --json', async () => {
    const io = capture(dir);
    expect(await main(['diff', 'old.json', 'new.json'], io)).toBe(0);
    expect(io.stdout()).toBe(renderBundleChange(explainBundleChange(before, after)));
    const j = capture(dir);
    expect(await main(['diff', 'old.json', 'new.json', '--json'], j)).toBe(0);
    expect(JSON.parse(j.stdout()).version.to).toBe('1.1.0');
  });

  it('refuses a tampered bundle with the file and the reason, and a wrong number of files', async () => {
    const tampered = structuredClone(after);
    tampered.spec.guards.maxStep = 9;
    writeFileSync(join(dir, 'tampered.json'), canonicalPrettyJson(tampered));
    const io = capture(dir);
    expect(await main(['diff', 'old.json', 'tampered.json'], io)).toBe(2);
    expect(io.stderr()).toMatch(/tampered\.json.*invalid PolicyBundle[\s\S]*digest/);
    const one = capture(dir);
    expect(await main(['diff', 'old.json'], one)).toBe(2);
    expect(one.stderr()).toMatch(/expected two bundle files, got 1/);
  });
});
