/**
 * The PolicyBundle: the contract between the generator and the in-cluster side. Types here mirror
 * policies/schema/policy-bundle.schema.json (the single source); test/unit/bundle/types.test.ts keeps
 * the two in step by validating a fully populated, type-checked bundle and comparing field names.
 */
import { canonicalJson, digestOf } from './canonical.ts';
import { decodeWeights } from './network.ts';
import type { Organisation } from './organisation.ts';
import { describeSchemaErrors, registerSchema, validatorFor, type Source } from './documents.ts';
import organisationSchema from './schema/organisation.schema.json' with { type: 'json' };
import bundleSchema from './schema/policy-bundle.schema.json' with { type: 'json' };

// spec.organisation is a `$ref` to the organisation schema by its $id.
registerSchema(organisationSchema);

export const POLICY_BUNDLE_API_VERSION = 'karma-hpa.io/v1alpha1';
export const POLICY_BUNDLE_KIND = 'PolicyBundle';
export { bundleSchema as policyBundleSchema };

export interface FallbackGuards {
  staleMetricsSeconds: number;
  minConfidence: number;
}

export interface Guards {
  minReplicas: number;
  maxReplicas: number;
  maxStep: number;
  cooldownSeconds: number;
  fallback: FallbackGuards;
  enforcement: 'deny' | 'warn';
}

export interface GuardsOverride {
  minReplicas?: number;
  maxReplicas?: number;
  maxStep?: number;
  cooldownSeconds?: number;
  fallback?: Partial<FallbackGuards>;
  enforcement?: 'deny' | 'warn';
}

export interface BundleTarget {
  service: string;
  namespace: string;
  hpaName?: string;
  selector?: { matchLabels: Record<string, string> };
  guards?: GuardsOverride;
}

export interface RuleCondition {
  feature: string;
  op: '<=' | '>';
  threshold: number;
}

export interface DistilledRule {
  conditions: RuleCondition[];
  action: number;
  support: number;
}

export interface AgentNetwork {
  inputs: number;
  hidden: number[];
  outputs: number;
  activation: 'relu' | 'tanh';
  /** base64 of little-endian float32: per layer W (out×in, row-major) then b. */
  weights: string;
}

export interface AgentObservation {
  features: string[];
  mean: number[];
  std: number[];
}

export interface AgentPolicy {
  name: string;
  role: string;
  services: string[];
  observation: AgentObservation;
  network: AgentNetwork;
  actions: number[];
  rules?: DistilledRule[];
  ruleFidelity?: number;
}

export interface Provenance {
  generatorVersion: string;
  twinDigest: string;
  traceDigests: string[];
  organisationDigest: string;
  seeds: number[];
}

export interface ScenarioEvaluation {
  scenario: string;
  method: string;
  seeds?: number;
  successRate: number;
  successRateCi95?: [number, number];
  latencyCompliance?: number;
  pendingRatio?: number;
  recoveryTimeSeconds?: number;
  availability?: number;
  costReplicaSeconds?: number;
  resilience?: number;
  /** Services that ran saturated at their replica ceiling, largest first (absent: none did, or not measured). */
  saturatedAtCeiling?: CeilingSaturation[];
}

/** Seconds per episode (mean over seeds) a service's load reached 85 % of what its pods serve while it ran maxReplicas pods. */
export interface CeilingSaturation {
  service: string;
  seconds: number;
}

export interface EvaluationSummary {
  baseline?: string;
  scenarios: ScenarioEvaluation[];
}

/** The organisation document (roles, missions, agent → role → services), policies/schema/organisation.schema.json. */
export type OrganisationDocument = Organisation;

export interface PolicyBundleSpec {
  version: string;
  digest: string;
  description?: string;
  paused?: boolean;
  evaluator: 'network' | 'rules';
  targets: BundleTarget[];
  guards: Guards;
  organisation: OrganisationDocument;
  agents: AgentPolicy[];
  provenance: Provenance;
  evaluation?: EvaluationSummary;
  /** The HPA spec the agents were trained to act through (see the schema). */
  hpaBase?: HpaBase;
}

export interface HpaScalingRules {
  stabilizationWindowSeconds?: number;
  selectPolicy?: 'Max' | 'Min' | 'Disabled';
  policies?: { type: 'Pods' | 'Percent'; value: number; periodSeconds: number }[];
}

export interface HpaBase {
  source: 'tuned-hpa';
  cpuTargetPercent: number;
  behavior?: { scaleUp?: HpaScalingRules; scaleDown?: HpaScalingRules };
}

export interface BundleCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export interface PolicyBundleStatus {
  observedDigest?: string;
  observedVersion?: string;
  conditions?: BundleCondition[];
}

export interface PolicyBundleMetadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface PolicyBundle {
  apiVersion: typeof POLICY_BUNDLE_API_VERSION;
  kind: typeof POLICY_BUNDLE_KIND;
  metadata: PolicyBundleMetadata;
  spec: PolicyBundleSpec;
  status?: PolicyBundleStatus;
}

export type UnsealedSpec = Omit<PolicyBundleSpec, 'digest'> & { digest?: string };
export type UnsealedPolicyBundle = Omit<PolicyBundle, 'spec'> & { spec: UnsealedSpec };

export type BundleValidation = { ok: true; bundle: PolicyBundle } | { ok: false; errors: string[] };

/** The digest a spec must carry: sha256 of the canonical JSON of the spec without `digest`. */
export function specDigest(spec: UnsealedSpec): string {
  const { digest: _ignored, ...rest } = spec;
  return digestOf(rest);
}

/** Seal a bundle (or a bare spec): compute and set `spec.digest`; a bundle's status is left out. Does not modify its argument. */
export function sealBundle(bundle: UnsealedPolicyBundle): PolicyBundle;
export function sealBundle(spec: UnsealedSpec): PolicyBundleSpec;
export function sealBundle(x: UnsealedPolicyBundle | UnsealedSpec): PolicyBundle | PolicyBundleSpec {
  if ('spec' in x && 'kind' in x) {
    const { status: _status, ...rest } = x as UnsealedPolicyBundle;
    return { ...rest, spec: sealSpec((x as UnsealedPolicyBundle).spec) } as PolicyBundle;
  }
  return sealSpec(x as UnsealedSpec);
}

function sealSpec(spec: UnsealedSpec): PolicyBundleSpec {
  const { digest: _ignored, ...rest } = spec;
  // Key order of the result follows canonical order so the pretty file reads the same as the digest input.
  return JSON.parse(canonicalJson({ ...rest, digest: specDigest(spec) })) as PolicyBundleSpec;
}

/** Number of float32 parameters of a dense network: Σ (in·out + out) over layers. */
export function networkParameterCount(net: Pick<AgentNetwork, 'inputs' | 'hidden' | 'outputs'>): number {
  const sizes = [net.inputs, ...net.hidden, net.outputs];
  let n = 0;
  for (let i = 1; i < sizes.length; i++) n += sizes[i - 1]! * sizes[i]! + sizes[i]!;
  return n;
}


/**
 * Schema + consistency + digest. Errors are one line each, starting with the field path (and the
 * line:col when `source.locate` knows the text), so a person can find the field.
 */
export function validateBundle(obj: unknown, source?: Source): BundleValidation {
  const validate = validatorFor(bundleSchema);
  if (!validate(obj)) return { ok: false, errors: describeSchemaErrors(validate.errors ?? [], source) };
  const bundle = obj as PolicyBundle;
  const errors = consistencyErrors(bundle.spec).map(([pointer, msg]) => {
    const at = source?.locate?.(pointer);
    return `${pointer}${at ? ` (line ${at})` : ''}: ${msg}`;
  });
  if (errors.length > 0) return { ok: false, errors };
  const expected = specDigest(bundle.spec);
  if (bundle.spec.digest !== expected) {
    const at = source?.locate?.('/spec/digest');
    return {
      ok: false,
      errors: [`/spec/digest${at ? ` (line ${at})` : ''}: does not match the content (expected ${expected}); the bundle was changed after it was sealed`],
    };
  }
  return { ok: true, bundle };
}

/** Facts the schema cannot state: array lengths agree, names are unique, bounds are ordered. */
function consistencyErrors(spec: PolicyBundleSpec): [string, string][] {
  const out: [string, string][] = [];
  const g = spec.guards;
  if (g.minReplicas > g.maxReplicas) out.push(['/spec/guards/minReplicas', `${g.minReplicas} is above maxReplicas ${g.maxReplicas}`]);
  const names = new Set<string>();
  spec.agents.forEach((a, i) => {
    const at = `/spec/agents/${i}`;
    if (names.has(a.name)) out.push([`${at}/name`, `agent name "${a.name}" is used twice`]);
    names.add(a.name);
    const nFeatures = a.observation.features.length;
    if (a.observation.mean.length !== nFeatures) out.push([`${at}/observation/mean`, `has ${a.observation.mean.length} values for ${nFeatures} features`]);
    if (a.observation.std.length !== nFeatures) out.push([`${at}/observation/std`, `has ${a.observation.std.length} values for ${nFeatures} features`]);
    if (a.network.inputs !== nFeatures) out.push([`${at}/network/inputs`, `is ${a.network.inputs} but the observation has ${nFeatures} features`]);
    if (a.network.outputs !== a.actions.length) out.push([`${at}/network/outputs`, `is ${a.network.outputs} but there are ${a.actions.length} actions`]);
    const expectedBytes = networkParameterCount(a.network) * 4;
    const bytes = Buffer.from(a.network.weights, 'base64').length;
    if (bytes !== expectedBytes) out.push([`${at}/network/weights`, `holds ${bytes} bytes; a ${[a.network.inputs, ...a.network.hidden, a.network.outputs].join('×')} network needs ${expectedBytes}`]);
    else {
      const bad = decodeWeights(a.network.weights).findIndex((w) => !Number.isFinite(w));
      if (bad >= 0) out.push([`${at}/network/weights`, `weight ${bad} is not a finite number (training diverged?)`]);
    }
    const known = new Set(a.observation.features);
    (a.rules ?? []).forEach((r, j) => r.conditions.forEach((c, k) => {
      if (!known.has(c.feature)) out.push([`${at}/rules/${j}/conditions/${k}/feature`, `"${c.feature}" is not one of the agent's observation features`]);
    }));
  });
  spec.targets.forEach((t, i) => {
    const lo = t.guards?.minReplicas ?? g.minReplicas;
    const hi = t.guards?.maxReplicas ?? g.maxReplicas;
    if (lo > hi) out.push([`/spec/targets/${i}/guards`, `minReplicas ${lo} is above maxReplicas ${hi} after merging with spec.guards`]);
  });
  return out;
}

/** The HPA as the webhook and sidecar see it. */
export interface HpaIdentity {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
}

/**
 * The target governing an HPA: an exact `hpaName` match wins, then a label selector match, then a
 * target without either whose service is named like the HPA. Namespaces must agree.
 */
export function targetFor(bundle: PolicyBundle, hpa: HpaIdentity): BundleTarget | undefined {
  const inNamespace = bundle.spec.targets.filter((t) => t.namespace === hpa.namespace);
  const byName = inNamespace.find((t) => t.hpaName === hpa.name);
  if (byName) return byName;
  const labels = hpa.labels ?? {};
  const bySelector = inNamespace.find((t) => t.hpaName === undefined && t.selector !== undefined
    && Object.entries(t.selector.matchLabels).every(([k, v]) => labels[k] === v));
  if (bySelector) return bySelector;
  return inNamespace.find((t) => t.hpaName === undefined && t.selector === undefined && t.service === hpa.name);
}

/** spec.guards with the target's own guards laid over it, field by field. */
export function guardsFor(bundle: PolicyBundle, target: BundleTarget | undefined): Guards {
  const base = bundle.spec.guards;
  const o = target?.guards ?? {};
  return {
    minReplicas: o.minReplicas ?? base.minReplicas,
    maxReplicas: o.maxReplicas ?? base.maxReplicas,
    maxStep: o.maxStep ?? base.maxStep,
    cooldownSeconds: o.cooldownSeconds ?? base.cooldownSeconds,
    fallback: {
      staleMetricsSeconds: o.fallback?.staleMetricsSeconds ?? base.fallback.staleMetricsSeconds,
      minConfidence: o.fallback?.minConfidence ?? base.fallback.minConfidence,
    },
    enforcement: o.enforcement ?? base.enforcement,
  };
}

/** Semantic version parts; the schema guarantees the shape. */
function parseVersion(v: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  if (!m) throw new RangeError(`"${v}" is not a MAJOR.MINOR.PATCH version`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export const FIRST_VERSION = '1.0.0';

/** What changed between two specs, in the terms the versioning rules use. */
export type VersionChange = 'none' | 'patch' | 'minor' | 'major';

/**
 * How a new spec differs from the previous one: major when the organisation or any agent's observation
 * features change (or agents come and go), minor when a policy (network, normalisation, actions)
 * changes, patch for anything else, none when the content is the same.
 */
export function versionChange(previous: UnsealedSpec, next: UnsealedSpec): VersionChange {
  if (canonicalJson(previous.organisation) !== canonicalJson(next.organisation)) return 'major';
  // Another base HPA spec is another controller under the agents: as big a change as new roles.
  if (canonicalJson(previous.hpaBase ?? null) !== canonicalJson(next.hpaBase ?? null)) return 'major';
  const prevAgents = new Map(previous.agents.map((a) => [a.name, a]));
  if (prevAgents.size !== next.agents.length || next.agents.some((a) => !prevAgents.has(a.name))) return 'major';
  for (const a of next.agents) {
    if (canonicalJson(prevAgents.get(a.name)!.observation.features) !== canonicalJson(a.observation.features)) return 'major';
  }
  const policy = (a: AgentPolicy) => canonicalJson({ network: a.network, mean: a.observation.mean, std: a.observation.std, actions: a.actions });
  for (const a of next.agents) if (policy(prevAgents.get(a.name)!) !== policy(a)) return 'minor';
  const content = (s: UnsealedSpec) => {
    const { version: _v, digest: _d, ...rest } = s;
    return canonicalJson(rest);
  };
  return content(previous) === content(next) ? 'none' : 'patch';
}

/** The version for `next` given the previous bundle's spec (or none: the first version). */
export function nextVersion(previous: UnsealedSpec | undefined, next: UnsealedSpec): string {
  if (!previous) return FIRST_VERSION;
  const [major, minor, patch] = parseVersion(previous.version);
  switch (versionChange(previous, next)) {
    case 'major': return `${major + 1}.0.0`;
    case 'minor': return `${major}.${minor + 1}.0`;
    case 'patch': return `${major}.${minor}.${patch + 1}`;
    case 'none': return previous.version;
  }
}
