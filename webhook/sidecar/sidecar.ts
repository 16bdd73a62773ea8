/**
 * The runtime sidecar: every tick (15 s by default, the HPA sync period) it reads the metrics of the
 * governed HPAs' services, evaluates the agents of the synced PolicyBundles, and applies their guarded
 * decisions to the HPAs' bounds, recording each on the HPA (annotation) and as an Event. It leads
 * through a Lease, so several replicas are safe; in shadow mode it decides and records but patches nothing.
 */
import { performance } from 'node:perf_hooks';
import { guardsFor, targetFor, type PolicyBundle } from '../../policies/bundle.ts';
import { BUNDLE_ANNOTATION, DECISION_ANNOTATION, GOVERNED_LABEL } from '../../policies/annotations.ts';
import type { ClusterSnapshot } from '../../policies/snapshot.ts';
import type { Scheduler } from './clock.ts';
import { ApiError, type ClusterPort, type HpaObject, type PatchMode } from './cluster-port.ts';
import { BundleWatcher } from './bundle-watch.ts';
import { evaluateAgents, planHpa, type AgentVerdict, type HpaPlan } from './decide.ts';
import { LeaderElector } from './lease.ts';
import type { MetricsCollector } from './metrics-source.ts';
import { Telemetry } from './telemetry.ts';

export interface SidecarOptions {
  port: ClusterPort;
  scheduler: Scheduler;
  collector: MetricsCollector;
  /** This replica's name (pod name in a cluster): the Lease holder and the Events' reporting instance. */
  identity: string;
  /** Govern HPAs (and watch bundles) in one namespace, or all when undefined. */
  namespace?: string;
  shadow?: boolean;
  tickSeconds?: number;
  patchMode?: PatchMode;
  /** Leader election on a Lease; false runs without it (a single replica). */
  leaderElection?: false | { namespace: string; name?: string; leaseDurationSeconds?: number; retryPeriodSeconds?: number };
  maxPatchAttempts?: number;
  telemetry?: Telemetry;
  log?: (line: string) => void;
}

export interface HpaOutcome {
  hpa: string;
  plan: HpaPlan;
  /** applied: the API accepted the patch; shadow: not patched by design; failed: gave up (see error). */
  result: 'applied' | 'shadow' | 'none' | 'failed';
  attempts: number;
  error?: string;
}

export interface TickReport {
  timeMs: number;
  skipped?: string;
  outcomes: HpaOutcome[];
  error?: string;
}

const TICK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const HISTORY = 8;

export class Sidecar {
  readonly telemetry: Telemetry;
  readonly bundles: BundleWatcher;
  readonly elector: LeaderElector | undefined;
  private readonly opts: SidecarOptions;
  private readonly history = new Map<string, ClusterSnapshot[]>();
  private readonly recorded = new Map<string, string>();
  private timer: unknown;
  private running = false;
  lastTick: TickReport | undefined;

  constructor(opts: SidecarOptions) {
    this.opts = opts;
    this.telemetry = opts.telemetry ?? new Telemetry();
    const log = opts.log ?? (() => undefined);
    this.bundles = new BundleWatcher(opts.port, opts.scheduler, {
      namespace: opts.namespace,
      log,
      onLoad: (key, b) => {
        this.telemetry.set('karma_sidecar_bundles', 'PolicyBundles in force (last good versions)', this.bundles.goodBundles().length);
        log(`policy bundle ${key} loaded: version ${b.spec.version}, ${b.spec.agents.length} agents, digest ${b.spec.digest}`);
        this.telemetry.inc('karma_sidecar_bundle_loads_total', 'PolicyBundle versions loaded', { bundle: key });
      },
      onRefuse: (key, errors) => {
        log(`policy bundle ${key} refused, keeping the last good version: ${errors.join('; ')}`);
        this.telemetry.inc('karma_sidecar_bundle_refusals_total', 'PolicyBundles refused (schema or digest)', { bundle: key });
      },
    });
    if (opts.leaderElection) {
      const le = opts.leaderElection;
      this.elector = new LeaderElector(opts.port, opts.scheduler, {
        identity: opts.identity,
        namespace: le.namespace,
        name: le.name ?? 'karma-hpa-sidecar',
        leaseDurationSeconds: le.leaseDurationSeconds ?? 15,
        retryPeriodSeconds: le.retryPeriodSeconds ?? 5,
        onChange: (leading, holder) => {
          log(leading ? `${opts.identity} leads` : holder ? `${opts.identity} follows ${holder}` : `${opts.identity} does not hold the lease`);
          this.telemetry.set('karma_sidecar_leader', 'Whether this replica holds the lease (1) or not (0)', leading ? 1 : 0);
          this.telemetry.inc('karma_sidecar_leader_changes_total', 'Times this replica gained or lost the lease');
        },
      });
    }
    this.telemetry.set('karma_sidecar_leader', 'Whether this replica holds the lease (1) or not (0)', 0);
  }

  get tickMs(): number {
    return (this.opts.tickSeconds ?? 15) * 1000;
  }

  /** Start watching bundles, electing, and (unless `ticking: false`, when the caller drives `tick`) ticking. */
  async start(opts: { ticking?: boolean } = {}): Promise<void> {
    this.running = true;
    await this.bundles.start();
    if (this.elector) await this.elector.start();
    if (opts.ticking ?? true) this.schedule();
  }

  /** Stop ticking and watching; `release: false` leaves the lease to expire, as a crashed replica would. */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) this.opts.scheduler.clearTimeout(this.timer);
    this.bundles.stop();
    await this.elector?.stop(opts.release ?? true);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.opts.scheduler.setTimeout(async () => {
      await this.tick();
      this.schedule();
    }, this.tickMs);
  }

  /** One control period. Never throws: failures are reported and the next tick tries again. */
  async tick(): Promise<TickReport> {
    const started = performance.now();
    const now = this.opts.scheduler.now();
    const t = this.telemetry;
    let report: TickReport;
    const leading = this.elector ? this.elector.isLeader() : true;
    t.set('karma_sidecar_leader', 'Whether this replica holds the lease (1) or not (0)', leading ? 1 : 0);
    if (!leading) {
      report = { timeMs: now, skipped: `not the leader (lease held by ${this.elector?.holder ?? 'nobody'})`, outcomes: [] };
    } else {
      try {
        report = { timeMs: now, outcomes: await this.control(now) };
      } catch (e) {
        const message = e instanceof ApiError ? `${e.status} ${e.reason}: ${e.message}` : (e as Error).message;
        this.opts.log?.(`tick failed: ${message}`);
        t.inc('karma_sidecar_tick_errors_total', 'Ticks that failed before deciding (API or metrics unreachable)');
        report = { timeMs: now, outcomes: [], error: message };
      }
    }
    t.observe('karma_sidecar_tick_duration_seconds', 'Wall time of one control tick', (performance.now() - started) / 1000, TICK_BUCKETS);
    this.lastTick = report;
    return report;
  }

  private governing(hpa: HpaObject, bundles: PolicyBundle[]): { bundle: PolicyBundle; target: NonNullable<ReturnType<typeof targetFor>> } | undefined {
    const identity = { namespace: hpa.metadata.namespace ?? 'default', name: hpa.metadata.name, labels: hpa.metadata.labels };
    for (const bundle of bundles) {
      const target = targetFor(bundle, identity);
      if (target) return { bundle, target };
    }
    return undefined;
  }

  private async control(now: number): Promise<HpaOutcome[]> {
    const hpas = await this.opts.port.listHpas(this.opts.namespace, `${GOVERNED_LABEL}=true`);
    const bundles = this.bundles.goodBundles().sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
    const governed = hpas.map((hpa) => ({ hpa, gov: this.governing(hpa, bundles) }));

    // Metrics for every governed service, one snapshot per bundle (a bundle's agents see its services).
    const services = new Map<string, { service: string; namespace: string; hpa: HpaObject }>();
    for (const { hpa, gov } of governed) {
      if (gov) services.set(`${gov.target.namespace}/${gov.target.service}`, { service: gov.target.service, namespace: gov.target.namespace, hpa });
    }
    const collected = await this.opts.collector.collect([...services.values()], now);
    const verdicts = new Map<PolicyBundle, AgentVerdict[]>();
    for (const bundle of new Set(governed.flatMap(({ gov }) => (gov ? [gov.bundle] : [])))) {
      const key = `${bundle.metadata.namespace}/${bundle.metadata.name}`;
      const history = [...(this.history.get(key) ?? []), collected.snapshot].slice(-HISTORY);
      this.history.set(key, history);
      verdicts.set(bundle, evaluateAgents(bundle, history));
    }

    const outcomes: HpaOutcome[] = [];
    for (const { hpa, gov } of governed) {
      let bundleProblem: string | undefined;
      let bundleGone = false;
      if (!gov) {
        // Labelled but claimed by no valid bundle: act only on an HPA a bundle governed before, giving
        // it back its base spec when that bundle was refused or deleted.
        const named = hpa.metadata.annotations?.[BUNDLE_ANNOTATION]?.split('@')[0];
        if (!named || !hpa.metadata.annotations?.[DECISION_ANNOTATION]) continue;
        const entry = this.bundles.entries.get(named);
        if (entry?.refused) bundleProblem = entry.refused.errors.slice(0, 2).join('; ');
        else if (!entry) bundleGone = true;
        else continue;
      }
      const input = {
        nowMs: now,
        bundle: gov?.bundle,
        bundleProblem,
        bundleGone,
        target: gov?.target,
        guards: gov ? guardsFor(gov.bundle, gov.target) : undefined,
        verdicts: gov ? verdicts.get(gov.bundle) ?? [] : [],
        health: gov ? collected.health[gov.target.service] : undefined,
      };
      outcomes.push(await this.enact(hpa, input));
    }
    return outcomes;
  }

  /** Carry out one HPA's plan: patch with retries (unless shadow), then record it. */
  private async enact(hpa: HpaObject, input: Omit<Parameters<typeof planHpa>[0], 'hpa'>): Promise<HpaOutcome> {
    const t = this.telemetry;
    const name = `${hpa.metadata.namespace}/${hpa.metadata.name}`;
    let plan = planHpa({ ...input, hpa });
    let current = hpa;
    let attempts = 0;
    let result: HpaOutcome['result'] = 'none';
    let error: string | undefined;
    const maxAttempts = this.opts.maxPatchAttempts ?? 5;
    if (plan.change && this.opts.shadow) result = 'shadow';
    while (plan.change && !this.opts.shadow && attempts < maxAttempts) {
      attempts++;
      try {
        current = await this.opts.port.patchHpa(current.metadata.namespace ?? 'default', current.metadata.name, plan.change, this.opts.patchMode ?? 'merge');
        result = 'applied';
        error = undefined;
        break;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        error = `${e.status} ${e.reason}: ${e.message}`;
        result = 'failed';
        if (e.status === 409) {
          // Someone changed the HPA since we read it: re-read and decide again on the fresh object.
          t.inc('karma_sidecar_conflicts_total', 'Patches refused with 409 Conflict (retried after re-reading)');
          await this.opts.scheduler.sleep(backoffMs(attempts));
          try {
            current = await this.opts.port.getHpa(current.metadata.namespace ?? 'default', current.metadata.name);
          } catch (readError) {
            if (!(readError instanceof ApiError)) throw readError;
          }
          plan = planHpa({ ...input, hpa: current });
          if (!plan.change) result = 'none';
        } else if (e.status === 429) {
          await this.opts.scheduler.sleep(e.retryAfterSeconds !== undefined ? e.retryAfterSeconds * 1000 : backoffMs(attempts));
        } else if (e.retryable) {
          await this.opts.scheduler.sleep(backoffMs(attempts));
        } else {
          break;
        }
      }
    }

    t.inc('karma_sidecar_decisions_total', 'Decisions made, by agent, role and kind', { agent: plan.agent, role: plan.role, kind: plan.kind });
    if (plan.kind === 'fallback') t.inc('karma_sidecar_fallbacks_total', 'Decisions that fell back to the base spec, by cause', { cause: plan.fallbackCause ?? 'unknown' });
    if (result === 'applied') t.inc('karma_sidecar_patches_total', 'HPA patches, by result', { result: 'applied' });
    if (result === 'failed') t.inc('karma_sidecar_patches_total', 'HPA patches, by result', { result: 'failed' });
    await this.record(current, plan, result, error);
    return { hpa: name, plan, result, attempts, ...(error && result === 'failed' ? { error } : {}) };
  }

  /** An Event (and a log line) when the decision differs from the last one recorded for the HPA. */
  private async record(hpa: HpaObject, plan: HpaPlan, result: HpaOutcome['result'], error: string | undefined): Promise<void> {
    const key = `${hpa.metadata.namespace}/${hpa.metadata.name}`;
    const signature = `${plan.signature}|${result}`;
    if (this.recorded.get(key) === signature) return;
    const message = result === 'shadow' ? `shadow mode, not applied: ${plan.message}`
      : result === 'failed' ? `could not apply (${error}): ${plan.message}` : plan.message;
    this.opts.log?.(`${key}: ${message}`);
    try {
      await this.opts.port.createEvent({
        namespace: hpa.metadata.namespace ?? 'default',
        hpaName: hpa.metadata.name,
        hpaUid: hpa.metadata.uid,
        type: plan.kind === 'fallback' || result === 'failed' ? 'Warning' : 'Normal',
        reason: 'KarmaDecision',
        action: plan.kind === 'apply' ? 'Scale' : plan.kind === 'fallback' ? 'Fallback' : plan.kind === 'hold' ? 'Cooldown' : plan.kind === 'paused' ? 'Paused' : 'Keep',
        message: fitBytes(message, 1024),
        timeMs: this.opts.scheduler.now(),
        reportingInstance: this.opts.identity,
      });
      this.recorded.set(key, signature);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      this.opts.log?.(`${key}: event not recorded: ${e.message}`);
    }
  }
}

/** The API server refuses Event messages over 1 KiB; cut on a character boundary and mark the cut. */
function fitBytes(text: string, limit: number): string {
  if (Buffer.byteLength(text) <= limit) return text;
  let cut = text.slice(0, limit - 3);
  while (Buffer.byteLength(cut) > limit - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

function backoffMs(attempt: number): number {
  return Math.min(10_000, 200 * 2 ** (attempt - 1));
}
