import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateBundle, type PolicyBundle } from '../../../policies/bundle.ts';
import { digestOf } from '../../../policies/canonical.ts';
import { loadOrganisation } from '../../../policies/organisation.ts';
import { main } from '../../../generator/cli/main.ts';
import { generateCommand } from '../../../generator/commands/generate.ts';
import { simulationDigest } from '../../../generator/pipeline/bundle-input.ts';
import { GENERATE_STAGES } from '../../../generator/pipeline/generate.ts';
import { formatGenerateSummary, type GenerateResult } from '../../../generator/pipeline/summary.ts';
import { EVALUATION_SEED_BASE } from '../../../generator/train/mappo.ts';
import { loadScenario } from '../../../generator/twin/scenario.ts';
import { loadTopology } from '../../../generator/twin/topology.ts';
import { captureIo } from '../../support/io.ts';
import { validateManifestsYaml } from '../../support/manifests.ts';
import { gitCli, tempDir } from '../publish/support.ts';

const COMMIT_TIME = '2026-01-02T03:04:05Z';
const COMMIT_SECONDS = Date.UTC(2026, 0, 2, 3, 4, 5) / 1000;
const APP = 'chained-services';
const ref = (version: string): string => `karma-hpa/${APP}/v${version}`;
const tagRef = (version: string): string => `karma-hpa-release/${APP}/v${version}`;

/** A tiny budget: one scenario, two training iterations of two episodes, two evaluation seeds. */
const TINY = ['--scenarios', 'ddos', '--iterations', '2', '--episodes', '2', '--eval-seeds', '2', '--baselines', 'default-hpa', '--workers', '1'];

async function generate(cwd: string, args: string[], env: Record<string, string> = {}) {
  const io = captureIo({ cwd, env, now: () => Date.UTC(2026, 5, 1) });
  const code = await main(['generate', ...args], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

function readBundle(path: string): PolicyBundle {
  const check = validateBundle(JSON.parse(readFileSync(path, 'utf8')));
  if (!check.ok) throw new Error(check.errors.join('\n'));
  return check.bundle;
}

describe('karma-hpa generate', () => {
  it('runs model → train → evaluate → analyze → bundle → publish into a new GitOps repository', async () => {
    const work = tempDir('generate');
    // A plot left by an earlier run into the same directory must not be published with this one.
    mkdirSync(join(work, 'run', 'bundle', 'plots'), { recursive: true });
    writeFileSync(join(work, 'run', 'bundle', 'plots', 'stale.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    const r = await generate(work, [...TINY, '--json', '--out', 'run'], { SOURCE_DATE_EPOCH: String(COMMIT_SECONDS) });
    // The human summary of the same run names the tuned HPA's cost when it was evaluated.
    const parsed = JSON.parse(r.out) as GenerateResult;
    const [masRow, defaultRow] = parsed.evaluation.success;
    const tunedRow = { ...defaultRow!, method: 'tuned-hpa', replicaSeconds: 2 * masRow!.replicaSeconds };
    const text = formatGenerateSummary({ ...parsed, evaluation: { ...parsed.evaluation, success: [masRow!, defaultRow!, tunedRow] } }, work);
    expect(text).toMatch(/cost {6}MAS \d+ vs default HPA \d+ vs tuned HPA \d+ \(MAS 0\.50 ×\) replica·s per episode/);
    // The goal needs both HPA baselines: this run evaluated the default HPA only, so no goal line.
    expect(parsed.evaluation.goal).toEqual([]);
    expect(text).not.toMatch(/^ {2}goal/m);
    const goal = [{ scenario: 'ddos', method: 'mas', failedShare: 0.07, failedLimit: 0.0405, failedMet: false, met: false, costRatio: 1.05, costMet: true, clairvoyant: { failedShare: 0.056, gap: 0.014, withinLimit: false, atCeiling: [{ service: 'B', seconds: 164 }, { service: 'A', seconds: 118 }] } }];
    expect(formatGenerateSummary({ ...parsed, evaluation: { ...parsed.evaluation, goal } }, work))
      .toMatch(/\n {2}goal {6}met on 0 of 1 scenario; where missed, the clairvoyant bound fails more than the goal allows too on ddos \(at the replica ceiling of B, A\) \(failed ≤ 0\.25 × the default HPA's/);
    expect(r.code, r.err).toBe(0);
    GENERATE_STAGES.forEach((stage, i) => expect(r.err).toContain(`[${i + 1}/${GENERATE_STAGES.length}] ${stage}: `));
    expect(r.err).toMatch(/train: 2\/2 \(100%\)/);
    const result = JSON.parse(r.out) as GenerateResult;

    // The repository: created with the layout on main, the bundle on its own branch and tag.
    const repo = join(work, 'gitops');
    expect(result.publish.repo).toBe(repo);
    expect(gitCli(repo, 'fsck', '--strict')).toBe('');
    expect(gitCli(repo, 'status', '--porcelain')).toBe('');
    expect(gitCli(repo, 'rev-parse', '--verify', `refs/heads/${ref('1.0.0')}`)).toBe(result.publish.commit);
    expect(gitCli(repo, 'cat-file', '-t', `refs/tags/${tagRef('1.0.0')}`)).toBe('tag');
    expect(gitCli(repo, 'log', '-1', '--format=%at', `refs/heads/${ref('1.0.0')}`)).toBe(String(COMMIT_SECONDS));
    const files = gitCli(repo, 'ls-tree', '-r', '--name-only', `refs/heads/${ref('1.0.0')}`).split('\n');
    const dirInRepo = `bundles/default/${APP}`;
    expect(files).toContain(`${dirInRepo}/bundle.json`);
    expect(files).toContain(`${dirInRepo}/report.md`);
    expect(files.some((f) => f.startsWith(`${dirInRepo}/plots/`) && f.endsWith('.svg'))).toBe(true);
    expect(files).toContain('clusters/default/argocd/kustomization.yaml');
    expect(files.filter((f) => f.endsWith('stale.svg'))).toEqual([]);
    // The governed HPAs on the tuned base the agents were trained on, valid autoscaling/v2 objects.
    const hpaFiles = files.filter((f) => f.startsWith(`${dirInRepo}/hpa/`));
    expect(hpaFiles.map((f) => f.slice(dirInRepo.length + 5)).sort()).toEqual(['a.yaml', 'b.yaml', 'c.yaml', 'd.yaml']);
    expect(existsSync(join(work, 'run', 'bundle', 'plots', 'stale.svg'))).toBe(false);

    // The bundle: valid, the one committed, shaped by the topology and the run.
    const local = join(work, 'run', 'bundle', 'bundle.json');
    const bundle = readBundle(local);
    expect(gitCli(repo, 'show', `refs/heads/${ref('1.0.0')}:${dirInRepo}/bundle.json`)).toBe(readFileSync(local, 'utf8').trimEnd());
    expect(bundle.spec.version).toBe('1.0.0');
    expect(bundle.metadata).toMatchObject({ name: APP, namespace: 'default' });
    const topology = loadTopology('chained-services');
    expect(bundle.spec.targets).toEqual(topology.services.map((s) => ({
      service: s.name, namespace: 'default', hpaName: s.name.toLowerCase(), guards: { minReplicas: s.minReplicas, maxReplicas: s.maxReplicas },
    })));
    expect(bundle.spec.guards).toMatchObject({
      minReplicas: Math.min(...topology.services.map((s) => s.minReplicas)),
      maxReplicas: Math.max(...topology.services.map((s) => s.maxReplicas)),
      maxStep: 3,
      cooldownSeconds: 30,
    });
    const organisation = loadOrganisation('default');
    expect(bundle.spec.provenance).toEqual({
      generatorVersion: '0.1.0',
      twinDigest: simulationDigest(topology, [loadScenario('ddos')]),
      traceDigests: [],
      organisationDigest: digestOf(organisation),
      seeds: [1],
    });
    expect(bundle.spec.agents.map((a) => a.name).sort()).toEqual(organisation.agents.map((a) => a.name).sort());
    expect(bundle.spec.hpaBase).toMatchObject({ source: 'tuned-hpa' });
    for (const f of hpaFiles) {
      const [hpa] = validateManifestsYaml(gitCli(repo, 'show', `refs/heads/${ref('1.0.0')}:${f}`), f) as { kind: string; metadata: { labels: Record<string, string> }; spec: { metrics: { resource: { target: { averageUtilization: number } } }[]; behavior?: unknown; scaleTargetRef: { name: string } } }[];
      expect(hpa!.kind).toBe('HorizontalPodAutoscaler');
      expect(hpa!.metadata.labels['karma-hpa.io/governed']).toBe('true');
      expect(hpa!.spec.metrics[0]!.resource.target.averageUtilization).toBe(bundle.spec.hpaBase!.cpuTargetPercent);
      expect(hpa!.spec.behavior).toEqual(bundle.spec.hpaBase!.behavior);
      expect(bundle.spec.targets.map((x) => x.hpaName)).toContain(hpa!.spec.scaleTargetRef.name);
    }
    for (const a of bundle.spec.agents) expect(a.ruleFidelity).toBeGreaterThanOrEqual(0);
    expect(bundle.spec.agents.some((a) => (a.rules ?? []).length > 0)).toBe(true);
    const rows = bundle.spec.evaluation!.scenarios;
    expect(rows.map((s) => `${s.scenario}/${s.method}/${s.seeds}`).sort()).toEqual(['ddos/default-hpa/2', 'ddos/mas/2']);
    expect(bundle.spec.evaluation!.baseline).toBe('default-hpa');
    // Evaluation seeds lie above every training seed.
    expect(result.evaluation.seeds).toEqual([EVALUATION_SEED_BASE, EVALUATION_SEED_BASE + 1]);

    // Report and plots beside the bundle, provenance appended.
    const report = readFileSync(join(work, 'run', 'bundle', 'report.md'), 'utf8');
    expect(report).toContain('## Evaluation');
    expect(report).toContain('## Provenance');
    expect(report).toContain(`| HPA the agents act through | tuned HPA: CPU ${bundle.spec.hpaBase!.cpuTargetPercent} %`);
    expect(report).toContain(bundle.spec.provenance.twinDigest);
    expect(readdirSync(join(work, 'run', 'bundle', 'plots')).filter((f) => f.endsWith('.svg')).length).toBeGreaterThan(0);
    for (const f of ['train/policies.json', 'train/curves.json', 'evaluation/summary.json', 'analysis/trajectories/recorded.json', 'bundle/pull-request.md']) {
      expect(existsSync(join(work, 'run', f)), f).toBe(true);
    }
    expect(result.bundle).toMatchObject({ version: '1.0.0', digest: bundle.spec.digest });
    expect(result.bundle.previousVersion).toBeUndefined();
    expect(result.evaluation.success.map((s) => s.method)).toEqual(['mas', 'default-hpa']);
  });

  it('is deterministic, and a changed input bumps the version onto a second branch', async () => {
    const work = tempDir('generate');
    const first = await generate(work, [...TINY, '--repo', 'a', '--out', 'run-a', '--commit-time', COMMIT_TIME]);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toContain(`karma-hpa generate: ${APP} v1.0.0 published`);
    expect(first.out).toMatch(/success {3}MAS \d+\.\d % vs default HPA \d+\.\d %/);
    expect(first.out).toMatch(/cost {6}MAS \d+ vs default HPA \d+ replica·s per episode/);
    expect(first.out).toContain(`git -C a log --oneline --graph --all`);

    // Same seed, inputs and commit time into another repository: the same bytes and the same commit.
    const second = await generate(work, [...TINY, '--repo', 'b', '--out', 'run-b', '--commit-time', String(COMMIT_SECONDS)]);
    expect(second.code, second.err).toBe(0);
    const bytesA = readFileSync(join(work, 'run-a', 'bundle', 'bundle.json'));
    expect(readFileSync(join(work, 'run-b', 'bundle', 'bundle.json')).equals(bytesA)).toBe(true);
    expect(gitCli(join(work, 'b'), 'rev-parse', `refs/heads/${ref('1.0.0')}`)).toBe(gitCli(join(work, 'a'), 'rev-parse', `refs/heads/${ref('1.0.0')}`));

    // The same configuration again into the first repository: that version is already published.
    const again = await generate(work, [...TINY, '--repo', 'a', '--out', 'run-c', '--commit-time', COMMIT_TIME]);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain(`${APP} v1.0.0 already published`);
    expect(readFileSync(join(work, 'run-c', 'bundle', 'bundle.json')).equals(bytesA)).toBe(true);

    // Another seed trains other weights: a minor version after the published one, on its own branch.
    const third = await generate(work, [...TINY, '--seed', '2', '--repo', 'a', '--out', 'run-d', '--commit-time', COMMIT_TIME, '--json']);
    expect(third.code, third.err).toBe(0);
    const result = JSON.parse(third.out) as GenerateResult;
    expect(result.bundle).toMatchObject({ version: '1.1.0', previousVersion: '1.0.0', previousRef: `refs/tags/${tagRef('1.0.0')}` });
    const repo = join(work, 'a');
    expect(gitCli(repo, 'fsck', '--strict')).toBe('');
    expect(gitCli(repo, 'for-each-ref', '--format=%(refname)', 'refs/heads/karma-hpa', 'refs/tags').split('\n').sort()).toEqual([
      `refs/heads/${ref('1.0.0')}`, `refs/heads/${ref('1.1.0')}`, `refs/tags/${tagRef('1.0.0')}`, `refs/tags/${tagRef('1.1.0')}`,
    ]);
    expect(readBundle(join(work, 'run-d', 'bundle', 'bundle.json')).spec.provenance.seeds).toEqual([2]);
  });

  it('names the failing stage, and a failed publish leaves the repository as it was', async () => {
    const work = tempDir('generate');
    const bad = await generate(work, [...TINY, '--scenarios', 'no-such-scenario', '--out', 'run']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('karma-hpa generate: error: model stage failed: --scenario: unknown scenario "no-such-scenario"');
    expect(existsSync(join(work, 'gitops'))).toBe(false);
    const noOrganisation = await generate(work, [...TINY, '--organisation', 'missing.yaml', '--out', 'run']);
    expect(noOrganisation.code).toBe(2);
    expect(noOrganisation.err).toMatch(/error: train stage failed: .*missing\.yaml: cannot read organisation file/);

    // A branch of the version to publish already exists with other content: publishing must refuse.
    const repo = join(work, 'gitops');
    gitCli(work, 'init', '-q', '-b', 'main', repo);
    gitCli(repo, 'commit', '-q', '--allow-empty', '-m', 'start');
    gitCli(repo, 'branch', ref('1.0.0'));
    const refsBefore = gitCli(repo, 'for-each-ref');
    const headBefore = gitCli(repo, 'symbolic-ref', 'HEAD');
    const failed = await generate(work, [...TINY, '--out', 'run', '--commit-time', COMMIT_TIME]);
    expect(failed.code).toBe(2);
    expect(failed.err).toContain('publish stage failed: branch karma-hpa/chained-services/v1.0.0 already exists with other content');
    expect(gitCli(repo, 'for-each-ref')).toBe(refsBefore);
    expect(gitCli(repo, 'symbolic-ref', 'HEAD')).toBe(headBefore);
    expect(gitCli(repo, 'status', '--porcelain')).toBe('');
    // The stages before it did their work.
    expect(validateBundle(JSON.parse(readFileSync(join(work, 'run', 'bundle', 'bundle.json'), 'utf8'))).ok).toBe(true);
  });

  it('--traces runs the Model phase and records the fitted twin in provenance and report', async () => {
    const work = tempDir('generate');
    const traces = join(import.meta.dirname, '..', '..', 'fixtures', 'model', 'nezha-slice');
    const r = await generate(work, ['--quick', ...TINY, '--traces', traces, '--hpa-base', 'topology', '--out', 'run', '--commit-time', COMMIT_TIME, '--json']);
    expect(r.code, r.err).toBe(0);
    const result = JSON.parse(r.out) as GenerateResult;
    const twin = JSON.parse(readFileSync(join(work, 'run', 'model', 'twin.json'), 'utf8')) as { digest: string; provenance: { files: { sha256: string }[] } };
    const bundle = readBundle(join(work, 'run', 'bundle', 'bundle.json'));
    expect(bundle.spec.provenance.twinDigest).toBe(twin.digest);
    expect(bundle.spec.provenance.traceDigests).toEqual(twin.provenance.files.map((f) => `sha256:${f.sha256}`).sort());
    expect(bundle.spec.provenance.traceDigests.length).toBeGreaterThan(3);
    expect(result.twin.model?.digest).toBe(twin.digest);
    const report = readFileSync(join(work, 'run', 'bundle', 'report.md'), 'utf8');
    expect(report).toContain('## Twin fidelity');
    expect(report).toContain(`twin fitted from traces | \`nezha-slice\``);
    // On the topology's own HPAs: no base recorded, no HPAs proposed beside the bundle.
    expect(report).toContain("| HPA the agents act through | the topology's own HPAs |");
    expect(existsSync(join(work, 'run', 'bundle', 'hpa'))).toBe(false);
    expect((JSON.parse(readFileSync(join(work, 'run', 'bundle', 'bundle.json'), 'utf8')) as PolicyBundle).spec.hpaBase).toBeUndefined();
  });

  it('--candidates trains several seeds and keeps the one that validates best', async () => {
    const work = tempDir('generate');
    const r = await generate(work, [...TINY, '--candidates', '2', '--out', 'run', '--commit-time', COMMIT_TIME, '--json']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/train seed 1: 2\/2 \(100%\)/);
    expect(r.err).toMatch(/train seed 2: 2\/2 \(100%\)/);
    const train = join(work, 'run', 'train');
    const selection = JSON.parse(readFileSync(join(train, 'selection.json'), 'utf8')) as { selected: number; maxCostRatio: number; runs: { seed: number; meanFailedShare: number; meanCostRatio: number }[] };
    expect(selection.runs.map((run) => run.seed)).toEqual([1, 2]);
    const affordable = selection.runs.filter((run) => run.meanCostRatio <= selection.maxCostRatio);
    const expected = affordable.length > 0
      ? [...affordable].sort((a, b) => a.meanFailedShare - b.meanFailedShare || a.meanCostRatio - b.meanCostRatio || a.seed - b.seed)[0]!.seed
      : [...selection.runs].sort((a, b) => a.meanCostRatio - b.meanCostRatio || a.meanFailedShare - b.meanFailedShare || a.seed - b.seed)[0]!.seed;
    expect(selection.selected).toBe(expected);
    expect(r.err).toContain(`kept seed ${expected} of 1, 2`);
    // Each candidate's last iteration was validated, and the kept run's files are the run's.
    for (const seed of [1, 2]) {
      const curves = JSON.parse(readFileSync(join(train, `seed-${seed}`, 'curves.json'), 'utf8')) as { iterations: { validation?: { meanCostRatio: number } }[] };
      expect(curves.iterations[1]!.validation!.meanCostRatio).toBe(selection.runs.find((run) => run.seed === seed)!.meanCostRatio);
    }
    const policies = readFileSync(join(train, 'policies.json'), 'utf8');
    expect(policies).toBe(readFileSync(join(train, `seed-${expected}`, 'policies.json'), 'utf8'));
    const bundle = readBundle(join(work, 'run', 'bundle', 'bundle.json'));
    expect(bundle.spec.provenance.seeds).toEqual([expected]);
    const weights = (agents: { name: string; network: { weights: string } }[]) => agents.map((a) => [a.name, a.network.weights]);
    expect(weights(bundle.spec.agents as never)).toEqual(weights((JSON.parse(policies) as { agents: never[] }).agents));
    expect(readFileSync(join(work, 'run', 'bundle', 'report.md'), 'utf8')).toContain(`2 runs, seeds 1–2, seed ${expected} kept by validation`);
  });

  it('refuses bad options before any stage runs', async () => {
    const work = tempDir('generate');
    const remote = await generate(work, ['--repo', 'https://git.example.com/gitops.git']);
    expect(remote.code).toBe(2);
    expect(remote.err).toContain('--repo must be a local repository');
    const app = await generate(work, ['--app', 'Shop_1']);
    expect(app.err).toContain('--app "Shop_1" is not a DNS label');
    const time = await generate(work, ['--commit-time', 'noon']);
    expect(time.err).toContain('--commit-time: "noon" is not Unix seconds or an RFC 3339 time');
    expect(await generate(work, ['--baselines', 'hpa-9000'])).toMatchObject({ code: 2, err: expect.stringContaining('unknown baseline "hpa-9000"') });
    expect(await generate(work, ['--hpa-base', 'fastest'])).toMatchObject({ code: 2, err: expect.stringContaining('--hpa-base must be "tuned" or "topology", got "fastest"') });
    expect(await generate(work, ['--candidates', '0'])).toMatchObject({ code: 2, err: expect.stringContaining('--candidates') });
    for (const r of [remote, app, time]) expect(r.err).not.toContain('[1/6]');
    expect(readdirSync(work)).toEqual([]);
  });

  it('--help documents every option', async () => {
    const io = captureIo();
    expect(await main(['generate', '--help'], io)).toBe(0);
    for (const name of Object.keys(generateCommand.options)) expect(io.stdout()).toContain(`--${name}`);
    expect(io.stdout()).toContain('(default: gitops)');
  });
});
