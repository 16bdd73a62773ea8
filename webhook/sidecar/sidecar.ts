/**
 * The runtime sidecar: every tick (15 s by default, the HPA sync period) it reads the metrics of the
 * governed HPAs' services, evaluates the agents of the synced PolicyBundles, and applies their guarded
 * decisions to the HPAs' bounds, recording each on the HPA (annotation) and as an Event, and reporting
 * on each bundle's status. It leads through a Lease, so several replicas are safe; in shadow mode it
 * decides and records but patches no HPA.
 */
import { performance } from 'node:perf_hooks';
import { guardsFor, targetFor, type PolicyBundle } from '../../policies/bundle.ts';
import { BUNDLE_ANNOTATION, DECISION_ANNOTATION, GOVERNED_LABEL } from '../../policies/annotations.ts';
import type { ClusterSnapshot } from '../../policies/snapshot.ts';
import type { Scheduler } from './clock.ts';
import { ApiError, type ClusterPort, type EventAction, type HpaObject, type PatchMode } from './cluster-port.ts';
import { BundleWatcher } from './bundle-watch.ts';
import { desiredBundleStatus, statusPatch, type BundleActivity } from './bundle-status.ts';
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
/** Events per HPA: a burst of this many, then one more per EVENT_REFILL_MS (a flapping decision cannot flood). */
const EVENT_BURST = 10;
const EVENT_REFILL_MS = 60_000;

/** The Event action for what was done with a plan. */
export function eventAction(plan: HpaPlan, result: HpaOutcome['result']): EventAction {
  if (result === 'shadow') return 'Shadow';
  switch (plan.kind) {
    case 'apply': return 'Scale';
    case 'fallback': return 'Fallback';
    case 'hold': return 'Hold';
    case 'paused': return 'Pause';
    default: return 'Keep';
  }
}

/** The status last written on a bundle, with the resourceVersions before and after the write. */
interface StatusWrite { status: Record<string, unknown>; basedOn?: string; result?: string }

export class Sidecar {
  readonly telemetry: Telemetry;
  readonly bundles: BundleWatcher;
  readonly elector: LeaderElector | undefined;
  private readonly opts: SidecarOptions;
  private readonly history = new Map<string, ClusterSnapshot[]>();
  private readonly recorded = new Map<string, string>();
  private readonly eventTokens = new Map<string, { tokens: number; atMs: number }>();
  /** Per HPA: the signature of its last plan, to tell a new decision from a repeated one. */
  private readonly lastPlan = new Map<string, string>();
  /** Per bundle key: new fallback decisions and the time of the last new bounds decision. */
  private readonly fallbackCount = new Map<string, number>();
  private readonly lastDecisionMs = new Map<string, number>();
  private readonly statusWrites = new Map<string, StatusWrite>();
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
    const activity = new Map<string, BundleActivity>();
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
      const outcome = await this.enact(hpa, input);
      outcomes.push(outcome);
      const bundleKey = gov ? bundleKeyOf(gov.bundle) : hpa.metadata.annotations?.[BUNDLE_ANNOTATION]?.split('@')[0] ?? '';
      this.account(bundleKey, outcome, now, gov ? activity : undefined);
    }
    await this.reportBundleStatus(now, activity);
    return outcomes;
  }

  /** Count what a bundle's HPA did this tick: for its status (governed HPAs, fallbacks, last decision). */
  private account(bundleKey: string, outcome: HpaOutcome, now: number, activity: Map<string, BundleActivity> | undefined): void {
    const plan = outcome.plan;
    if (activity) {
      const a = activity.get(bundleKey) ?? { kinds: [], fallbackCauses: [] };
      a.kinds.push(plan.kind);
      if (plan.fallbackCause) a.fallbackCauses.push(plan.fallbackCause);
      activity.set(bundleKey, a);
    }
    const isNew = this.lastPlan.get(outcome.hpa) !== plan.signature;
    this.lastPlan.set(outcome.hpa, plan.signature);
    if (!isNew) return;
    if (plan.kind === 'fallback') this.fallbackCount.set(bundleKey, (this.fallbackCount.get(bundleKey) ?? 0) + 1);
    if (outcome.result === 'applied' || outcome.result === 'shadow') this.lastDecisionMs.set(bundleKey, now);
  }

  /**
   * Bring every bundle's status up to date through the /status subresource, writing only what changed.
   * Runs on the leader only (control runs only there); a failed write is logged and counted, never thrown.
   */
  private async reportBundleStatus(now: number, activity: Map<string, BundleActivity>): Promise<void> {
    const t = this.telemetry;
    for (const [key, entry] of [...this.bundles.entries].sort(([a], [b]) => a.localeCompare(b))) {
      const [namespace, name] = key.split('/') as [string, string];
      if (!name) continue;
      const observedRv = entry.observed?.resourceVersion;
      const written = this.statusWrites.get(key);
      // Until the watch shows our write (or anything newer), what we wrote is the status as it stands.
      const previous = written && (observedRv === written.basedOn || observedRv === written.result) ? written.status : entry.observed?.status;
      const desired = desiredBundleStatus({
        entry, shadow: this.opts.shadow ?? false, activity: activity.get(key) ?? { kinds: [], fallbackCauses: [] },
        lastDecisionMs: this.lastDecisionMs.get(key), fallbacks: this.fallbackCount.get(key) ?? 0, nowMs: now,
      }, previous);
      const patch = statusPatch(previous, desired);
      if (!patch) continue;
      try {
        const result = await this.opts.port.patchBundleStatus(namespace, name, patch);
        const status = { ...previous };
        for (const [field, value] of Object.entries(patch)) {
          if (value === null) delete status[field];
          else status[field] = value;
        }
        this.statusWrites.set(key, { status, basedOn: observedRv, result: result.resourceVersion });
        t.inc('karma_sidecar_status_writes_total', 'PolicyBundle status writes, by result', { result: 'written' });
      } catch (e) {
        const message = e instanceof ApiError ? `${e.status} ${e.reason}: ${e.message}` : (e as Error).message;
        this.opts.log?.(`policy bundle ${key}: status not written: ${message}`);
        t.inc('karma_sidecar_status_writes_total', 'PolicyBundle status writes, by result', { result: 'failed' });
      }
    }
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

  /**
   * An Event (and a log line) when the decision differs from the last one recorded for the HPA, at most
   * EVENT_BURST in a row and then one per EVENT_REFILL_MS, so a flapping decision cannot flood the API.
   */
  private async record(hpa: HpaObject, plan: HpaPlan, result: HpaOutcome['result'], error: string | undefined): Promise<void> {
    const key = `${hpa.metadata.namespace}/${hpa.metadata.name}`;
    // An applied change and the "keeps" of the ticks after it are one decision; shadow and failure differ.
    const signature = result === 'shadow' || result === 'failed' ? `${plan.signature}|${result}` : plan.signature;
    if (this.recorded.get(key) === signature) return;
    const now = this.opts.scheduler.now();
    const t = this.telemetry;
    const bucket = this.eventTokens.get(key) ?? { tokens: EVENT_BURST, atMs: now };
    bucket.tokens = Math.min(EVENT_BURST, bucket.tokens + (now - bucket.atMs) / EVENT_REFILL_MS);
    bucket.atMs = now;
    this.eventTokens.set(key, bucket);
    if (bucket.tokens < 1) {
      t.inc('karma_sidecar_events_total', 'Events about HPAs, by result', { result: 'rate_limited' });
      return;
    }
    const message = result === 'shadow' ? `shadow mode, not applied: ${plan.message}`
      : result === 'failed' ? `could not apply (${error}): ${plan.message}` : plan.message;
    this.opts.log?.(`${key}: ${message}`);
    try {
      bucket.tokens--;
      await this.opts.port.createEvent({
        namespace: hpa.metadata.namespace ?? 'default',
        hpaName: hpa.metadata.name,
        hpaUid: hpa.metadata.uid,
        type: plan.kind === 'fallback' || result === 'failed' ? 'Warning' : 'Normal',
        reason: plan.kind === 'fallback' ? 'KarmaFallback' : 'KarmaDecision',
        action: eventAction(plan, result),
        note: fitBytes(message, 1024),
        timeMs: now,
        reportingInstance: this.opts.identity,
      });
      this.recorded.set(key, signature);
      t.inc('karma_sidecar_events_total', 'Events about HPAs, by result', { result: 'created' });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      this.opts.log?.(`${key}: event not recorded: ${e.message}`);
      t.inc('karma_sidecar_events_total', 'Events about HPAs, by result', { result: 'failed' });
    }
  }
}

function bundleKeyOf(bundle: PolicyBundle): string {
  return `${bundle.metadata.namespace ?? ''}/${bundle.metadata.name}`;
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
