import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { KarmaError } from '../../policies/errors.ts';
import { parseYamlDocument } from '../../policies/documents.ts';
import topologySchema from './topology.schema.json' with { type: 'json' };

export type Criticality = 'critical' | 'standard' | 'best-effort';

/** An autoscaling/v2 HPA spec as the twin hands it to the HPA controller emulation. */
export interface TwinHpaSpec {
  minReplicas: number;
  maxReplicas: number;
  metrics: Record<string, unknown>[];
  behavior?: Record<string, unknown>;
}

/** A topology document as written in YAML (after schema validation). */
export interface TopologyDocument {
  apiVersion: 'karma-hpa.io/v1alpha1';
  kind: 'Topology';
  name: string;
  description?: string;
  slo?: { latencyMs?: number };
  services: {
    name: string;
    cpuRequest: string | number;
    perPodCapacity: number;
    startupDelaySeconds?: number;
    minReplicas: number;
    maxReplicas: number;
    criticality?: Criticality;
    baseLatencyMs?: number;
    sloLatencyMs?: number;
    timeoutSeconds?: number;
    cpuBaselineFraction?: number;
    hpa?: { metrics?: Record<string, unknown>[]; behavior?: Record<string, unknown> };
  }[];
  edges?: { from: string; to: string; callRatio: number }[];
  entryPoints: { service: string; weight?: number }[];
  nodes: { name: string; cpu: string | number; count?: number }[];
}

/** One service with every default filled in. */
export interface ServiceSpec {
  name: string;
  cpuRequestMilli: number;
  perPodCapacity: number;
  startupDelaySeconds: number;
  minReplicas: number;
  maxReplicas: number;
  criticality: Criticality;
  baseLatencyMs: number;
  sloLatencyMs: number;
  timeoutSeconds: number;
  /** CPU a pod burns with no requests, as a fraction of its request. */
  cpuBaselineFraction: number;
  hpa: TwinHpaSpec;
}

/** A validated topology with defaults applied, services in topological order of the call graph. */
export interface Topology {
  name: string;
  description: string;
  services: ServiceSpec[];
  edges: { from: string; to: string; callRatio: number }[];
  entryPoints: { service: string; weight: number }[];
  /** Node instances (a `count: 3` entry becomes name-0, name-1, name-2). */
  nodes: { name: string; cpuMilli: number }[];
}

export const DEFAULT_SLO_LATENCY_MS = 500;
export const DEFAULT_STARTUP_DELAY_SECONDS = 10;
export const DEFAULT_TIMEOUT_SECONDS = 10;
export const DEFAULT_CPU_BASELINE_FRACTION = 0.05;
export const DEFAULT_BASE_LATENCY_MS = 10;
/** The default HPA of a service: autoscaling/v2, CPU at 80 % of request. */
export const DEFAULT_CPU_TARGET_PERCENT = 80;

export const BUILTIN_DIR = join(dirname(fileURLToPath(import.meta.url)), 'builtin');

/** Parse "500m", "0.5", "2" or a number of cores into millicores. */
export function parseCpuMilli(q: string | number): number {
  if (typeof q === 'number') return q * 1000;
  return q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000;
}

export function defaultHpaMetrics(): Record<string, unknown>[] {
  return [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_TARGET_PERCENT } } }];
}

/** Names of the built-in topologies (YAML files in generator/twin/builtin/). */
export function builtinTopologyNames(): string[] {
  return readdirSync(BUILTIN_DIR).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
}

/**
 * Resolve a topology reference: a built-in name (`chained-services`) or a path to a YAML/JSON file
 * (relative to cwd). Throws a KarmaError naming the file, line and field for anything invalid.
 */
export function loadTopology(ref: string, cwd: string = process.cwd()): Topology {
  const builtin = join(BUILTIN_DIR, `${ref}.yaml`);
  if (/^[a-z0-9-]+$/.test(ref) && existsSync(builtin)) return parseTopology(readFileSync(builtin, 'utf8'), `built-in topology "${ref}"`);
  const path = resolve(cwd, ref);
  if (!existsSync(path)) {
    throw new KarmaError(`unknown topology "${ref}"`, {
      where: '--topology',
      hint: `use a built-in name (${builtinTopologyNames().join(', ')}) or a path to a topology YAML file`,
    });
  }
  return parseTopology(readFileSync(path, 'utf8'), ref);
}

/** Parse and check a topology document; see loadTopology. */
export function parseTopology(text: string, fileName: string): Topology {
  const doc = parseYamlDocument<TopologyDocument>(text, fileName, topologySchema, 'topology',
    'see generator/twin/README.md for the topology format');
  return compileTopologyDocument(doc, fileName);
}

/** Semantic checks the schema cannot express, then defaults and topological ordering. */
export function compileTopologyDocument(doc: TopologyDocument, fileName: string): Topology {
  const problems: string[] = [];
  const index = new Map<string, number>();
  doc.services.forEach((s, i) => {
    if (index.has(s.name)) problems.push(`/services/${i}/name: duplicate service name "${s.name}"`);
    else index.set(s.name, i);
    if (s.minReplicas > s.maxReplicas) problems.push(`/services/${i}/minReplicas: ${s.minReplicas} is greater than maxReplicas ${s.maxReplicas}`);
    if (parseCpuMilli(s.cpuRequest) <= 0) problems.push(`/services/${i}/cpuRequest: must be positive`);
  });
  const edges = doc.edges ?? [];
  const edgeKeys = new Set<string>();
  edges.forEach((e, i) => {
    if (!index.has(e.from)) problems.push(`/edges/${i}/from: unknown service "${e.from}"`);
    if (!index.has(e.to)) problems.push(`/edges/${i}/to: unknown service "${e.to}"`);
    if (e.from === e.to) problems.push(`/edges/${i}: service "${e.from}" calls itself`);
    const key = `${e.from}\u0000${e.to}`;
    if (edgeKeys.has(key)) problems.push(`/edges/${i}: duplicate edge ${e.from} → ${e.to}`);
    edgeKeys.add(key);
  });
  const entrySeen = new Set<string>();
  doc.entryPoints.forEach((ep, i) => {
    if (!index.has(ep.service)) problems.push(`/entryPoints/${i}/service: unknown service "${ep.service}"`);
    if (entrySeen.has(ep.service)) problems.push(`/entryPoints/${i}/service: duplicate entry point "${ep.service}"`);
    entrySeen.add(ep.service);
  });
  const nodeNames = new Set<string>();
  doc.nodes.forEach((n, i) => {
    if (nodeNames.has(n.name)) problems.push(`/nodes/${i}/name: duplicate node name "${n.name}"`);
    nodeNames.add(n.name);
  });
  if (problems.length > 0) throw invalid(fileName, problems);

  const order = topologicalOrder(doc.services.map((s) => s.name), edges.filter((e) => e.from !== e.to));
  if ('cycle' in order) {
    throw invalid(fileName, [`/edges: the call graph has a cycle ${order.cycle.join(' → ')}`],
      'a request must not call back into a service it came through; remove one edge of the cycle');
  }
  const topSlo = doc.slo?.latencyMs ?? DEFAULT_SLO_LATENCY_MS;
  const byName = new Map(doc.services.map((s) => [s.name, s]));
  const services: ServiceSpec[] = order.order.map((name) => {
    const s = byName.get(name)!;
    return {
      name,
      cpuRequestMilli: parseCpuMilli(s.cpuRequest),
      perPodCapacity: s.perPodCapacity,
      startupDelaySeconds: s.startupDelaySeconds ?? DEFAULT_STARTUP_DELAY_SECONDS,
      minReplicas: s.minReplicas,
      maxReplicas: s.maxReplicas,
      criticality: s.criticality ?? 'standard',
      baseLatencyMs: s.baseLatencyMs ?? DEFAULT_BASE_LATENCY_MS,
      sloLatencyMs: s.sloLatencyMs ?? topSlo,
      timeoutSeconds: s.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      cpuBaselineFraction: s.cpuBaselineFraction ?? DEFAULT_CPU_BASELINE_FRACTION,
      hpa: {
        minReplicas: s.minReplicas,
        maxReplicas: s.maxReplicas,
        metrics: s.hpa?.metrics ?? defaultHpaMetrics(),
        ...(s.hpa?.behavior ? { behavior: s.hpa.behavior } : {}),
      },
    };
  });
  const nodes: Topology['nodes'] = [];
  for (const n of doc.nodes) {
    const count = n.count ?? 1;
    for (let i = 0; i < count; i++) nodes.push({ name: count === 1 ? n.name : `${n.name}-${i}`, cpuMilli: parseCpuMilli(n.cpu) });
  }
  return {
    name: doc.name,
    description: doc.description ?? '',
    services,
    edges: edges.map((e) => ({ ...e })),
    entryPoints: doc.entryPoints.map((e) => ({ service: e.service, weight: e.weight ?? 1 })),
    nodes,
  };
}

function invalid(fileName: string, details: string[], hint?: string): KarmaError {
  return new KarmaError(`invalid topology: ${details.length} problem${details.length === 1 ? '' : 's'}`, {
    where: fileName,
    details,
    hint: hint ?? 'fix the fields listed above; see generator/twin/README.md for the topology format',
  });
}

/** Kahn's algorithm, ties broken by declaration order so the order is stable; reports one cycle. */
function topologicalOrder(names: string[], edges: { from: string; to: string }[]): { order: string[] } | { cycle: string[] } {
  const indeg = new Map(names.map((n) => [n, 0]));
  const out = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const e of edges) {
    out.get(e.from)!.push(e.to);
    indeg.set(e.to, indeg.get(e.to)! + 1);
  }
  const order: string[] = [];
  const ready = names.filter((n) => indeg.get(n) === 0);
  while (ready.length > 0) {
    const n = ready.shift()!;
    order.push(n);
    for (const m of out.get(n)!) {
      indeg.set(m, indeg.get(m)! - 1);
      if (indeg.get(m) === 0) ready.push(m);
    }
    ready.sort((a, b) => names.indexOf(a) - names.indexOf(b));
  }
  if (order.length === names.length) return { order };
  // Walk from any remaining node along remaining edges until a node repeats: that is a cycle.
  const left = new Set(names.filter((n) => !order.includes(n)));
  let cur = [...left][0]!;
  const path: string[] = [];
  while (!path.includes(cur)) {
    path.push(cur);
    cur = out.get(cur)!.find((m) => left.has(m))!;
  }
  return { cycle: [...path.slice(path.indexOf(cur)), cur] };
}

/**
 * Requests per second each service receives per request/s offered at the entry points (the
 * steady-state flow multipliers of the call graph).
 */
export function flowMultipliers(topology: Topology): Map<string, number> {
  const total = topology.entryPoints.reduce((a, e) => a + e.weight, 0);
  const flow = new Map(topology.services.map((s) => [s.name, 0]));
  for (const e of topology.entryPoints) flow.set(e.service, flow.get(e.service)! + e.weight / total);
  for (const s of topology.services) {
    for (const e of topology.edges) if (e.from === s.name) flow.set(e.to, flow.get(e.to)! + flow.get(s.name)! * e.callRatio);
  }
  return flow;
}

/**
 * The highest entry request rate the topology sustains at maxReplicas with full CPU: the
 * reference that scenario loads expressed as `capacityFraction` are relative to.
 */
export function sustainableEntryRate(topology: Topology): number {
  const flow = flowMultipliers(topology);
  let best = Infinity;
  for (const s of topology.services) {
    const f = flow.get(s.name)!;
    if (f > 0) best = Math.min(best, (s.maxReplicas * s.perPodCapacity) / f);
  }
  return best;
}
