/**
 * What changed between two PolicyBundles, for reviewers: version, guards, targets, agents (roles,
 * services, features, weights, rules) and evaluation metrics. Pure; formatBundleDiff renders Markdown.
 */
import { canonicalJson } from '../../policies/canonical.ts';
import { versionChange, type AgentPolicy, type DistilledRule, type PolicyBundle, type ScenarioEvaluation, type VersionChange } from '../../policies/bundle.ts';

export interface ValueChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface AgentDiff {
  name: string;
  role: { from: string; to: string } | undefined;
  servicesChanged: boolean;
  featuresChanged: boolean;
  normalisationChanged: boolean;
  weightsChanged: boolean;
  rulesAdded: string[];
  rulesRemoved: string[];
}

export interface MetricDelta {
  scenario: string;
  method: string;
  metric: EvaluationMetric;
  from: number | undefined;
  to: number | undefined;
}

export interface BundleDiff {
  name: string;
  version: { from: string | undefined; to: string; change: VersionChange | 'new' };
  digest: { from: string | undefined; to: string };
  settings: ValueChange[];
  guards: ValueChange[];
  targetsAdded: string[];
  targetsRemoved: string[];
  targetsChanged: string[];
  organisationChanged: boolean;
  rolesAdded: string[];
  rolesRemoved: string[];
  agentsAdded: string[];
  agentsRemoved: string[];
  /** Every agent present in both bundles, changed or not (weights yes/no per agent). */
  agents: AgentDiff[];
  evaluation: MetricDelta[];
}

export const EVALUATION_METRICS = ['successRate', 'latencyCompliance', 'pendingRatio', 'recoveryTimeSeconds', 'availability', 'costReplicaSeconds', 'resilience'] as const;
export type EvaluationMetric = (typeof EVALUATION_METRICS)[number];

/** Whether a larger value of the metric is better (for arrows in the report). */
const HIGHER_IS_BETTER: Record<EvaluationMetric, boolean> = {
  successRate: true, latencyCompliance: true, pendingRatio: false, recoveryTimeSeconds: false,
  availability: true, costReplicaSeconds: false, resilience: true,
};

/** A rule as one readable line; rules are compared by this text (support excluded). */
export function ruleText(r: DistilledRule): string {
  const cond = r.conditions.length === 0 ? 'always' : r.conditions.map((c) => `${c.feature} ${c.op} ${c.threshold}`).join(' and ');
  return `if ${cond} then ${r.action > 0 ? '+' : ''}${r.action}`;
}

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, value);
}

function fieldChanges(from: unknown, to: unknown): ValueChange[] {
  const a = new Map<string, unknown>();
  const b = new Map<string, unknown>();
  flatten(from ?? {}, '', a);
  flatten(to ?? {}, '', b);
  const fields = [...new Set([...a.keys(), ...b.keys()])].sort();
  return fields.filter((f) => canonicalJson(a.get(f) ?? null) !== canonicalJson(b.get(f) ?? null)).map((f) => ({ field: f, from: a.get(f), to: b.get(f) }));
}

const targetKey = (t: PolicyBundle['spec']['targets'][number]) => `${t.namespace}/${t.hpaName ?? t.service}`;

function agentDiff(prev: AgentPolicy, next: AgentPolicy): AgentDiff {
  const prevRules = new Set((prev.rules ?? []).map(ruleText));
  const nextRules = new Set((next.rules ?? []).map(ruleText));
  return {
    name: next.name,
    role: prev.role !== next.role ? { from: prev.role, to: next.role } : undefined,
    servicesChanged: canonicalJson(prev.services) !== canonicalJson(next.services),
    featuresChanged: canonicalJson(prev.observation.features) !== canonicalJson(next.observation.features),
    normalisationChanged: canonicalJson([prev.observation.mean, prev.observation.std]) !== canonicalJson([next.observation.mean, next.observation.std]),
    weightsChanged: canonicalJson(prev.network) !== canonicalJson(next.network) || canonicalJson(prev.actions) !== canonicalJson(next.actions),
    rulesAdded: [...nextRules].filter((r) => !prevRules.has(r)),
    rulesRemoved: [...prevRules].filter((r) => !nextRules.has(r)),
  };
}

function evaluationDeltas(prev: ScenarioEvaluation[], next: ScenarioEvaluation[]): MetricDelta[] {
  const key = (e: ScenarioEvaluation) => `${e.scenario}\u0000${e.method}`;
  const before = new Map(prev.map((e) => [key(e), e]));
  const out: MetricDelta[] = [];
  for (const e of next) {
    const p = before.get(key(e));
    for (const metric of EVALUATION_METRICS) {
      const to = e[metric];
      const from = p?.[metric];
      if (to === undefined && from === undefined) continue;
      out.push({ scenario: e.scenario, method: e.method, metric, from, to });
    }
  }
  return out;
}

/** The differences from `previous` (none: a first version) to `next`. */
export function diffBundles(previous: PolicyBundle | undefined, next: PolicyBundle): BundleDiff {
  const p = previous?.spec;
  const n = next.spec;
  const prevTargets = new Map((p?.targets ?? []).map((t) => [targetKey(t), t]));
  const nextTargets = new Map(n.targets.map((t) => [targetKey(t), t]));
  const prevAgents = new Map((p?.agents ?? []).map((a) => [a.name, a]));
  const nextAgents = new Map(n.agents.map((a) => [a.name, a]));
  const prevRoles = new Set((p?.organisation.roles ?? []).map((r) => r.name));
  const nextRoles = new Set(n.organisation.roles.map((r) => r.name));
  return {
    name: next.metadata.name,
    version: { from: p?.version, to: n.version, change: p ? versionChange(p, n) : 'new' },
    digest: { from: p?.digest, to: n.digest },
    settings: p ? fieldChanges({ evaluator: p.evaluator, paused: p.paused ?? false }, { evaluator: n.evaluator, paused: n.paused ?? false }) : [],
    guards: p ? fieldChanges(p.guards, n.guards) : [],
    targetsAdded: [...nextTargets.keys()].filter((k) => !prevTargets.has(k)),
    targetsRemoved: [...prevTargets.keys()].filter((k) => !nextTargets.has(k)),
    targetsChanged: [...nextTargets.keys()].filter((k) => prevTargets.has(k) && canonicalJson(prevTargets.get(k)) !== canonicalJson(nextTargets.get(k))),
    organisationChanged: p !== undefined && canonicalJson(p.organisation) !== canonicalJson(n.organisation),
    rolesAdded: p ? [...nextRoles].filter((r) => !prevRoles.has(r)) : [],
    rolesRemoved: [...prevRoles].filter((r) => !nextRoles.has(r)),
    agentsAdded: p ? [...nextAgents.keys()].filter((a) => !prevAgents.has(a)) : [],
    agentsRemoved: [...prevAgents.keys()].filter((a) => !nextAgents.has(a)),
    agents: [...nextAgents.values()].filter((a) => prevAgents.has(a.name)).map((a) => agentDiff(prevAgents.get(a.name)!, a)),
    evaluation: evaluationDeltas(p?.evaluation?.scenarios ?? [], n.evaluation?.scenarios ?? []),
  };
}

const show = (v: unknown) => (v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

function formatMetric(metric: EvaluationMetric, v: number | undefined): string {
  if (v === undefined) return '—';
  if (metric === 'recoveryTimeSeconds') return `${v.toFixed(1)} s`;
  if (metric === 'costReplicaSeconds') return `${Math.round(v)}`;
  if (metric === 'resilience') return v.toFixed(3);
  return `${(v * 100).toFixed(1)} %`;
}

function formatDelta(d: MetricDelta): string {
  if (d.from === undefined || d.to === undefined) return '';
  const delta = d.to - d.from;
  if (delta === 0) return '±0';
  const better = (delta > 0) === HIGHER_IS_BETTER[d.metric];
  const magnitude = ['recoveryTimeSeconds', 'costReplicaSeconds', 'resilience'].includes(d.metric)
    ? formatMetric(d.metric, Math.abs(delta)).replace(/^/, delta > 0 ? '+' : '−')
    : `${delta > 0 ? '+' : '−'}${(Math.abs(delta) * 100).toFixed(1)} pp`;
  return `${magnitude} ${better ? '(better)' : '(worse)'}`;
}

/** The diff as Markdown, for a pull request body or a report. */
export function formatBundleDiff(d: BundleDiff): string {
  const lines: string[] = [];
  lines.push(d.version.from === undefined
    ? `**${d.name}**: first version **v${d.version.to}**.`
    : d.version.change === 'none'
      ? `**${d.name}**: v${d.version.to}, content unchanged.`
      : `**${d.name}**: v${d.version.from} → **v${d.version.to}** (${d.version.change} change).`);
  lines.push('', `Digest: \`${d.digest.to}\`${d.digest.from && d.digest.from !== d.digest.to ? ` (was \`${d.digest.from}\`)` : ''}`);
  if (d.settings.length > 0 || d.guards.length > 0) {
    lines.push('', '### Guards and settings', '', '| field | before | after |', '| --- | --- | --- |');
    for (const c of d.settings) lines.push(`| ${c.field} | ${show(c.from)} | ${show(c.to)} |`);
    for (const c of d.guards) lines.push(`| guards.${c.field} | ${show(c.from)} | ${show(c.to)} |`);
  } else if (d.version.from !== undefined) lines.push('', 'Guards: unchanged.');
  if (d.targetsAdded.length + d.targetsRemoved.length + d.targetsChanged.length > 0) {
    lines.push('', '### Targets', '');
    if (d.targetsAdded.length > 0) lines.push(`- added: ${d.targetsAdded.join(', ')}`);
    if (d.targetsRemoved.length > 0) lines.push(`- removed: ${d.targetsRemoved.join(', ')}`);
    if (d.targetsChanged.length > 0) lines.push(`- changed: ${d.targetsChanged.join(', ')}`);
  }
  if (d.organisationChanged || d.agentsAdded.length + d.agentsRemoved.length > 0) {
    lines.push('', '### Organisation', '');
    if (d.organisationChanged) lines.push('- the organisation document changed (roles, missions or agent assignment)');
    if (d.rolesAdded.length > 0) lines.push(`- roles added: ${d.rolesAdded.join(', ')}`);
    if (d.rolesRemoved.length > 0) lines.push(`- roles removed: ${d.rolesRemoved.join(', ')}`);
    if (d.agentsAdded.length > 0) lines.push(`- agents added: ${d.agentsAdded.join(', ')}`);
    if (d.agentsRemoved.length > 0) lines.push(`- agents removed: ${d.agentsRemoved.join(', ')}`);
  }
  if (d.agents.length > 0) {
    lines.push('', '### Agents', '', '| agent | role | weights changed | features | rules added | rules removed |', '| --- | --- | --- | --- | --- | --- |');
    for (const a of d.agents) {
      const role = a.role ? `${a.role.from} → ${a.role.to}` : 'same';
      const features = a.featuresChanged ? 'changed' : a.normalisationChanged ? 'normalisation changed' : 'same';
      lines.push(`| ${a.name} | ${role} | ${a.weightsChanged ? 'yes' : 'no'} | ${features} | ${a.rulesAdded.length} | ${a.rulesRemoved.length} |`);
    }
    for (const a of d.agents) {
      if (a.rulesAdded.length + a.rulesRemoved.length === 0) continue;
      lines.push('', `Rules of ${a.name}:`);
      for (const r of a.rulesAdded) lines.push(`- \`+\` ${r}`);
      for (const r of a.rulesRemoved) lines.push(`- \`−\` ${r}`);
    }
  }
  if (d.evaluation.length > 0) {
    lines.push('', '### Evaluation in the twin', '', '| scenario | method | metric | before | after | change |', '| --- | --- | --- | --- | --- | --- |');
    for (const m of d.evaluation) lines.push(`| ${m.scenario} | ${m.method} | ${m.metric} | ${formatMetric(m.metric, m.from)} | ${formatMetric(m.metric, m.to)} | ${formatDelta(m)} |`);
  }
  return `${lines.join('\n')}\n`;
}
