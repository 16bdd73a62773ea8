/**
 * Leader election on a coordination.k8s.io/v1 Lease, so that of several sidecar replicas exactly one
 * patches HPAs. The decision is a pure function of the Lease as read and of what this replica observed
 * before; LeaderElector does the reads and writes. As in client-go, expiry is judged by when this
 * replica last saw the lease record change (its own clock), never by comparing clocks across machines.
 */
import type { Scheduler } from './clock.ts';
import { ApiError, type ClusterPort, type LeaseObject } from './cluster-port.ts';

export interface LeaseRecord {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
}

/** What this replica remembers of the lease: the last record it saw and when (its clock) it changed. */
export interface LeaseObservation {
  record: LeaseRecord;
  observedAtMs: number;
}

export type LeaseAction =
  | { kind: 'create'; spec: LeaseRecord }
  | { kind: 'renew'; spec: LeaseRecord }
  | { kind: 'takeover'; spec: LeaseRecord }
  | { kind: 'follow'; holder: string; expiresAtMs: number };

export interface LeaseConfig {
  identity: string;
  leaseDurationSeconds: number;
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (a.holderIdentity ?? '') === (b.holderIdentity ?? '') && (a.renewTime ?? '') === (b.renewTime ?? '')
    && (a.leaseTransitions ?? 0) === (b.leaseTransitions ?? 0);
}

/** Update the observation with a freshly read record: the clock restarts only when the record changed. */
export function observeLease(previous: LeaseObservation | undefined, record: LeaseRecord, nowMs: number): LeaseObservation {
  if (previous && sameRecord(previous.record, record)) return previous;
  return { record, observedAtMs: nowMs };
}

/**
 * What to do given the lease as read now (undefined: it does not exist yet) and this replica's
 * observation of it (already updated with `observeLease`).
 */
export function leaseDecision(lease: LeaseRecord | undefined, observation: LeaseObservation | undefined, nowMs: number, config: LeaseConfig): LeaseAction {
  const fresh = (transitions: number): LeaseRecord => ({
    holderIdentity: config.identity,
    leaseDurationSeconds: config.leaseDurationSeconds,
    acquireTime: microTime(nowMs),
    renewTime: microTime(nowMs),
    leaseTransitions: transitions,
  });
  if (lease === undefined) return { kind: 'create', spec: fresh(0) };
  const holder = lease.holderIdentity ?? '';
  if (holder === config.identity) {
    return { kind: 'renew', spec: { ...lease, leaseDurationSeconds: config.leaseDurationSeconds, renewTime: microTime(nowMs) } };
  }
  const transitions = (lease.leaseTransitions ?? 0) + 1;
  if (holder === '') return { kind: 'takeover', spec: fresh(transitions) };
  const durationMs = (lease.leaseDurationSeconds ?? config.leaseDurationSeconds) * 1000;
  const expiresAtMs = (observation?.observedAtMs ?? nowMs) + durationMs;
  if (nowMs >= expiresAtMs) return { kind: 'takeover', spec: fresh(transitions) };
  return { kind: 'follow', holder, expiresAtMs };
}

export interface LeaderElectorOptions extends LeaseConfig {
  namespace: string;
  name: string;
  /** How often to try to acquire or renew. */
  retryPeriodSeconds: number;
  onChange?: (leading: boolean, holder: string | undefined) => void;
}

/** The I/O around leaseDecision: read, create or update the Lease with optimistic concurrency. */
export class LeaderElector {
  private readonly port: ClusterPort;
  private readonly scheduler: Scheduler;
  private readonly opts: LeaderElectorOptions;
  private observation: LeaseObservation | undefined;
  private lastRenewMs: number | undefined;
  private timer: unknown;
  private stopped = true;
  holder: string | undefined;

  constructor(port: ClusterPort, scheduler: Scheduler, opts: LeaderElectorOptions) {
    this.port = port;
    this.scheduler = scheduler;
    this.opts = opts;
  }

  /** Leading means: our last successful renew is younger than the lease duration. */
  isLeader(): boolean {
    return this.lastRenewMs !== undefined && this.scheduler.now() - this.lastRenewMs < this.opts.leaseDurationSeconds * 1000;
  }

  start(): Promise<boolean> {
    this.stopped = false;
    return this.loop();
  }

  private async loop(): Promise<boolean> {
    const leading = await this.tryAcquireOrRenew();
    if (!this.stopped) this.timer = this.scheduler.setTimeout(() => this.loop(), this.opts.retryPeriodSeconds * 1000);
    return leading;
  }

  /** One attempt; returns whether this replica leads afterwards. Never throws. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const before = this.isLeader();
    const now = this.scheduler.now();
    try {
      const lease = await this.port.getLease(this.opts.namespace, this.opts.name);
      const record = lease?.spec ?? undefined;
      if (record) this.observation = observeLease(this.observation, record, now);
      const action = leaseDecision(record, this.observation, now, this.opts);
      if (action.kind === 'follow') {
        this.holder = action.holder;
        this.lastRenewMs = undefined;
      } else {
        const written = action.kind === 'create'
          ? await this.port.createLease(this.opts.namespace, this.opts.name, action.spec)
          : await this.port.replaceLease({ ...(lease as LeaseObject), spec: action.spec });
        this.observation = observeLease(this.observation, written.spec ?? action.spec, now);
        this.lastRenewMs = now;
        this.holder = this.opts.identity;
      }
    } catch (e) {
      // A lost race (409) or an unreachable API: not leading until a later attempt succeeds.
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 409) this.lastRenewMs = undefined;
    }
    const after = this.isLeader();
    if (after !== before) this.opts.onChange?.(after, this.holder);
    return after;
  }

  /** Stop trying; when leading, hand the lease over at once by clearing the holder. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    if (!release || !this.isLeader()) {
      this.lastRenewMs = undefined;
      return;
    }
    try {
      const lease = await this.port.getLease(this.opts.namespace, this.opts.name);
      if (lease?.spec?.holderIdentity === this.opts.identity) {
        await this.port.replaceLease({ ...lease, spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(this.scheduler.now()) } });
      }
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
    this.lastRenewMs = undefined;
    this.opts.onChange?.(false, undefined);
  }
}
