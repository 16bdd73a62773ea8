/**
 * What changed between two PolicyBundles, said the way a pull-request description needs it: which
 * scenarios got better or worse (and whether the change is outside the previous confidence interval),
 * which rules appeared, disappeared or moved a threshold, which agents were retrained, role and guard
 * changes, and whether the version bump matches the content. Builds on the structural diff of
 * generator/bundle/diff.ts. Pure.
 */
import { canonicalJson } from '../../policies/canonical.ts';
import { versionChange, type DistilledRule, type PolicyBundle, type ScenarioEvaluation, type VersionChange } from '../../policies/bundle.ts';
import type { ActionRule } from '../../policies/organisation.ts';
import { diffBundles, EVALUATION_METRICS, type EvaluationMetric } from '../bundle/diff.ts';
import { actionText, conditionText, ruleSentence } from './rules.ts';

export interface MetricChange {
  scenario: string;
  method: string;
  metric: EvaluationMetric;
  from: number | undefined;
  to: number | undefined;
  /** Whether the new value is better; undefined when unchanged or not comparable. */
  better: boolean | undefined;
  /** Success rate only: the new mean lies outside the previous 95 % CI (and the old outside the new). */
  significant: boolean | undefined;
}

export interface RuleChange {
  from: DistilledRule;
  to: DistilledRule;
  /** E.g. "request-rate change > 1.5× → > 1.8×". */
  what: string[];
}

export interface AgentRuleChanges {
  agent: string;
  added: DistilledRule[];
  removed: DistilledRule[];
  changed: RuleChange[];
  fidelity: { from: number | undefined; to: number | undefined };
}

export interface GuideChange {
  role: string;
  added: string[];
  removed: string[];
  changed: string[];
}

export interface GuardChange {
  field: string;
  from: unknown;
  to: unknown;
  meaning: string;
}

export interface BundleChangeExplanation {
  bundle: string;
  version: { from: string; to: string; change: VersionChange; expected: VersionChange; consistent: boolean };
  digest: { from: string; to: string };
  metrics: MetricChange[];
  retrained: string[];
  rules: AgentRuleChanges[];
  roleAssignments: { agent: string; from: string; to: string }[];
  rolesAdded: string[];
  rolesRemoved: string[];
  guides: GuideChange[];
  organisationChanged: boolean;
  agentsAdded: string[];
  agentsRemoved: string[];
  guards: GuardChange[];
  settings: { field: string; from: unknown; to: unknown }[];
  targets: { added: string[]; removed: string[]; changed: string[] };
  /** Things a reviewer must look at even if nothing else changed. */
  warnings: string[];
}

const HIGHER_IS_BETTER: Record<EvaluationMetric, boolean> = {
  successRate: true, latencyCompliance: true, pendingRatio: false, recoveryTimeSeconds: false,
  availability: true, costReplicaSeconds: false, resilience: true,
};

const GUARD_MEANING: Record<string, string> = {
  minReplicas: 'no decision takes a service below this many replicas',
  maxReplicas: 'no decision takes a service above this many replicas',
  maxStep: 'largest replica change one decision may make',
  cooldownSeconds: 'minimum time between two changes of the same HPA',
  'fallback.staleMetricsSeconds': 'metrics older than this hand the HPA back to its base spec',
  'fallback.minConfidence': 'decisions less probable than this hand the HPA back to its base spec',
  enforcement: 'deny: the webhook rejects HPAs outside the guards; warn: it only warns',
};

function ruleSignature(r: DistilledRule): string {
  return `${r.action}|${r.conditions.map((c) => `${c.feature}${c.op}`).sort().join(',')}`;
}

function ruleKey(r: DistilledRule): string {
  return canonicalJson({ a: r.action, c: r.conditions.map((c) => [c.feature, c.op, c.threshold]) });
}

/** Rules added / removed, pairing a removed and an added rule of the same shape as a threshold change. */
export function compareRules(before: readonly DistilledRule[], after: readonly DistilledRule[]): Pick<AgentRuleChanges, 'added' | 'removed' | 'changed'> {
  const beforeKeys = new Set(before.map(ruleKey));
  const afterKeys = new Set(after.map(ruleKey));
  const removed = before.filter((r) => !afterKeys.has(ruleKey(r)));
  const added = after.filter((r) => !beforeKeys.has(ruleKey(r)));
  const changed: RuleChange[] = [];
  const unmatchedRemoved = [...removed];
  const stillAdded: DistilledRule[] = [];
  for (const r of added) {
    const i = unmatchedRemoved.findIndex((o) => ruleSignature(o) === ruleSignature(r));
    if (i < 0) {
      stillAdded.push(r);
      continue;
    }
    const old = unmatchedRemoved.splice(i, 1)[0]!;
    const what: string[] = [];
    for (const c of r.conditions) {
      const o = old.conditions.find((x) => x.feature === c.feature && x.op === c.op)!;
      if (o.threshold !== c.threshold) what.push(`${conditionText(o)} → ${conditionText(c).replace(/^.*? (>|≤|≥|=) /, '$1 ')}`);
    }
    changed.push({ from: old, to: r, what });
  }
  return { added: stillAdded, removed: unmatchedRemoved, changed };
}

function guideChanges(before: PolicyBundle, after: PolicyBundle): GuideChange[] {
  const out: GuideChange[] = [];
  const prevRoles = new Map(before.spec.organisation.roles.map((r) => [r.name, r]));
  for (const role of after.spec.organisation.roles) {
    const prev = prevRoles.get(role.name);
    if (!prev) continue;
    const prevRules = new Map(prev.actionGuide.map((r) => [r.name, r]));
    const nextRules = new Map(role.actionGuide.map((r) => [r.name, r]));
    const added = [...nextRules.keys()].filter((n) => !prevRules.has(n));
    const removed = [...prevRules.keys()].filter((n) => !nextRules.has(n));
    const changed = [...nextRules.keys()].filter((n) => prevRules.has(n) && canonicalJson(prevRules.get(n) as ActionRule) !== canonicalJson(nextRules.get(n) as ActionRule));
    if (added.length + removed.length + changed.length > 0) out.push({ role: role.name, added, removed, changed });
  }
  return out;
}

function metricChanges(before: readonly ScenarioEvaluation[], after: readonly ScenarioEvaluation[]): MetricChange[] {
  const key = (e: ScenarioEvaluation) => `${e.scenario}\u0000${e.method}`;
  const prev = new Map(before.map((e) => [key(e), e]));
  const out: MetricChange[] = [];
  for (const e of [...after].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))) {
    const p = prev.get(key(e));
    for (const metric of EVALUATION_METRICS) {
      const from = p?.[metric];
      const to = e[metric];
      if (from === undefined && to === undefined) continue;
      const better = from === undefined || to === undefined || from === to ? undefined : (to > from) === HIGHER_IS_BETTER[metric];
      let significant: boolean | undefined;
      if (metric === 'successRate' && from !== undefined && to !== undefined && p?.successRateCi95 && e.successRateCi95) {
        significant = (to < p.successRateCi95[0] || to > p.successRateCi95[1]) && (from < e.successRateCi95[0] || from > e.successRateCi95[1]);
      }
      out.push({ scenario: e.scenario, method: e.method, metric, from, to, better, significant });
    }
  }
  return out;
}

export function explainBundleChange(before: PolicyBundle, after: PolicyBundle): BundleChangeExplanation {
  const d = diffBundles(before, after);
  const expected = versionChange(before.spec, after.spec);
  const actual = bumpOf(before.spec.version, after.spec.version);
  const prevAgents = new Map(before.spec.agents.map((a) => [a.name, a]));
  const rules: AgentRuleChanges[] = [];
  for (const a of after.spec.agents) {
    const p = prevAgents.get(a.name);
    if (!p) continue;
    const cmp = compareRules(p.rules ?? [], a.rules ?? []);
    if (cmp.added.length + cmp.removed.length + cmp.changed.length > 0 || p.ruleFidelity !== a.ruleFidelity) {
      rules.push({ agent: a.name, ...cmp, fidelity: { from: p.ruleFidelity, to: a.ruleFidelity } });
    }
  }
  const warnings: string[] = [];
  if (after.spec.evaluator === 'rules') {
    for (const a of after.spec.agents) {
      if (a.ruleFidelity === undefined) warnings.push(`the rules decide (evaluator: rules) but \`${a.name}\` has no measured rule fidelity`);
      else if (a.ruleFidelity < 0.9) warnings.push(`the rules decide (evaluator: rules) but \`${a.name}\`'s rules reproduce only ${(a.ruleFidelity * 100).toFixed(1)} % of its policy's decisions`);
    }
  }
  for (const m of metricChanges(before.spec.evaluation?.scenarios ?? [], after.spec.evaluation?.scenarios ?? [])) {
    if (m.metric === 'successRate' && m.better === false && m.method !== after.spec.evaluation?.baseline) {
      warnings.push(`success rate of \`${m.method}\` in \`${m.scenario}\` went down (${formatMetric(m.metric, m.from)} → ${formatMetric(m.metric, m.to)})`);
    }
  }
  if (after.spec.paused && !before.spec.paused) warnings.push('the bundle is now paused: its agents make no decisions');
  return {
    warnings,
    bundle: after.metadata.name,
    version: { from: before.spec.version, to: after.spec.version, change: actual, expected, consistent: rank(actual) >= rank(expected) },
    digest: { from: before.spec.digest, to: after.spec.digest },
    metrics: metricChanges(before.spec.evaluation?.scenarios ?? [], after.spec.evaluation?.scenarios ?? []),
    retrained: d.agents.filter((a) => a.weightsChanged).map((a) => a.name),
    rules,
    roleAssignments: d.agents.filter((a) => a.role).map((a) => ({ agent: a.name, from: a.role!.from, to: a.role!.to })),
    rolesAdded: d.rolesAdded,
    rolesRemoved: d.rolesRemoved,
    guides: guideChanges(before, after),
    organisationChanged: d.organisationChanged,
    agentsAdded: d.agentsAdded,
    agentsRemoved: d.agentsRemoved,
    guards: d.guards.map((g) => ({ ...g, meaning: GUARD_MEANING[g.field] ?? '' })),
    settings: d.settings,
    targets: { added: d.targetsAdded, removed: d.targetsRemoved, changed: d.targetsChanged },
  };
}

function rank(c: VersionChange): number {
  return { none: 0, patch: 1, minor: 2, major: 3 }[c];
}

/** The bump between two versions: the highest part that changed. */
function bumpOf(from: string, to: string): VersionChange {
  const [a, b] = [from, to].map((v) => v.split('.').map(Number)) as [number[], number[]];
  if (a[0] !== b[0]) return 'major';
  if (a[1] !== b[1]) return 'minor';
  if (a[2] !== b[2]) return 'patch';
  return 'none';
}

// ---- rendering ----------------------------------------------------------------------------------

const WHY: Record<VersionChange, string> = {
  major: 'the organisation or an agent\'s observation changed, or agents came or went',
  minor: 'a policy (network weights, normalisation or actions) changed',
  patch: 'only guards, targets, rules, evaluation or other settings changed',
  none: 'the content is the same',
};

function formatMetric(metric: EvaluationMetric, v: number | undefined): string {
  if (v === undefined) return '—';
  if (metric === 'recoveryTimeSeconds') return `${v.toFixed(1)} s`;
  if (metric === 'costReplicaSeconds') return String(Math.round(v));
  if (metric === 'resilience') return v.toFixed(3);
  return `${(v * 100).toFixed(1)} %`;
}

function formatDelta(m: MetricChange): string {
  if (m.from === undefined || m.to === undefined) return m.from === undefined ? 'new' : 'dropped';
  const delta = m.to - m.from;
  if (delta === 0) return 'unchanged';
  const sign = delta > 0 ? '+' : '−';
  const size = ['recoveryTimeSeconds', 'costReplicaSeconds', 'resilience'].includes(m.metric)
    ? formatMetric(m.metric, Math.abs(delta))
    : `${(Math.abs(delta) * 100).toFixed(1)} pp`;
  const verdict = m.better ? 'better' : 'worse';
  const sig = m.significant === undefined ? '' : m.significant ? ', outside both 95 % CIs' : ', within the 95 % CIs';
  return `${sign}${size} (${verdict}${sig})`;
}

const METRIC_LABEL: Record<EvaluationMetric, string> = {
  successRate: 'success rate', latencyCompliance: 'latency compliance', pendingRatio: 'pending ratio',
  recoveryTimeSeconds: 'recovery time', availability: 'availability', costReplicaSeconds: 'cost (replica·s)', resilience: 'resilience',
};

function show(v: unknown): string {
  return v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v);
}

/** Markdown for a pull-request description. */
export function renderBundleChange(e: BundleChangeExplanation): string {
  const lines: string[] = [];
  lines.push(`## PolicyBundle \`${e.bundle}\`: v${e.version.from} → v${e.version.to}`, '');
  const bump = e.version.change === 'none' ? 'no version bump' : `${e.version.change} version bump`;
  lines.push(e.version.consistent
    ? `- **Version**: ${bump} — ${WHY[e.version.expected]}.`
    : `- **Version**: ${bump}, but the content needs a **${e.version.expected}** bump (${WHY[e.version.expected]}). Rebuild the bundle so the version follows its content.`);
  const moved = e.metrics.filter((m) => m.metric === 'successRate' && m.better !== undefined);
  if (moved.length > 0) {
    for (const m of moved) lines.push(`- **${m.scenario}** (${m.method}): success rate ${formatMetric(m.metric, m.from)} → ${formatMetric(m.metric, m.to)}, ${formatDelta(m)}.`);
  } else if (e.metrics.length > 0) lines.push('- **Success rate**: unchanged in every evaluated scenario.');
  if (e.retrained.length > 0) lines.push(`- **Retrained**: ${e.retrained.map((a) => `\`${a}\``).join(', ')} (new network weights).`);
  const ruleCount = e.rules.reduce((n, r) => n + r.added.length + r.removed.length + r.changed.length, 0);
  if (ruleCount > 0) lines.push(`- **Rules**: ${e.rules.reduce((n, r) => n + r.added.length, 0)} added, ${e.rules.reduce((n, r) => n + r.removed.length, 0)} removed, ${e.rules.reduce((n, r) => n + r.changed.length, 0)} changed.`);
  if (e.roleAssignments.length + e.rolesAdded.length + e.rolesRemoved.length + e.guides.length > 0) {
    lines.push(`- **Roles**: ${[
      ...e.roleAssignments.map((r) => `\`${r.agent}\` is now \`${r.to}\` (was \`${r.from}\`)`),
      ...e.rolesAdded.map((r) => `role \`${r}\` added`),
      ...e.rolesRemoved.map((r) => `role \`${r}\` removed`),
      ...e.guides.map((g) => `Action Guide of \`${g.role}\` changed`),
    ].join('; ')}.`);
  }
  if (e.agentsAdded.length + e.agentsRemoved.length > 0) lines.push(`- **Agents**: ${[...e.agentsAdded.map((a) => `\`${a}\` added`), ...e.agentsRemoved.map((a) => `\`${a}\` removed`)].join('; ')}.`);
  if (e.guards.length > 0) lines.push(`- **Guards**: ${e.guards.map((g) => `${g.field} ${show(g.from)} → ${show(g.to)}`).join('; ')}.`);
  if (e.targets.added.length + e.targets.removed.length + e.targets.changed.length > 0) {
    lines.push(`- **Targets**: ${[...e.targets.added.map((t) => `${t} added`), ...e.targets.removed.map((t) => `${t} removed`), ...e.targets.changed.map((t) => `${t} changed`)].join('; ')}.`);
  }
  if (e.warnings.length > 0) lines.push('', '> [!WARNING]', ...e.warnings.map((w) => `> - ${w}`));
  lines.push('', `Digest \`${e.digest.from}\` → \`${e.digest.to}\`.`);

  if (e.metrics.length > 0) {
    lines.push('', '### Evaluation in the twin', '', '| scenario | method | metric | before | after | change |', '| --- | --- | --- | --- | --- | --- |');
    for (const m of e.metrics) lines.push(`| ${m.scenario} | ${m.method} | ${METRIC_LABEL[m.metric]} | ${formatMetric(m.metric, m.from)} | ${formatMetric(m.metric, m.to)} | ${formatDelta(m)} |`);
  }
  if (e.rules.length > 0) {
    lines.push('', '### Distilled rules');
    for (const r of e.rules) {
      const fid = r.fidelity.from === r.fidelity.to ? '' : ` — fidelity ${r.fidelity.from === undefined ? '—' : `${(r.fidelity.from * 100).toFixed(1)} %`} → ${r.fidelity.to === undefined ? '—' : `${(r.fidelity.to * 100).toFixed(1)} %`}`;
      lines.push('', `**\`${r.agent}\`**${fid}`, '');
      for (const x of r.added) lines.push(`- added: ${ruleSentence(x)}`);
      for (const x of r.removed) lines.push(`- removed: ${ruleSentence(x)}`);
      for (const x of r.changed) lines.push(`- changed (${actionText(x.to.action)}): ${x.what.join('; ')}`);
    }
  }
  if (e.guides.length > 0) {
    lines.push('', '### Role Action Guides');
    for (const g of e.guides) {
      lines.push('', `**\`${g.role}\`**: ${[...g.added.map((n) => `rule \`${n}\` added`), ...g.removed.map((n) => `rule \`${n}\` removed`), ...g.changed.map((n) => `rule \`${n}\` changed`)].join('; ')}`);
    }
  }
  if (e.guards.length + e.settings.length > 0) {
    lines.push('', '### Guards and settings', '', '| field | before | after | what it means |', '| --- | --- | --- | --- |');
    for (const g of e.guards) lines.push(`| guards.${g.field} | ${show(g.from)} | ${show(g.to)} | ${g.meaning} |`);
    for (const s of e.settings) lines.push(`| ${s.field} | ${show(s.from)} | ${show(s.to)} | ${s.field === 'evaluator' ? 'network: the agents\' networks decide; rules: the distilled rules decide' : s.field === 'paused' ? 'paused bundles make no decisions' : ''} |`);
  }
  return `${lines.join('\n')}\n`;
}

