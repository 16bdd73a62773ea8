import { resolve } from 'node:path';
import type { Command } from '../cli/command.ts';
import { KarmaError } from '../../policies/errors.ts';
import { networkParameterCount, type PolicyBundle } from '../../policies/bundle.ts';
import { checkBundleFile, loadBundleFile } from '../bundle/load.ts';
import { diffBundles, formatBundleDiff } from '../bundle/diff.ts';

const USAGE_HINT = "run 'karma-hpa bundle --help'";

export const bundleCommand: Command = {
  name: 'bundle',
  summary: 'validate a PolicyBundle file (schema + digest) or summarise it',
  usage: 'validate FILE... [--json] | show FILE [--json] | diff OLD NEW [--json]',
  allowPositionals: true,
  options: {
    json: { type: 'boolean', description: 'print machine-readable JSON instead of text' },
  },
  details: `
validate  checks each FILE (JSON or YAML) against the PolicyBundle schema, the consistency of its agents
          (features, normalisation, network sizes) and its digest. Exit code 0 when all are valid, 1 if not.
show      prints the version, digest, guards, targets and agents of a valid bundle.
diff      what changed from OLD to NEW: version, guards, targets, agents (roles, weights, rules), evaluation.

examples:
  karma-hpa bundle validate bundles/prod/shop/bundle.json
  karma-hpa bundle show policies/examples/chained-services.bundle.json`,
  async run(args, io) {
    const [action, ...files] = args.positionals;
    const json = args.values.json === true;
    if (action === 'validate') {
      if (files.length === 0) throw new KarmaError('bundle validate needs at least one FILE', { where: 'karma-hpa bundle', hint: USAGE_HINT });
      const results = files.map((f) => ({ ...checkBundleFile(resolve(io.cwd, f)), file: f }));
      if (json) {
        io.out(`${JSON.stringify(results.map((r) => ({
          file: r.file, ok: r.ok, errors: r.errors,
          ...(r.bundle ? { name: r.bundle.metadata.name, version: r.bundle.spec.version, digest: r.bundle.spec.digest } : {}),
        })), null, 2)}\n`);
      } else {
        for (const r of results) {
          if (r.ok) io.out(`${r.file}: valid PolicyBundle ${r.bundle!.metadata.name} v${r.bundle!.spec.version} (${r.bundle!.spec.digest})\n`);
          else io.err(`${r.file}: invalid PolicyBundle: ${r.errors.length} problem${r.errors.length === 1 ? '' : 's'}\n${r.errors.map((e) => `  - ${e}\n`).join('')}`);
        }
      }
      return results.every((r) => r.ok) ? 0 : 1;
    }
    if (action === 'show') {
      if (files.length !== 1) throw new KarmaError('bundle show needs exactly one FILE', { where: 'karma-hpa bundle', hint: USAGE_HINT });
      const bundle = loadBundleFile(resolve(io.cwd, files[0]!));
      io.out(json ? `${JSON.stringify(bundleSummary(bundle), null, 2)}\n` : formatSummary(bundle));
      return 0;
    }
    if (action === 'diff') {
      if (files.length !== 2) throw new KarmaError('bundle diff needs OLD and NEW', { where: 'karma-hpa bundle', hint: USAGE_HINT });
      const d = diffBundles(loadBundleFile(resolve(io.cwd, files[0]!)), loadBundleFile(resolve(io.cwd, files[1]!)));
      io.out(json ? `${JSON.stringify(d, null, 2)}\n` : formatBundleDiff(d));
      return 0;
    }
    throw new KarmaError(action === undefined ? 'missing action' : `unknown action "${action}"`, { where: 'karma-hpa bundle', hint: `use "validate", "show" or "diff"; ${USAGE_HINT}` });
  },
};

export function bundleSummary(b: PolicyBundle) {
  return {
    name: b.metadata.name,
    namespace: b.metadata.namespace,
    version: b.spec.version,
    digest: b.spec.digest,
    evaluator: b.spec.evaluator,
    paused: b.spec.paused ?? false,
    organisation: b.spec.organisation.name,
    guards: b.spec.guards,
    targets: b.spec.targets.map((t) => `${t.namespace}/${t.hpaName ?? t.service}`),
    agents: b.spec.agents.map((a) => ({
      name: a.name,
      role: a.role,
      services: a.services,
      features: a.observation.features.length,
      network: [a.network.inputs, ...a.network.hidden, a.network.outputs].join('×'),
      parameters: networkParameterCount(a.network),
      rules: a.rules?.length ?? 0,
      ruleFidelity: a.ruleFidelity,
    })),
    scenarios: b.spec.evaluation?.scenarios.length ?? 0,
  };
}

function formatSummary(b: PolicyBundle): string {
  const s = bundleSummary(b);
  const g = s.guards;
  const lines = [
    `PolicyBundle ${s.namespace ? `${s.namespace}/` : ''}${s.name} v${s.version}${s.paused ? ' (paused)' : ''}`,
    `  digest       ${s.digest}`,
    `  evaluator    ${s.evaluator}`,
    `  organisation ${s.organisation}`,
    `  guards       replicas ${g.minReplicas}..${g.maxReplicas}, step ≤ ${g.maxStep}, cooldown ${g.cooldownSeconds}s, fallback on metrics older than ${g.fallback.staleMetricsSeconds}s or confidence < ${g.fallback.minConfidence}, ${g.enforcement}`,
    `  targets      ${s.targets.join(', ')}`,
    '  agents:',
    ...s.agents.map((a) => `    ${a.name.padEnd(22)} ${a.role.padEnd(22)} services ${a.services.join(',')}; network ${a.network} (${a.parameters} weights); ${a.rules} rules${a.ruleFidelity !== undefined ? ` (fidelity ${a.ruleFidelity})` : ''}`),
  ];
  for (const e of b.spec.evaluation?.scenarios ?? []) {
    lines.push(`  evaluation   ${e.scenario} / ${e.method}: success ${(e.successRate * 100).toFixed(1)} %`);
  }
  return `${lines.join('\n')}\n`;
}
