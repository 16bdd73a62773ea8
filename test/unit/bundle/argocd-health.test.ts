/**
 * The Argo CD health check for PolicyBundles, run by a real Lua 5.4 interpreter the way Argo CD runs
 * it: the script sees the resource as the global `obj` and returns { status, message }.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { argoConfigMapPatch } from '../../../generator/publish/layout.ts';
import { EXAMPLE_PATH } from '../../../generator/bundle/example.ts';

const LUA = 'lua5.4';

/** A JSON value as a Lua table constructor. */
function luaLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string') return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
  if (Array.isArray(v)) return `{${v.map(luaLiteral).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `[${luaLiteral(k)}] = ${luaLiteral(x)}`).join(', ')}}`;
}

const script = (argoConfigMapPatch().data as Record<string, string>)['resource.customizations.health.karma-hpa.io_PolicyBundle']!;
const dir = mkdtempSync(join(tmpdir(), 'karma-hpa-lua-'));
writeFileSync(join(dir, 'health.lua'), script);

function health(obj: unknown): { status: string; message: string } {
  const harness = `obj = ${luaLiteral(obj)}\nlocal hs = assert(loadfile(${luaLiteral(join(dir, 'health.lua'))}))()\nio.write(hs.status, "\\t", hs.message or "")\n`;
  writeFileSync(join(dir, 'run.lua'), harness);
  const [status, message] = execFileSync(LUA, [join(dir, 'run.lua')], { encoding: 'utf8' }).split('\t');
  return { status: status!, message: message ?? '' };
}

const bundle = JSON.parse(readFileSync(EXAMPLE_PATH, 'utf8'));
const digest = bundle.spec.digest as string;
const withStatus = (status: unknown, spec: Record<string, unknown> = {}) => ({ ...bundle, spec: { ...bundle.spec, ...spec }, status });
const ready = { type: 'Ready', status: 'True', reason: 'Loaded' };

describe('Argo CD health check for PolicyBundle (Lua)', () => {
  it('is installed as Argo CD expects', () => {
    expect(() => execFileSync(LUA, ['-v'])).not.toThrow();
    const cm = argoConfigMapPatch();
    expect(cm.metadata).toMatchObject({ name: 'argocd-cm', namespace: 'argocd' });
    const ignore = parse((cm.data as Record<string, string>)['resource.customizations.ignoreDifferences.autoscaling_HorizontalPodAutoscaler']!);
    expect(ignore.jsonPointers).toEqual(expect.arrayContaining(['/spec/minReplicas', '/spec/maxReplicas', '/metadata/annotations/karma-hpa.io~1decision']));
  });

  const cases: [string, unknown, string, RegExp][] = [
    ['no status yet', withStatus(undefined), 'Progressing', /waiting for the sidecar to load v1\.0\.0/],
    ['ready for this digest', withStatus({ observedDigest: digest, conditions: [ready] }), 'Healthy', /running v1\.0\.0/],
    ['ready for an older digest', withStatus({ observedDigest: 'sha256:old', observedVersion: '0.9.0', conditions: [ready] }), 'Progressing', /still runs 0\.9\.0/],
    ['refused by the webhook', withStatus({ conditions: [{ type: 'Valid', status: 'False', reason: 'DigestMismatch', message: 'spec.digest does not match' }] }), 'Degraded', /spec\.digest does not match/],
    ['degraded sidecar', withStatus({ observedDigest: digest, conditions: [ready, { type: 'Degraded', status: 'True', reason: 'StaleMetrics' }] }), 'Degraded', /StaleMetrics/],
    ['not ready', withStatus({ conditions: [{ type: 'Ready', status: 'False', message: 'no metrics source' }] }), 'Degraded', /no metrics source/],
    ['paused', withStatus({ observedDigest: digest, conditions: [ready] }, { paused: true }), 'Suspended', /paused/],
  ];
  it.each(cases)('%s', (_label, obj, status, message) => {
    const hs = health(obj);
    expect(hs.status).toBe(status);
    expect(hs.message).toMatch(message);
  });
});
