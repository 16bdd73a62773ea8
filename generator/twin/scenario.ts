import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { KarmaError } from '../../policies/errors.ts';
import { parseYamlDocument } from '../../policies/documents.ts';
import scenarioSchema from './scenario.schema.json' with { type: 'json' };
import { BUILTIN_DIR, loadTopology, type Topology } from './topology.ts';

type RelativeTo = 'capacity' | 'absolute';

export type LoadSpec =
  | { kind: 'constant'; relativeTo?: RelativeTo; rate: number }
  | { kind: 'diurnal'; relativeTo?: RelativeTo; mean: number; amplitude?: number; periodSeconds?: number; phaseSeconds?: number }
  | { kind: 'step'; relativeTo?: RelativeTo; rate: number; steps: { atSeconds: number; rate: number }[] }
  | { kind: 'trace'; relativeTo?: RelativeTo; trace?: 'nasa-http-1995'; file?: string; offsetSeconds?: number; timeScale?: number;
      smoothingSeconds?: number; mean: number; peak?: number };

export type InjectorSpec =
  | { kind: 'bottleneck'; service: string; atSeconds?: number; durationSeconds?: number; capacityFactor?: number; mode?: 'cpu' | 'io' }
  | { kind: 'ddos'; entryPoint?: string; atSeconds?: number; rampUpSeconds?: number; holdSeconds?: number; rampDownSeconds?: number; multiplier?: number }
  | { kind: 'yoyo'; entryPoint?: string; atSeconds?: number; periodSeconds?: number; burstSeconds?: number; multiplier?: number; bursts?: number }
  | { kind: 'pod-failures'; service: string; atSeconds?: number; durationSeconds?: number; crashProbabilityPerSecond?: number; crashLoop?: boolean; crashAfterSeconds?: number }
  | { kind: 'resource-contention'; nodes?: string[]; nodeCount?: number; atSeconds?: number; durationSeconds?: number; stealFraction?: number; sampleNodeSpeed?: boolean }
  | { kind: 'node-loss'; node?: string; atSeconds?: number; returnAfterSeconds?: number; evictionDelaySeconds?: number };

/** A scenario document as written in YAML (after schema validation). */
export interface ScenarioDocument {
  apiVersion: 'karma-hpa.io/v1alpha1';
  kind: 'Scenario';
  name: string;
  description?: string;
  topology: string;
  durationSeconds: number;
  initialReplicas?: 'steady' | 'min';
  load: LoadSpec;
  injectors?: InjectorSpec[];
  slo?: { latencyMs?: number; recoverySuccessRate?: number; recoveryHoldSeconds?: number; availabilitySuccessRate?: number };
  metricsPipeline?: { resolutionSeconds?: number; delaySeconds?: number };
  nodeSpeedNoise?: boolean;
}

/** The SLO thresholds the episode metrics use (defaults from DESIGN.md). */
export interface SloSpec {
  /** Overrides every service's latency SLO when set. */
  latencyMs: number | undefined;
  recoverySuccessRate: number;
  recoveryHoldSeconds: number;
  availabilitySuccessRate: number;
}

export interface Scenario {
  name: string;
  /** Where the scenario came from (file path or `built-in scenario "x"`), for messages. */
  source: string;
  description: string;
  /** Built-in topology name or path (resolved against the scenario file's directory). */
  topologyRef: string;
  /** Directory that relative paths in the scenario (topology, trace file) are resolved against. */
  baseDir: string;
  durationSeconds: number;
  initialReplicas: 'steady' | 'min';
  load: LoadSpec;
  injectors: InjectorSpec[];
  slo: SloSpec;
  metricsPipeline: { resolutionSeconds: number; delaySeconds: number };
  nodeSpeedNoise: boolean;
}

export const SCENARIO_DIR = join(BUILTIN_DIR, 'scenarios');
/** metrics-server's default resolution (scrape period and CPU rate window). */
export const DEFAULT_METRICS_RESOLUTION_SECONDS = 15;
/** Time from a metrics sample until it is visible through the metrics API. */
export const DEFAULT_METRICS_DELAY_SECONDS = 5;

/** The topology the unqualified built-in scenarios (`ddos`, `bottleneck` …) are written for: the paper's. */
export const DEFAULT_SCENARIO_TOPOLOGY = 'chained-services';

function yamlNames(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort() : [];
}

/** Names of the built-in scenarios (the chained-services set; other topologies have variants of them). */
export function builtinScenarioNames(): string[] {
  return yamlNames(SCENARIO_DIR);
}

/** Built-in topologies that have their own built-in scenarios, the default one first. */
export function builtinScenarioTopologies(): string[] {
  const others = readdirSync(SCENARIO_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  return [DEFAULT_SCENARIO_TOPOLOGY, ...others.filter((t) => t !== DEFAULT_SCENARIO_TOPOLOGY)];
}

/** Names of the built-in scenarios written for a topology (empty when it has none). */
export function builtinScenarioNamesFor(topology: string): string[] {
  if (topology === DEFAULT_SCENARIO_TOPOLOGY) return builtinScenarioNames();
  return /^[a-z0-9-]+$/.test(topology) ? yamlNames(join(SCENARIO_DIR, topology)) : [];
}

/** Every fully qualified built-in scenario reference, `<topology>/<name>`. */
export function builtinScenarioRefs(): string[] {
  return builtinScenarioTopologies().flatMap((t) => builtinScenarioNamesFor(t).map((n) => `${t}/${n}`));
}

function builtinScenarioFile(topology: string, name: string): string | undefined {
  if (!builtinScenarioNamesFor(topology).includes(name)) return undefined;
  return topology === DEFAULT_SCENARIO_TOPOLOGY ? join(SCENARIO_DIR, `${name}.yaml`) : join(SCENARIO_DIR, topology, `${name}.yaml`);
}

/**
 * Resolve a scenario reference:
 * - `<topology>/<name>` (`online-boutique/ddos`): the built-in scenario `name` written for that topology;
 * - `<name>` (`ddos`): the variant written for `lookup.topology` when there is one (so
 *   `--topology online-boutique --scenario ddos` runs online-boutique's ddos), else the
 *   chained-services one;
 * - anything else: a path to a YAML/JSON scenario file, relative to `cwd`.
 */
export function loadScenario(ref: string, cwd: string = process.cwd(), lookup: { topology?: string } = {}): Scenario {
  const qualified = /^([a-z0-9-]+)\/([a-z0-9-]+)$/.exec(ref);
  let file: string | undefined;
  let label = ref;
  if (qualified) {
    file = builtinScenarioFile(qualified[1]!, qualified[2]!);
  } else if (/^[a-z0-9-]+$/.test(ref)) {
    const topology = lookup.topology !== undefined && builtinScenarioFile(lookup.topology, ref) ? lookup.topology : DEFAULT_SCENARIO_TOPOLOGY;
    file = builtinScenarioFile(topology, ref);
    if (topology !== DEFAULT_SCENARIO_TOPOLOGY) label = `${topology}/${ref}`;
  }
  if (file !== undefined) return parseScenario(readFileSync(file, 'utf8'), `built-in scenario "${label}"`, dirname(file));
  const path = resolve(cwd, ref);
  if (!existsSync(path)) {
    throw new KarmaError(`unknown scenario "${ref}"`, {
      where: '--scenario',
      hint: `use a built-in name (${builtinScenarioNames().join(', ')}; for another topology ${builtinScenarioTopologies().slice(1).map((t) => `${t}/<name>`).join(', ')}, or the name with --topology) or a path to a scenario YAML file`,
    });
  }
  return parseScenario(readFileSync(path, 'utf8'), ref, dirname(path));
}

export function parseScenario(text: string, fileName: string, baseDir: string): Scenario {
  const doc = parseYamlDocument<ScenarioDocument>(text, fileName, scenarioSchema, 'scenario',
    'see generator/twin/README.md for the scenario format');
  return scenarioFromDocument(doc, fileName, baseDir);
}

export function scenarioFromDocument(doc: ScenarioDocument, fileName: string, baseDir: string): Scenario {
  const problems: string[] = [];
  if (doc.load.kind === 'trace' && doc.load.peak !== undefined && doc.load.peak < doc.load.mean) {
    problems.push(`/load/peak: ${doc.load.peak} is below mean ${doc.load.mean}`);
  }
  (doc.injectors ?? []).forEach((inj, i) => {
    if (inj.kind === 'resource-contention' && inj.nodes && inj.nodeCount !== undefined) {
      problems.push(`/injectors/${i}: give either nodes or nodeCount, not both`);
    }
    if ('atSeconds' in inj && inj.atSeconds !== undefined && inj.atSeconds >= doc.durationSeconds) {
      problems.push(`/injectors/${i}/atSeconds: ${inj.atSeconds} is not before the end of the episode (${doc.durationSeconds} s)`);
    }
  });
  if (problems.length > 0) {
    throw new KarmaError(`invalid scenario: ${problems.length} problem${problems.length === 1 ? '' : 's'}`, { where: fileName, details: problems });
  }
  return {
    name: doc.name,
    source: fileName,
    description: doc.description ?? '',
    topologyRef: doc.topology,
    baseDir,
    durationSeconds: doc.durationSeconds,
    initialReplicas: doc.initialReplicas ?? 'steady',
    load: doc.load,
    injectors: doc.injectors ?? [],
    slo: {
      latencyMs: doc.slo?.latencyMs,
      recoverySuccessRate: doc.slo?.recoverySuccessRate ?? 0.95,
      recoveryHoldSeconds: doc.slo?.recoveryHoldSeconds ?? 60,
      availabilitySuccessRate: doc.slo?.availabilitySuccessRate ?? 0.9,
    },
    metricsPipeline: {
      resolutionSeconds: doc.metricsPipeline?.resolutionSeconds ?? DEFAULT_METRICS_RESOLUTION_SECONDS,
      delaySeconds: doc.metricsPipeline?.delaySeconds ?? DEFAULT_METRICS_DELAY_SECONDS,
    },
    nodeSpeedNoise: doc.nodeSpeedNoise ?? false,
  };
}

/** Load the topology a scenario names (built-in name, else a path relative to the scenario file). */
export function topologyOfScenario(scenario: Scenario): Topology {
  return loadTopology(scenario.topologyRef, scenario.baseDir);
}

/**
 * Check that every service, entry point and node a scenario's injectors name exists in the
 * topology, so a typo fails before the episode instead of silently injecting nothing.
 */
export function checkScenarioAgainstTopology(scenario: Scenario, topology: Topology, fileName: string = scenario.source): void {
  const services = new Set(topology.services.map((s) => s.name));
  const entries = new Set(topology.entryPoints.map((e) => e.service));
  const nodes = new Set(topology.nodes.map((n) => n.name));
  const problems: string[] = [];
  scenario.injectors.forEach((inj, i) => {
    if ((inj.kind === 'bottleneck' || inj.kind === 'pod-failures') && !services.has(inj.service)) {
      problems.push(`/injectors/${i}/service: unknown service "${inj.service}" (topology ${topology.name} has ${[...services].join(', ')})`);
    }
    if ((inj.kind === 'ddos' || inj.kind === 'yoyo') && inj.entryPoint !== undefined && !entries.has(inj.entryPoint)) {
      problems.push(`/injectors/${i}/entryPoint: "${inj.entryPoint}" is not an entry point of ${topology.name} (${[...entries].join(', ')})`);
    }
    if (inj.kind === 'node-loss' && inj.node !== undefined && !nodes.has(inj.node)) {
      problems.push(`/injectors/${i}/node: unknown node "${inj.node}" (${[...nodes].join(', ')})`);
    }
    if (inj.kind === 'resource-contention') {
      for (const [j, n] of (inj.nodes ?? []).entries()) if (!nodes.has(n)) problems.push(`/injectors/${i}/nodes/${j}: unknown node "${n}"`);
      if (inj.nodeCount !== undefined && inj.nodeCount > topology.nodes.length) {
        problems.push(`/injectors/${i}/nodeCount: ${inj.nodeCount} exceeds the ${topology.nodes.length} nodes of ${topology.name}`);
      }
    }
  });
  if (problems.length > 0) {
    throw new KarmaError(`scenario does not fit topology ${topology.name}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`, {
      where: fileName,
      details: problems,
      hint: scenario.source.startsWith('built-in scenario')
        ? `built-in scenarios exist for ${builtinScenarioTopologies().join(', ')} (e.g. --topology online-boutique --scenario ${scenario.name}); for ${topology.name}, copy one into a file and use its service names`
        : 'use names that exist in the topology',
    });
  }
}
