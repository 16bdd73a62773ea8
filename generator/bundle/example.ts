/**
 * The example bundle shipped in policies/examples: the paper's Chained Services with the default
 * organisation and small seeded random networks. It shows the shape of a real bundle; its networks
 * are untrained. Regenerate with `node generator/bundle/example.ts --write`; a test keeps the file in sync.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { canonicalPrettyJson, digestOf } from '../../policies/canonical.ts';
import { networkParameterCount, type AgentPolicy, type PolicyBundle } from '../../policies/bundle.ts';
import { bindOrganisation, DEFAULT_ACTIONS, loadOrganisation } from '../../policies/organisation.ts';
import { Rng } from '../../policies/random.ts';
import pkg from '../../package.json' with { type: 'json' };
import { buildBundle } from './build.ts';
import { encodeWeights } from '../../policies/network.ts';

export const EXAMPLE_PATH = fileURLToPath(new URL('../../policies/examples/chained-services.bundle.json', import.meta.url));

/** Chained Services (diamond INPUT→A→{B,C}→D) with the per-service replica ranges of the paper. */
const CHAINED_SERVICES = [
  { name: 'A', entry: true, critical: true, maxReplicas: 5 },
  { name: 'B', entry: false, critical: true, maxReplicas: 3 },
  { name: 'C', entry: false, critical: false, maxReplicas: 4 },
  { name: 'D', entry: false, critical: true, maxReplicas: 6 },
];

const FEATURES = [
  'cpuUtilization', 'requestRate', 'requestRateChange', 'p95LatencyMs', 'pendingRequests', 'errorRate',
  'failedPods', 'crashLoopPods', 'replicas', 'readyReplicas', 'max.pendingRequests', 'cluster.nodeCpuUtilization',
];

/** Uniform Glorot initialisation, layer by layer: W (out×in) then zero biases. */
function randomWeights(rng: Rng, sizes: number[]): Float32Array {
  const out = new Float32Array(networkParameterCount({ inputs: sizes[0]!, hidden: sizes.slice(1, -1), outputs: sizes[sizes.length - 1]! }));
  let k = 0;
  for (let l = 1; l < sizes.length; l++) {
    const fanIn = sizes[l - 1]!;
    const fanOut = sizes[l]!;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < fanIn * fanOut; i++) out[k++] = rng.uniform(-limit, limit);
    k += fanOut;
  }
  return out;
}

export interface ExampleOptions {
  hidden?: number[];
  seed?: number;
}

export function chainedServicesExample(opts: ExampleOptions = {}): PolicyBundle {
  const hidden = opts.hidden ?? [8];
  const seed = opts.seed ?? 7;
  const organisation = loadOrganisation('default');
  const bound = bindOrganisation(organisation, {
    name: 'chained-services',
    services: CHAINED_SERVICES.map((s) => ({ name: s.name, entry: s.entry, critical: s.critical })),
  });
  const rng = new Rng(seed);
  const agents: AgentPolicy[] = bound.agents.map((a, i) => {
    const sizes = [FEATURES.length, ...hidden, DEFAULT_ACTIONS.length];
    return {
      name: a.name,
      role: a.role.name,
      services: a.services,
      observation: { features: [...FEATURES], mean: FEATURES.map(() => 0), std: FEATURES.map(() => 1) },
      network: {
        inputs: FEATURES.length,
        hidden,
        outputs: DEFAULT_ACTIONS.length,
        activation: 'tanh',
        weights: encodeWeights(randomWeights(rng.fork(i + 1), sizes)),
      },
      actions: [...DEFAULT_ACTIONS],
    };
  });
  return buildBundle({
    app: 'chained-services',
    namespace: 'chained-services',
    description: 'Example: the default organisation on Chained Services with untrained, seeded random networks.',
    organisation,
    agents,
    guards: {
      minReplicas: 1,
      maxReplicas: 6,
      maxStep: 3,
      cooldownSeconds: 30,
      fallback: { staleMetricsSeconds: 60, minConfidence: 0.4 },
      enforcement: 'deny',
    },
    targets: CHAINED_SERVICES.map((s) => ({ service: s.name, namespace: 'chained-services', hpaName: s.name.toLowerCase(), guards: { maxReplicas: s.maxReplicas } })),
    provenance: {
      generatorVersion: pkg.version,
      twinDigest: digestOf({ topology: 'chained-services', example: true }),
      traceDigests: [],
      organisationDigest: digestOf(organisation),
      seeds: [seed],
    },
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  writeFileSync(EXAMPLE_PATH, canonicalPrettyJson(chainedServicesExample()));
  process.stdout.write(`wrote ${EXAMPLE_PATH}\n`);
}
