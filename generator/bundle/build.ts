import {
  nextVersion, POLICY_BUNDLE_API_VERSION, POLICY_BUNDLE_KIND, sealBundle, validateBundle,
  type AgentPolicy, type BundleTarget, type EvaluationSummary, type Guards, type HpaBase, type OrganisationDocument,
  type PolicyBundle, type Provenance, type UnsealedSpec,
} from '../../policies/bundle.ts';
import { KarmaError } from '../../policies/errors.ts';

export interface BuildBundleInput {
  /** Name of the application the bundle governs; becomes metadata.name. */
  app: string;
  namespace: string;
  organisation: OrganisationDocument;
  agents: AgentPolicy[];
  guards: Guards;
  targets: BundleTarget[];
  provenance: Provenance;
  evaluation?: EvaluationSummary;
  /** The HPA spec the agents were trained to act through, when it is not the topology's own. */
  hpaBase?: HpaBase;
  evaluator?: 'network' | 'rules';
  description?: string;
  /** The bundle this one replaces; its version and content decide the new version. */
  previous?: PolicyBundle;
}

/** Assemble, version and seal a PolicyBundle. Pure: same input → same bytes. */
export function buildBundle(input: BuildBundleInput): PolicyBundle {
  const unversioned: UnsealedSpec = {
    version: '0.0.0',
    ...(input.description !== undefined ? { description: input.description } : {}),
    evaluator: input.evaluator ?? 'network',
    targets: input.targets,
    guards: input.guards,
    organisation: input.organisation,
    agents: input.agents,
    provenance: input.provenance,
    ...(input.evaluation !== undefined ? { evaluation: input.evaluation } : {}),
    ...(input.hpaBase !== undefined ? { hpaBase: input.hpaBase } : {}),
  };
  const version = nextVersion(input.previous?.spec, unversioned);
  const bundle = sealBundle({
    apiVersion: POLICY_BUNDLE_API_VERSION,
    kind: POLICY_BUNDLE_KIND,
    metadata: { name: input.app, namespace: input.namespace, labels: { 'app.kubernetes.io/name': input.app, 'app.kubernetes.io/managed-by': 'karma-hpa' } },
    spec: { ...unversioned, version },
  });
  const check = validateBundle(bundle);
  if (!check.ok) {
    throw new KarmaError(`the bundle for "${input.app}" would be invalid`, {
      details: check.errors,
      hint: 'the agents, guards or targets given to the bundle builder disagree; fix them where they are produced',
    });
  }
  return check.bundle;
}
