/**
 * The sidecar's decisions, as pure functions of plain data: which replica change each agent wants for
 * each of its services (evaluateAgents), and what that means for one HPA given its base spec, the
 * bundle's guards, the freshness of the metrics and the cooldown (planHpa). No I/O, no clock.
 */
import type { BundleTarget, Guards, PolicyBundle, AgentPolicy } from '../../policies/bundle.ts';
import { evaluateAgent, evaluateRules } from '../../policies/evaluator.ts';
import { buildObservation, normaliseObservation } from '../../policies/observation.ts';
import { roleActionMask, DEFAULT_ACTIONS, type Organisation } from '../../policies/organisation.ts';
import { applyDecision, combineDecisions, inCooldown, type HpaBounds } from '../../policies/decision.ts';
import { hpaBaseDrift } from '../../policies/hpa-base.ts';
import {
  BASE_SPEC_ANNOTATION, BUNDLE_ANNOTATION, DECISION_ANNOTATION, PAUSED_ANNOTATION, bundleReference, formatBaseSpec, formatDecision,
  parseBaseSpec, parseDecision, type DecisionAnnotation,
} from '../../policies/annotations.ts';
import type { ClusterSnapshot } from '../../policies/snapshot.ts';
import type { HpaChange, HpaObject } from './cluster-port.ts';

/** One agent's choice for one of its services. */
export type AgentVerdict =
  | { available: true; agent: string; role: string; service: string; replicaChange: number; confidence: number; reason: string }
  | { available: false; agent: string; role: string; service: string; problem: string };

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** The features that stood out most (largest |z| after normalisation), in words. */
function salientFeatures(agent: AgentPolicy, raw: Float32Array, count: number): string {
  const z = normaliseObservation(Float32Array.from(raw), agent.observation.mean, agent.observation.std);
  return [...z.keys()].sort((a, b) => Math.abs(z[b]!) - Math.abs(z[a]!)).slice(0, count)
    .map((i) => `${agent.observation.features[i]}=${fmt(raw[i]!)} (${z[i]! >= 0 ? '+' : ''}${z[i]!.toFixed(1)}σ)`).join(', ');
}

function ruleInWords(agent: AgentPolicy, raw: Float32Array, replicaChange: number, mask: Uint8Array, actions: readonly number[]): string {
  const index = new Map(agent.observation.features.map((f, i) => [f, i]));
  for (const rule of agent.rules ?? []) {
    const i = actions.indexOf(rule.action);
    if (i < 0 || !mask[i]) continue;
    const holds = rule.conditions.every((c) => {
      const v = raw[index.get(c.feature) ?? -1];
      return v !== undefined && (c.op === '<=' ? v <= c.threshold : v > c.threshold);
    });
    if (holds) {
      const when = rule.conditions.map((c) => `${c.feature} ${fmt(raw[index.get(c.feature)!]!)} ${c.op} ${fmt(c.threshold)}`).join(' and ');
      return `rule ${when || '(always)'} → ${signed(rule.action)}`;
    }
  }
  return `no rule applies → ${signed(replicaChange)}`;
}

/**
 * Evaluate every agent of a bundle on the snapshot history (oldest first): for each of its services,
 * the observation focused on that service, the role's action mask, then the network or the rules.
 */
export function evaluateAgents(bundle: PolicyBundle, history: readonly ClusterSnapshot[]): AgentVerdict[] {
  const snapshot = history[history.length - 1];
  const organisation = bundle.spec.organisation as unknown as Organisation;
  const out: AgentVerdict[] = [];
  for (const agent of bundle.spec.agents) {
    const actions = agent.actions ?? DEFAULT_ACTIONS;
    const role = organisation.roles?.find((r) => r.name === agent.role);
    for (const service of agent.services) {
      const base = { agent: agent.name, role: agent.role, service };
      if (!snapshot || !snapshot.services[service]) {
        out.push({ ...base, available: false, problem: `no metrics for service ${service}` });
        continue;
      }
      const services = [service, ...agent.services.filter((s) => s !== service && snapshot.services[s] !== undefined)];
      try {
        const raw = buildObservation(snapshot, services, agent.observation.features);
        const mask = role ? roleActionMask(role, history.filter((h) => services.every((s) => h.services[s])), services, actions) : new Uint8Array(actions.length).fill(1);
        const decision = bundle.spec.evaluator === 'rules' ? evaluateRules(agent, raw, mask) : evaluateAgent(agent, raw, mask);
        const allowed = actions.filter((_, i) => mask[i]);
        const masked = allowed.length < actions.length ? `; role ${agent.role} allows ${allowed.map(signed).join(',')}` : '';
        const why = bundle.spec.evaluator === 'rules'
          ? ruleInWords(agent, raw, decision.replicaChange, mask, actions)
          : `network p=${decision.confidence.toFixed(2)}; ${salientFeatures(agent, raw, 3)}`;
        out.push({ ...base, available: true, replicaChange: decision.replicaChange, confidence: decision.confidence, reason: `${why}${masked}` });
      } catch (e) {
        out.push({ ...base, available: false, problem: `cannot evaluate: ${(e as Error).message.split('\n')[0]}` });
      }
    }
  }
  return out;
}

export type PlanKind = 'apply' | 'fallback' | 'hold' | 'paused' | 'unchanged';
export type FallbackCause = 'stale_metrics' | 'missing_metrics' | 'low_confidence' | 'invalid_bundle' | 'no_bundle';

export interface HpaPlan {
  kind: PlanKind;
  fallbackCause?: FallbackCause;
  /** Bounds the HPA should have. */
  bounds: HpaBounds;
  /** Fields to write, when they differ from the HPA as read. */
  change?: HpaChange;
  decision?: DecisionAnnotation;
  agent: string;
  role: string;
  replicaChange: number;
  /** One readable sentence: the Event message and the log line. */
  message: string;
  /** Changes only when the decision does, so repeated ticks do not repeat Events. */
  signature: string;
}

export interface PlanInput {
  hpa: HpaObject;
  nowMs: number;
  /** The bundle governing the HPA, undefined when only an invalid one names it. */
  bundle: PolicyBundle | undefined;
  /** Why the bundle naming this HPA was refused (digest or schema), when it was. */
  bundleProblem?: string;
  /** The bundle named by the HPA's bundle annotation no longer exists. */
  bundleGone?: boolean;
  target: BundleTarget | undefined;
  guards: Guards | undefined;
  verdicts: AgentVerdict[];
  health: { ageSeconds: number; missing: string[] } | undefined;
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Plan what to do with one HPA this tick. */
export function planHpa(input: PlanInput): HpaPlan {
  const { hpa, nowMs, bundle, guards } = input;
  const annotations = hpa.metadata.annotations ?? {};
  const current = { minReplicas: hpa.spec.minReplicas ?? 1, maxReplicas: hpa.spec.maxReplicas };
  const parsedBase = annotations[BASE_SPEC_ANNOTATION] !== undefined ? parseBaseSpec(annotations[BASE_SPEC_ANNOTATION]) : undefined;
  // Without a base-spec annotation the HPA has never been changed by karma-hpa: its spec is the base.
  const base = parsedBase?.ok ? { minReplicas: (parsedBase.value.minReplicas as number | undefined) ?? 1, maxReplicas: parsedBase.value.maxReplicas as number } : current;
  const baseAnnotation: Record<string, string> = parsedBase?.ok ? {} : { [BASE_SPEC_ANNOTATION]: formatBaseSpec(hpa.spec) };
  const bundleRef = bundle ? bundleReference(bundle.metadata.namespace ?? hpa.metadata.namespace ?? 'default', bundle.metadata.name, bundle.spec.version) : undefined;
  const previous = annotations[DECISION_ANNOTATION] !== undefined ? parseDecision(annotations[DECISION_ANNOTATION]) : undefined;

  const same = (b: HpaBounds) => b.minReplicas === current.minReplicas && b.maxReplicas === current.maxReplicas;
  const decisionFor = (agent: string, role: string, replicaChange: number, bounds: HpaBounds, reason: string): DecisionAnnotation => ({
    bundle: bundle ? `${bundle.metadata.namespace ?? hpa.metadata.namespace}/${bundle.metadata.name}` : (annotations[BUNDLE_ANNOTATION]?.split('@')[0] ?? 'unknown'),
    bundleVersion: bundle?.spec.version ?? 'none',
    agent, role, replicaChange, minReplicas: bounds.minReplicas, maxReplicas: bounds.maxReplicas, reason, time: rfc3339(nowMs),
  });
  const changeFor = (decision: DecisionAnnotation, bounds: HpaBounds): HpaChange => ({
    resourceVersion: hpa.metadata.resourceVersion,
    minReplicas: bounds.minReplicas,
    maxReplicas: bounds.maxReplicas,
    annotations: { ...baseAnnotation, [DECISION_ANNOTATION]: formatDecision(decision), ...(bundleRef ? { [BUNDLE_ANNOTATION]: bundleRef } : {}) },
  });
  const boundsText = (b: HpaBounds) => `minReplicas ${b.minReplicas}${b.minReplicas !== current.minReplicas ? ` (was ${current.minReplicas})` : ''}, maxReplicas ${b.maxReplicas}${b.maxReplicas !== current.maxReplicas ? ` (was ${current.maxReplicas})` : ''}`;
  // Decisions on an HPA other than the one the agents were trained on say so in every message.
  const drift = bundle?.spec.hpaBase ? hpaBaseDrift(bundle.spec.hpaBase, hpa.spec) : [];
  const versionText = `${bundleRef ? ` [bundle ${bundleRef}]` : ''}${drift.length > 0 ? ` [HPA spec differs from the one the agents were trained on: ${drift.join('; ')}]` : ''}`;

  if (annotations[PAUSED_ANNOTATION] === 'true' || bundle?.spec.paused === true) {
    const why = annotations[PAUSED_ANNOTATION] === 'true' ? `annotation ${PAUSED_ANNOTATION}` : 'spec.paused of the bundle';
    return { kind: 'paused', bounds: current, agent: '-', role: '-', replicaChange: 0, message: `paused by ${why}: no decisions; the native HPA scales alone${versionText}`, signature: `paused|${why}` };
  }

  const fallback = (cause: FallbackCause, why: string): HpaPlan => {
    const reason = `fallback to the base spec: ${why}`;
    // With guards, the base goes through the same mapping as the webhook's (change 0: the base within
    // the guards), so the webhook never takes the sidecar's fallback for a new base and undoes it.
    // Without a valid bundle nothing guards the HPA and the base spec applies as it is.
    const bounds = guards ? applyDecision(base, hpa.status?.currentReplicas ?? current.minReplicas, 0, guards) : base;
    const decision = decisionFor('fallback', 'none', 0, bounds, reason);
    return {
      kind: 'fallback', fallbackCause: cause, bounds, agent: 'fallback', role: 'none', replicaChange: 0,
      ...(same(bounds) ? {} : { change: changeFor(decision, bounds), decision }),
      message: `${reason}; ${boundsText(bounds)}${versionText}`,
      signature: `fallback|${cause}|${bounds.minReplicas}|${bounds.maxReplicas}`,
    };
  };

  if (input.bundleGone) return fallback('no_bundle', `the bundle ${annotations[BUNDLE_ANNOTATION] ?? ''} no longer exists`);
  if (!bundle || !guards || !input.target) return fallback('invalid_bundle', `the bundle was refused (${input.bundleProblem ?? 'no valid bundle governs this HPA'})`);
  const service = input.target.service;
  const health = input.health;
  if (!health || health.missing.length > 0) return fallback('missing_metrics', `metrics for ${service} are missing (${health?.missing.join('; ') ?? 'not collected'})`);
  if (health.ageSeconds > guards.fallback.staleMetricsSeconds) {
    return fallback('stale_metrics', `metrics for ${service} are ${Math.round(health.ageSeconds)} s old (limit ${guards.fallback.staleMetricsSeconds} s)`);
  }
  const verdicts = input.verdicts.filter((v) => v.service === service);
  const usable = verdicts.filter((v): v is Extract<AgentVerdict, { available: true }> => v.available);
  if (usable.length === 0) {
    const problems = verdicts.map((v) => (v.available ? '' : `${v.agent}: ${v.problem}`)).filter(Boolean);
    return fallback('missing_metrics', problems.length > 0 ? problems.join('; ') : `no agent decides for ${service}`);
  }
  const confidence = Math.max(...usable.map((v) => v.confidence));
  if (confidence < guards.fallback.minConfidence) {
    return fallback('low_confidence', `the agents' confidence ${confidence.toFixed(2)} is below ${guards.fallback.minConfidence}`);
  }

  // Combined as in training: the organisation's tie rounding travels in the bundle.
  const ties = (bundle?.spec.organisation as unknown as Organisation | undefined)?.combination?.ties;
  const replicaChange = combineDecisions(usable.map((v) => v.replicaChange), guards.maxStep, ties);
  // The agent credited is the one whose own change weighs most in the combined decision.
  const lead = [...usable].sort((a, b) => Math.abs(b.replicaChange) - Math.abs(a.replicaChange) || b.confidence - a.confidence)[0]!;
  const currentReplicas = hpa.status?.currentReplicas ?? current.minReplicas;
  const bounds = applyDecision(base, currentReplicas, replicaChange, guards);
  const others = usable.filter((v) => v !== lead && v.replicaChange !== 0).map((v) => `${v.agent} ${signed(v.replicaChange)}`);
  const reason = `${lead.agent} (${lead.role}) ${signed(replicaChange)} for ${service} at ${currentReplicas} replicas: ${lead.reason}${others.length > 0 ? `; also ${others.join(', ')}` : ''}`;
  const signature = `decide|${lead.agent}|${replicaChange}|${bounds.minReplicas}|${bounds.maxReplicas}`;
  if (same(bounds)) {
    return { kind: 'unchanged', bounds, agent: lead.agent, role: lead.role, replicaChange, message: `${reason}; keeps ${boundsText(bounds)}${versionText}`, signature };
  }
  const lastTime = previous?.ok ? Date.parse(previous.value.time) : NaN;
  if (inCooldown(lastTime / 1000, nowMs / 1000, guards.cooldownSeconds)) {
    const ago = Math.round((nowMs - lastTime) / 1000);
    return {
      kind: 'hold', bounds: current, agent: lead.agent, role: lead.role, replicaChange,
      message: `cooldown: ${reason} would set ${boundsText(bounds)}, but the last change was ${ago} s ago (cooldown ${guards.cooldownSeconds} s)${versionText}`,
      signature: `hold|${signature}`,
    };
  }
  const decision = decisionFor(lead.agent, lead.role, replicaChange, bounds, reason);
  return { kind: 'apply', bounds, change: changeFor(decision, bounds), decision, agent: lead.agent, role: lead.role, replicaChange, message: `${reason}; sets ${boundsText(bounds)}${versionText}`, signature };
}
