import { KarmaError } from '../../policies/errors.ts';
import { Rng } from '../../policies/random.ts';
import type { ClusterSnapshot, ServiceSnapshot } from '../../policies/snapshot.ts';
import { reconcileHpa, HPA_SYNC_PERIOD_SECONDS } from './hpa/index.ts';
import type { HpaSpec, PodSample, TimestampedRecommendation, TimestampedScaleEvent } from './hpa/types.ts';
import { compileInjectors, type CompiledInjectors, type InjectorEvent } from './injectors.ts';
import { entryRateSeries } from './load.ts';
import { computeEpisodeMetrics, type EpisodeMetrics } from './metrics.ts';
import { checkScenarioAgainstTopology, type Scenario } from './scenario.ts';
import { F, FIELD_COUNT, TimeSeries } from './series.ts';
import { flowMultipliers, sustainableEntryRate, type Topology, type TwinHpaSpec } from './topology.ts';

export type AutoscalerMode = 'hpa' | 'none' | 'static-max';

export interface SimulationOptions {
  topology: Topology;
  scenario: Scenario;
  seed: number;
  /** Physics step; must divide one second (1, 0.5, 0.25, 0.2, 0.1 …). Default 1. */
  tickSeconds?: number;
  /** hpa (default): the emulated HPA scales every service; none: fixed at minReplicas; static-max: fixed at maxReplicas. */
  autoscaler?: AutoscalerMode;
  /** Keep a log of pod lifecycle events (`podEvents`), for inspection and tests. */
  recordPodEvents?: boolean;
  /** Environment for locating data files (KARMA_HPA_DATA_DIR, KARMA_HPA_CACHE_DIR). */
  env?: Record<string, string | undefined>;
}

/** Epoch of simulated second 0 (fixed, so snapshots and HPA histories are reproducible). */
export const SIMULATION_EPOCH_MS = Date.UTC(2025, 0, 1);
/** Kubernetes' CrashLoopBackOff: first restart delay, doubled per crash, capped; reset after healthy run time. */
export const CRASH_BACKOFF_INITIAL_SECONDS = 10;
export const CRASH_BACKOFF_MAX_SECONDS = 300;
export const CRASH_BACKOFF_RESET_SECONDS = 600;
/** Utilisation at which the per-pod M/M/1 queueing term is capped (beyond it the fluid backlog takes over). */
const RHO_MAX = 0.95;
const LN20 = Math.log(20);

/** Restart delay after the n-th consecutive crash (n ≥ 1): 10, 20, 40, 80, 160, 300, 300 … seconds. */
export function crashLoopBackoffSeconds(consecutiveCrashes: number): number {
  return Math.min(CRASH_BACKOFF_MAX_SECONDS, CRASH_BACKOFF_INITIAL_SECONDS * 2 ** Math.max(0, consecutiveCrashes - 1));
}

const PENDING = 0; // not scheduled on a node
const STARTING = 1; // container started, not ready yet (start-up delay)
const READY = 2;
const BACKOFF = 3; // crashed, waiting for the CrashLoopBackOff restart delay
const LOST = 4; // on a node that disappeared, waiting to be evicted
/** Window of the node CPU rate the sidecar queries (`[1m]`). */
const NODE_CPU_WINDOW_SECONDS = 60;

export type PodState = 'Pending' | 'Starting' | 'Ready' | 'CrashLoopBackOff' | 'Lost';
const STATE_NAMES: PodState[] = ['Pending', 'Starting', 'Ready', 'CrashLoopBackOff', 'Lost'];

interface Pod {
  name: string;
  service: number;
  node: number;
  state: number;
  createdAt: number;
  /** When the kubelet (re)started the container; NaN while unscheduled. */
  startedAt: number;
  readyAt: number;
  /** Last change of the Ready condition. */
  readySince: number;
  restarts: number;
  consecutiveCrashes: number;
  backoffUntil: number;
  /** Scheduled crash of a crash-looping pod (Infinity when none). */
  crashAt: number;
  /** Eviction time of a pod on a lost node. */
  evictAt: number;
  /** Cumulative CPU, millicore-seconds (the counter the kubelet exposes). */
  cpuCum: number;
  scrapeCum: number;
  scrapeAt: number;
  /** Metric visible through the metrics API (millicores) and its sample time; NaN when none. */
  metricMilli: number;
  metricAt: number;
  nextMetricMilli: number;
  nextMetricSampleAt: number;
  nextMetricVisibleAt: number;
  crashedBefore: boolean;
}

/** A pod lifecycle event (only recorded with `recordPodEvents`). */
export interface PodEvent {
  timeSeconds: number;
  pod: string;
  service: string;
  event: 'created' | 'scheduled' | 'ready' | 'crashed' | 'restarted' | 'lost' | 'evicted' | 'deleted';
  node?: string;
  /** For `crashed`: the CrashLoopBackOff delay before the restart. */
  backoffSeconds?: number;
}

export interface PodView {
  name: string;
  state: PodState;
  node: string | undefined;
  restarts: number;
  createdAtSeconds: number;
}

/**
 * A zero-sum adversary's pressure (KARMA's adversary agent): the offered load at one entry point is
 * multiplied, and Ready pods of every service that entry point's requests reach crash with an extra
 * probability per pod-second.
 */
export interface AdversarySetting {
  /** An entry point (service name) of the topology. */
  entryPoint: string;
  /** Multiplier of that entry point's offered load, on top of the scenario's injectors (0 … 100). */
  rateMultiplier: number;
  /** Extra crash probability per pod and second for the services reached from the entry point (0 … 1). */
  crashProbabilityPerSecond: number;
}

/** Largest accepted adversary load multiplier: beyond it every service is saturated anyway. */
export const ADVERSARY_MAX_RATE_MULTIPLIER = 100;

interface HpaState {
  spec: TwinHpaSpec;
  recommendations: TimestampedRecommendation[];
  scaleEvents: TimestampedScaleEvent[];
  lastReason: string;
}

/**
 * A seeded, deterministic discrete-time simulation of a cluster of interdependent services. See
 * generator/twin/index.ts for the API and generator/twin/README.md for the physics.
 */
export class Simulation {
  readonly topology: Topology;
  readonly scenario: Scenario;
  readonly seed: number;
  readonly tickSeconds: number;
  readonly serviceNames: readonly string[];
  readonly durationSeconds: number;
  readonly series: TimeSeries;
  /** Fault and attack onsets/ends, in time order. */
  readonly injectorEvents: readonly InjectorEvent[];
  readonly podEvents: PodEvent[] = [];
  /** Per service: 'hpa' (emulated controller), 'fixed' (none/static-max), 'direct' (setReplicasDirect). */
  readonly modes: ('hpa' | 'fixed' | 'direct')[];

  private readonly S: number;
  private readonly N: number;
  private tick = 0;
  private readonly ticksPerSecond: number;
  private readonly recordPodEvents: boolean;
  // Per-service constants.
  private readonly capPerPod: Float64Array;
  private readonly cpuReq: Float64Array;
  private readonly cpuBase: Float64Array;
  private readonly costPerReq: Float64Array;
  private readonly baseLatency: Float64Array;
  private readonly sloSeconds: Float64Array;
  private readonly timeout: Float64Array;
  private readonly startup: Float64Array;
  private readonly maxQueue: Float64Array;
  private readonly edgeStart: Int32Array;
  private readonly edgeTo: Int32Array;
  private readonly edgeRatio: Float64Array;
  private readonly entryService: Int32Array;
  private readonly entryWeight: Float64Array;
  private readonly baseEntryRate: Float64Array;
  // Queues: per service a ring of cohorts (count, mean arrival time).
  private readonly ringSize: number;
  private readonly qCount: Float64Array;
  private readonly qArrival: Float64Array;
  private readonly qHead: Int32Array;
  private readonly qLen: Int32Array;
  private readonly qTotal: Float64Array;
  // Per-tick scratch.
  private readonly arrivals: Float64Array;
  private readonly capacity: Float64Array;
  private readonly usagePerCapacity: Float64Array;
  /** Mean latency of the requests a service served in the last tick, its own part only (seconds). */
  private readonly ownMeanLatency: Float64Array;
  /** Time a request to the service spends waiting on the calls it makes (seconds), from the last tick's callee latencies. */
  private readonly downstreamLatency: Float64Array;
  private readonly segN: Float64Array;
  private readonly segW0: Float64Array;
  private readonly segW1: Float64Array;
  // Nodes.
  private readonly nodeCpu: Float64Array;
  private readonly nodeAlive: Uint8Array;
  private readonly nodeAllocated: Float64Array;
  private readonly nodeDemand: Float64Array;
  /** CPU (milli) the pods on each node used in the last tick, for the node-exporter view. */
  private readonly nodeUsage: Float64Array;
  /** Cumulative busy and capacity CPU·s of live nodes at the start of each second (node_cpu_seconds_total). */
  private readonly nodeBusyAt: number[] = [];
  private readonly nodeCapacityAt: number[] = [];
  private nodeBusyCum = 0;
  private nodeCapacityCum = 0;
  private readonly nodeShare: Float64Array;
  private nextNodeTransition = 0;
  // Pods and controllers.
  private readonly pods: Pod[][];
  private readonly desired: Int32Array;
  private readonly hpa: HpaState[];
  private podSerial = 0;
  private readonly injectors: CompiledInjectors;
  private readonly rngArrivals: Rng;
  private readonly rngPods: Rng;
  private readonly hpaSyncTicks: number;
  private readonly scrapeTicks: number;
  private readonly metricsDelay: number;
  // Adversary (setAdversary): load multiplier per entry-point slot and extra crash probability per service.
  private adversarySetting: AdversarySetting | undefined;
  private readonly adversaryEntryMultiplier: Float64Array;
  private readonly adversaryCrash: Float64Array;

  constructor(opts: SimulationOptions) {
    const { topology, scenario } = opts;
    checkScenarioAgainstTopology(scenario, topology);
    const tick = opts.tickSeconds ?? 1;
    const tps = Math.round(1 / tick);
    if (!(tick > 0) || tick > 1 || Math.abs(tps * tick - 1) > 1e-9) {
      throw new KarmaError(`tickSeconds must divide one second (1, 0.5, 0.25, 0.2, 0.1 …), got ${tick}`, { where: 'createSimulation' });
    }
    if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) {
      throw new KarmaError(`seed must be an integer between 0 and 4294967295, got ${opts.seed}`, { where: 'createSimulation' });
    }
    this.topology = topology;
    this.scenario = scenario;
    this.seed = opts.seed;
    this.tickSeconds = 1 / tps;
    this.ticksPerSecond = tps;
    this.recordPodEvents = opts.recordPodEvents ?? false;
    this.durationSeconds = scenario.durationSeconds;
    const S = (this.S = topology.services.length);
    const N = (this.N = topology.nodes.length);
    this.serviceNames = topology.services.map((s) => s.name);
    const index = new Map(this.serviceNames.map((n, i) => [n, i]));
    const sloOverride = scenario.slo.latencyMs;

    this.capPerPod = Float64Array.from(topology.services, (s) => s.perPodCapacity);
    this.cpuReq = Float64Array.from(topology.services, (s) => s.cpuRequestMilli);
    this.cpuBase = Float64Array.from(topology.services, (s) => s.cpuRequestMilli * s.cpuBaselineFraction);
    // At per-pod capacity a pod uses exactly its CPU request.
    this.costPerReq = Float64Array.from(topology.services, (s) => (s.cpuRequestMilli * (1 - s.cpuBaselineFraction)) / s.perPodCapacity);
    this.baseLatency = Float64Array.from(topology.services, (s) => s.baseLatencyMs / 1000);
    this.sloSeconds = Float64Array.from(topology.services, (s) => (sloOverride ?? s.sloLatencyMs) / 1000);
    this.timeout = Float64Array.from(topology.services, (s) => s.timeoutSeconds);
    this.startup = Float64Array.from(topology.services, (s) => s.startupDelaySeconds);
    // Nothing beyond what maxReplicas could serve before the timeout can ever be served.
    this.maxQueue = Float64Array.from(topology.services, (s) => s.perPodCapacity * s.maxReplicas * s.timeoutSeconds);

    const edges = [...topology.edges].sort((a, b) => index.get(a.from)! - index.get(b.from)!);
    this.edgeStart = new Int32Array(S + 1);
    this.edgeTo = new Int32Array(edges.length);
    this.edgeRatio = new Float64Array(edges.length);
    edges.forEach((e, k) => {
      this.edgeStart[index.get(e.from)! + 1]!++;
      this.edgeTo[k] = index.get(e.to)!;
      this.edgeRatio[k] = e.callRatio;
    });
    for (let s = 0; s < S; s++) this.edgeStart[s + 1]! += this.edgeStart[s]!;

    const totalWeight = topology.entryPoints.reduce((a, e) => a + e.weight, 0);
    this.entryService = Int32Array.from(topology.entryPoints, (e) => index.get(e.service)!);
    this.entryWeight = Float64Array.from(topology.entryPoints, (e) => e.weight / totalWeight);
    this.adversaryEntryMultiplier = new Float64Array(topology.entryPoints.length).fill(1);
    this.adversaryCrash = new Float64Array(S);

    const root = new Rng(opts.seed);
    this.rngArrivals = root.fork(1);
    this.rngPods = root.fork(2);
    const rngInjectors = root.fork(3);
    this.baseEntryRate = entryRateSeries(scenario.load, scenario.durationSeconds, sustainableEntryRate(topology), { baseDir: scenario.baseDir, env: opts.env });
    this.injectors = compileInjectors(scenario.injectors, topology, scenario.durationSeconds, rngInjectors, scenario.nodeSpeedNoise);
    this.injectorEvents = this.injectors.events;

    this.ringSize = Math.max(...topology.services.map((s) => Math.ceil(s.timeoutSeconds * tps))) + 2;
    this.qCount = new Float64Array(S * this.ringSize);
    this.qArrival = new Float64Array(S * this.ringSize);
    this.qHead = new Int32Array(S);
    this.qLen = new Int32Array(S);
    this.qTotal = new Float64Array(S);
    this.arrivals = new Float64Array(S);
    this.capacity = new Float64Array(S);
    this.usagePerCapacity = new Float64Array(S);
    this.ownMeanLatency = Float64Array.from(this.baseLatency);
    this.downstreamLatency = new Float64Array(S);
    this.segN = new Float64Array(this.ringSize * 2 + 4);
    this.segW0 = new Float64Array(this.ringSize * 2 + 4);
    this.segW1 = new Float64Array(this.ringSize * 2 + 4);

    this.nodeCpu = Float64Array.from(topology.nodes, (n) => n.cpuMilli);
    this.nodeAlive = new Uint8Array(N).fill(1);
    this.nodeAllocated = new Float64Array(N);
    this.nodeDemand = new Float64Array(N);
    this.nodeUsage = new Float64Array(N);
    this.nodeShare = new Float64Array(N).fill(1);

    this.series = new TimeSeries(this.serviceNames, scenario.durationSeconds);
    this.hpaSyncTicks = HPA_SYNC_PERIOD_SECONDS * tps;
    this.scrapeTicks = scenario.metricsPipeline.resolutionSeconds * tps;
    this.metricsDelay = scenario.metricsPipeline.delaySeconds;

    const mode = opts.autoscaler ?? 'hpa';
    this.modes = topology.services.map(() => (mode === 'hpa' ? 'hpa' : 'fixed'));
    this.hpa = topology.services.map((s) => ({ spec: structuredClone(s.hpa), recommendations: [], scaleEvents: [], lastReason: '' }));
    this.pods = topology.services.map(() => []);
    this.desired = new Int32Array(S);
    const flow = flowMultipliers(topology);
    const rate0 = this.baseEntryRate[0] ?? 0;
    topology.services.forEach((svc, s) => {
      let n: number;
      if (mode === 'static-max') n = svc.maxReplicas;
      else if (mode === 'none' || scenario.initialReplicas === 'min') n = svc.minReplicas;
      else {
        // Steady start: what a CPU-target HPA settles on for the initial load.
        const target = cpuTargetFraction(svc.hpa) ?? 0.8;
        n = Math.ceil((rate0 * flow.get(svc.name)!) / (svc.perPodCapacity * target) - 1e-9);
        n = Math.min(svc.maxReplicas, Math.max(svc.minReplicas, n));
      }
      this.desired[s] = n;
      for (let k = 0; k < n; k++) this.createPod(s, 0, true);
    });
    this.scheduleAll(0);
  }

  /** Simulated seconds since the start. */
  get timeSeconds(): number {
    return this.tick / this.ticksPerSecond;
  }

  get done(): boolean {
    return this.tick >= this.durationSeconds * this.ticksPerSecond;
  }

  /** Advance one tick. */
  step(): void {
    if (this.done) throw new KarmaError('the episode is over', { where: 'Simulation.step', hint: 'check `done` before stepping' });
    const tps = this.ticksPerSecond;
    const dt = this.tickSeconds;
    const t = this.tick / tps;
    const sec = Math.floor(this.tick / tps);
    const firstTickOfSecond = this.tick % tps === 0;
    if (firstTickOfSecond) {
      if (this.tick > 0) this.injectors.update(sec);
      this.applyNodeTransitions(sec);
      if (this.tick > 0 && this.tick % this.scrapeTicks === 0) this.scrapeMetrics(t);
      if (this.tick > 0 && this.tick % this.hpaSyncTicks === 0) this.syncHpas(t);
    }
    this.publishMetrics(t);
    this.podLifecycle(t, dt);
    this.computeCapacities();
    this.flowRequests(t, dt, sec, firstTickOfSecond);
    this.accountCpu(dt, sec, firstTickOfSecond);
    this.tick++;
    if (this.tick % tps === 0) this.series.length = sec + 1;
  }

  /**
   * Apply an adversary from the next tick on (replacing any previous one): the entry point's offered
   * load × `rateMultiplier`, and Ready pods of the services its requests reach (the entry point and
   * everything downstream of it in the call graph — an attacker entering there stresses that whole
   * request path) crash with `crashProbabilityPerSecond` per pod-second, through the same
   * crash → CrashLoopBackOff path as the pod-failures injector. Draws come from the pods' seeded Rng.
   */
  setAdversary(setting: AdversarySetting): void {
    const where = 'Simulation.setAdversary';
    const entries = this.topology.entryPoints.map((e) => e.service);
    if (typeof setting?.entryPoint !== 'string' || !entries.includes(setting.entryPoint)) {
      throw new KarmaError(`entryPoint "${String(setting?.entryPoint)}" is not an entry point of topology ${this.topology.name}`, { where, hint: `use one of: ${entries.join(', ')}` });
    }
    const m = setting.rateMultiplier;
    if (typeof m !== 'number' || !Number.isFinite(m) || m < 0 || m > ADVERSARY_MAX_RATE_MULTIPLIER) {
      throw new KarmaError(`rateMultiplier must be a number between 0 and ${ADVERSARY_MAX_RATE_MULTIPLIER}, got ${String(m)}`, { where, hint: '1 leaves the load unchanged' });
    }
    const p = setting.crashProbabilityPerSecond;
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 1) {
      throw new KarmaError(`crashProbabilityPerSecond must be a number between 0 and 1, got ${String(p)}`, { where, hint: 'a probability per pod and second; 0 crashes nothing' });
    }
    const entry = this.serviceNames.indexOf(setting.entryPoint);
    this.adversaryEntryMultiplier.fill(1);
    this.entryService.forEach((svc, e) => { if (svc === entry) this.adversaryEntryMultiplier[e] = m; });
    this.adversaryCrash.fill(0);
    for (const s of this.reachableFrom(entry)) this.adversaryCrash[s] = p;
    this.adversarySetting = { entryPoint: setting.entryPoint, rateMultiplier: m, crashProbabilityPerSecond: p };
  }

  /** Remove the adversary from the next tick on. */
  clearAdversary(): void {
    this.adversaryEntryMultiplier.fill(1);
    this.adversaryCrash.fill(0);
    this.adversarySetting = undefined;
  }

  /** The adversary in effect (a copy), or undefined. */
  get adversary(): AdversarySetting | undefined {
    return this.adversarySetting ? { ...this.adversarySetting } : undefined;
  }

  /** Service indices reached from `s` along call edges, `s` included, ascending. */
  private reachableFrom(s: number): number[] {
    const seen = new Uint8Array(this.S);
    const stack = [s];
    seen[s] = 1;
    while (stack.length > 0) {
      const u = stack.pop()!;
      for (let k = this.edgeStart[u]!; k < this.edgeStart[u + 1]!; k++) {
        const c = this.edgeTo[k]!;
        if (!seen[c]) { seen[c] = 1; stack.push(c); }
      }
    }
    const out: number[] = [];
    for (let i = 0; i < this.S; i++) if (seen[i]) out.push(i);
    return out;
  }

  /** Run to the end of the episode. */
  run(): this {
    while (!this.done) this.step();
    return this;
  }

  // ---------------------------------------------------------------- controllers

  /** The HPA spec (bounds, metrics, behavior) the emulated controller currently uses for a service. */
  hpaSpec(service: string): TwinHpaSpec {
    return structuredClone(this.hpa[this.serviceIndex(service)]!.spec);
  }

  /**
   * Change a service's HPA bounds, as an agent's decision does through the HPA spec. The emulated
   * controller applies them at its next sync (every 15 s), like the real one.
   */
  setHpaBounds(service: string, bounds: { minReplicas: number; maxReplicas: number }): void {
    const s = this.serviceIndex(service);
    const { minReplicas, maxReplicas } = bounds;
    if (!Number.isInteger(minReplicas) || !Number.isInteger(maxReplicas) || minReplicas < 1 || maxReplicas < minReplicas) {
      throw new KarmaError(`invalid HPA bounds for ${service}: minReplicas ${minReplicas}, maxReplicas ${maxReplicas}`, {
        where: 'Simulation.setHpaBounds',
        hint: 'bounds are integers with 1 <= minReplicas <= maxReplicas',
      });
    }
    // A new spec object: the HPA emulation caches compiled specs by identity.
    const h = this.hpa[s]!;
    h.spec = { ...h.spec, minReplicas, maxReplicas };
  }

  /** Set a service's replica count directly, bypassing its HPA from now on (baselines such as static-max or clairvoyant). */
  setReplicasDirect(service: string, replicas: number): void {
    const s = this.serviceIndex(service);
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 1000) {
      throw new KarmaError(`invalid replica count for ${service}: ${replicas}`, { where: 'Simulation.setReplicasDirect', hint: 'an integer between 0 and 1000' });
    }
    this.modes[s] = 'direct';
    this.setDesired(s, replicas, this.timeSeconds);
  }

  /** The replica count the workload controller is converging to. */
  desiredReplicas(service: string): number {
    return this.desired[this.serviceIndex(service)]!;
  }

  /** The reason of the last HPA sync (e.g. why it did or did not scale). */
  hpaLastReason(service: string): string {
    return this.hpa[this.serviceIndex(service)]!.lastReason;
  }

  /** The pods of a service as they are now. */
  podsOf(service: string): PodView[] {
    return this.pods[this.serviceIndex(service)]!.map((p) => ({
      name: p.name,
      state: STATE_NAMES[p.state]!,
      node: p.node >= 0 ? this.topology.nodes[p.node]!.name : undefined,
      restarts: p.restarts,
      createdAtSeconds: p.createdAt,
    }));
  }

  private serviceIndex(service: string): number {
    const s = this.serviceNames.indexOf(service);
    if (s < 0) throw new KarmaError(`unknown service "${service}"`, { where: `topology ${this.topology.name}`, hint: `one of ${this.serviceNames.join(', ')}` });
    return s;
  }

  private syncHpas(t: number): void {
    const nowMs = SIMULATION_EPOCH_MS + t * 1000;
    for (let s = 0; s < this.S; s++) {
      if (this.modes[s] !== 'hpa') continue;
      const h = this.hpa[s]!;
      const pods = this.pods[s]!;
      const samples: PodSample[] = new Array(pods.length);
      for (let k = 0; k < pods.length; k++) samples[k] = this.podSample(pods[k]!);
      const result = reconcileHpa({
        nowMs,
        spec: h.spec as unknown as HpaSpec,
        currentReplicas: this.desired[s]!,
        pods: samples,
        metrics: this.customMetrics(s),
        recommendations: h.recommendations,
        scaleEvents: h.scaleEvents,
        config: { metricWindowSeconds: this.scenario.metricsPipeline.resolutionSeconds },
      });
      h.recommendations = result.recommendations;
      h.scaleEvents = result.scaleEvents;
      h.lastReason = result.reason;
      if (result.desiredReplicas !== this.desired[s]) this.setDesired(s, result.desiredReplicas, t);
    }
  }

  private podSample(p: Pod): PodSample {
    const ms = (x: number): number | null => (Number.isFinite(x) ? SIMULATION_EPOCH_MS + x * 1000 : null);
    const running = p.state !== PENDING;
    return {
      name: p.name,
      phase: p.state === PENDING ? 'Pending' : p.state === LOST ? 'Unknown' : 'Running',
      ready: p.state === READY,
      startTimeMs: running ? ms(p.startedAt) : null,
      readyTransitionTimeMs: running ? ms(p.readySince) : null,
      deleted: false,
      cpuRequestMilli: this.cpuReq[p.service]!,
      cpuUsageMilli: Number.isNaN(p.metricMilli) ? null : p.metricMilli,
      ...(Number.isNaN(p.metricMilli) ? {} : { metricTimestampMs: ms(p.metricAt)! }),
    };
  }

  /**
   * Values for Pods/Object/External metrics an HPA spec may name, over the last metrics window:
   * `requests_per_second` (per pod: the service's offered rate / ready pods; object/external: total)
   * and `queue_length` (requests waiting).
   */
  private customMetrics(s: number): Record<string, number | Record<string, number>> {
    const w = this.windowStats(s);
    const perPod: Record<string, number> = {};
    const ready = this.pods[s]!.filter((p) => p.state === READY);
    for (const p of ready) perPod[p.name] = w.requestRate / Math.max(1, ready.length);
    return { requests_per_second: perPod, requests_per_second_total: w.requestRate, queue_length: this.qTotal[s]! };
  }

  private setDesired(s: number, n: number, t: number): void {
    this.desired[s] = n;
    const pods = this.pods[s]!;
    while (pods.length < n) this.createPod(s, t, false);
    if (pods.length > n) {
      // ReplicaSet deletion preference: unscheduled, lost, crashed, starting, then ready; newest first.
      const rank = [0, 3, 4, 2, 1];
      pods.sort((a, b) => rank[a.state]! - rank[b.state]! || b.createdAt - a.createdAt || (a.name < b.name ? 1 : -1));
      const removed = pods.splice(0, pods.length - n);
      for (const p of removed) {
        if (p.node >= 0) this.nodeAllocated[p.node]! -= this.cpuReq[s]!;
        this.logPod(t, p, 'deleted');
      }
      pods.sort((a, b) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : 1));
    }
    this.scheduleAll(t);
  }

  private createPod(s: number, t: number, alreadyReady: boolean): void {
    const name = `${this.serviceNames[s]}-${(this.podSerial++).toString(36).padStart(5, '0')}`;
    const p: Pod = {
      name, service: s, node: -1, state: PENDING, createdAt: t, startedAt: NaN, readyAt: Infinity, readySince: t,
      restarts: 0, consecutiveCrashes: 0, backoffUntil: Infinity, crashAt: Infinity, evictAt: Infinity,
      cpuCum: 0, scrapeCum: 0, scrapeAt: NaN, metricMilli: NaN, metricAt: NaN,
      nextMetricMilli: NaN, nextMetricSampleAt: NaN, nextMetricVisibleAt: Infinity, crashedBefore: false,
    };
    if (alreadyReady) {
      // Pods present when the episode starts have been up for a while.
      p.startedAt = -this.startup[s]! - 60;
      p.readySince = -60;
      p.readyAt = -60;
      p.scrapeAt = 0;
    }
    this.pods[s]!.push(p);
    this.logPod(t, p, 'created');
  }

  /** kube-scheduler, simplified: place each unscheduled pod on the live node with the most free CPU request that fits. */
  private scheduleAll(t: number): void {
    for (let s = 0; s < this.S; s++) {
      const req = this.cpuReq[s]!;
      for (const p of this.pods[s]!) {
        if (p.state !== PENDING) continue;
        let best = -1;
        let bestFree = -1;
        for (let n = 0; n < this.N; n++) {
          if (!this.nodeAlive[n]) continue;
          const free = this.nodeCpu[n]! - this.nodeAllocated[n]!;
          if (free + 1e-9 >= req && free > bestFree) {
            best = n;
            bestFree = free;
          }
        }
        if (best < 0) continue;
        p.node = best;
        this.nodeAllocated[best]! += req;
        if (p.readyAt === -60) {
          p.state = READY;
        } else {
          p.state = STARTING;
          p.startedAt = t;
          p.readySince = t;
          p.readyAt = t + this.startup[s]!;
          this.logPod(t, p, 'scheduled');
        }
      }
    }
  }

  private applyNodeTransitions(sec: number): void {
    const trs = this.injectors.nodeTransitions;
    let changed = false;
    while (this.nextNodeTransition < trs.length && trs[this.nextNodeTransition]!.timeSeconds <= sec) {
      const tr = trs[this.nextNodeTransition++]!;
      this.nodeAlive[tr.node] = tr.alive ? 1 : 0;
      changed = true;
      if (tr.alive) continue;
      for (const pods of this.pods) {
        for (const p of pods) {
          if (p.node !== tr.node || p.state === LOST) continue;
          p.state = LOST;
          p.readySince = sec;
          p.evictAt = sec + tr.evictionDelaySeconds;
          p.metricMilli = NaN;
          p.nextMetricVisibleAt = Infinity;
          this.logPod(sec, p, 'lost');
        }
      }
    }
    if (changed) this.scheduleAll(sec);
  }

  // ---------------------------------------------------------------- pods

  private podLifecycle(t: number, dt: number): void {
    const fx = this.injectors.effects;
    let needSchedule = false;
    for (let s = 0; s < this.S; s++) {
      const pods = this.pods[s]!;
      // Injector and adversary crashes are independent; with no adversary this is the injector's alone.
      const advP = this.adversaryCrash[s]!;
      const crashP = (advP > 0 ? 1 - (1 - fx.crashProbability[s]!) * (1 - advP) : fx.crashProbability[s]!) * dt;
      const loop = fx.crashLoop[s] === 1;
      for (let k = 0; k < pods.length; k++) {
        const p = pods[k]!;
        switch (p.state) {
          case PENDING:
            needSchedule = true;
            break;
          case STARTING:
            if (t >= p.readyAt) {
              p.state = READY;
              p.readySince = t;
              p.crashAt = loop && p.crashedBefore ? t + fx.crashAfterSeconds[s]! : Infinity;
              this.logPod(t, p, 'ready');
            }
            break;
          case READY:
            if ((crashP > 0 && this.rngPods.next() < crashP) || (loop && t >= p.crashAt)) this.crash(p, t);
            break;
          case BACKOFF:
            if (t >= p.backoffUntil) {
              p.state = STARTING;
              p.startedAt = t;
              p.readySince = t;
              p.readyAt = t + this.startup[s]!;
              p.scrapeAt = NaN;
              this.logPod(t, p, 'restarted');
            }
            break;
          case LOST:
            if (t >= p.evictAt) {
              // Eviction: the pod object goes, the ReplicaSet creates a replacement.
              pods.splice(k, 1);
              k--;
              this.nodeAllocated[p.node]! -= this.cpuReq[s]!;
              this.logPod(t, p, 'evicted');
              this.createPod(s, t, false);
              needSchedule = true;
            }
            break;
        }
      }
    }
    if (needSchedule) this.scheduleAll(t);
  }

  private crash(p: Pod, t: number): void {
    if (t - p.readySince >= CRASH_BACKOFF_RESET_SECONDS) p.consecutiveCrashes = 0;
    p.consecutiveCrashes++;
    p.restarts++;
    p.crashedBefore = true;
    const delay = crashLoopBackoffSeconds(p.consecutiveCrashes);
    p.state = BACKOFF;
    p.readySince = t;
    p.backoffUntil = t + delay;
    p.crashAt = Infinity;
    p.metricMilli = NaN;
    p.nextMetricVisibleAt = Infinity;
    if (this.recordPodEvents) this.podEvents.push({ timeSeconds: t, pod: p.name, service: this.serviceNames[p.service]!, event: 'crashed', backoffSeconds: delay });
  }

  private logPod(t: number, p: Pod, event: PodEvent['event']): void {
    if (!this.recordPodEvents) return;
    const e: PodEvent = { timeSeconds: t, pod: p.name, service: this.serviceNames[p.service]!, event };
    if (p.node >= 0) e.node = this.topology.nodes[p.node]!.name;
    this.podEvents.push(e);
  }

  // ---------------------------------------------------------------- physics

  /** Serving capacity of each service: Σ over ready pods of per-pod capacity × node speed × CPU share × injector factors. */
  private computeCapacities(): void {
    const fx = this.injectors.effects;
    for (let n = 0; n < this.N; n++) {
      const available = this.nodeCpu[n]! * (1 - fx.nodeSteal[n]!);
      const demand = this.nodeDemand[n]!;
      this.nodeShare[n] = demand > available ? available / demand : 1;
    }
    for (let s = 0; s < this.S; s++) {
      let sum = 0;
      const pods = this.pods[s]!;
      for (let k = 0; k < pods.length; k++) {
        const p = pods[k]!;
        if (p.state === READY) sum += fx.nodeSpeed[p.node]! * this.nodeShare[p.node]!;
      }
      this.capacity[s] = sum * this.capPerPod[s]! * fx.serviceSpeed[s]! * fx.serviceIo[s]!;
    }
  }

  private flowRequests(t: number, dt: number, sec: number, firstTickOfSecond: boolean): void {
    const fx = this.injectors.effects;
    const arrivals = this.arrivals;
    arrivals.fill(0);
    const base = this.baseEntryRate[sec]!;
    for (let e = 0; e < this.entryService.length; e++) {
      const lambda = base * this.entryWeight[e]! * fx.entryMultiplier[e]! * this.adversaryEntryMultiplier[e]! * dt;
      arrivals[this.entryService[e]!]! += this.rngArrivals.poisson(lambda);
    }
    const data = this.series.data;
    const S = this.S;
    // Synchronous calls: a request waits for its callees, callRatio calls each, one after the other.
    // Services are in topological order, so going backwards sees every callee before its callers.
    const own = this.ownMeanLatency;
    const down = this.downstreamLatency;
    for (let s = S - 1; s >= 0; s--) {
      let d = 0;
      for (let k = this.edgeStart[s]!; k < this.edgeStart[s + 1]!; k++) {
        const c = this.edgeTo[k]!;
        d += this.edgeRatio[k]! * (own[c]! + down[c]!);
      }
      down[s] = d;
    }
    for (let s = 0; s < S; s++) {
      const row = (sec * S + s) * FIELD_COUNT;
      if (firstTickOfSecond) data.fill(0, row, row + FIELD_COUNT);
      const served = this.serve(s, t, dt, arrivals[s]!, row);
      for (let k = this.edgeStart[s]!; k < this.edgeStart[s + 1]!; k++) arrivals[this.edgeTo[k]!]! += served * this.edgeRatio[k]!;
    }
  }

  /**
   * One tick of one service's FIFO queue. Requests are fluid: a cohort per tick with its mean arrival
   * time; new arrivals are spread evenly over the tick. A request at FIFO position k completes k/μ
   * after the tick starts, so its queueing wait is linear in k within a cohort (a "segment"). On top,
   * each ready pod behaves as an M/M/1 server at utilisation ρ (capped at 0.95), whose sojourn time
   * is exponential with rate μ_pod(1 − ρ). Latency = base + fluid wait + M/M/1 sojourn + the time the
   * request waits on its calls (downstreamLatency, the same for every request of the tick).
   * Returns the number of requests served.
   */
  private serve(s: number, t: number, dt: number, arriving: number, row: number): number {
    const data = this.series.data;
    const R = this.ringSize;
    const off = s * R;
    const qc = this.qCount;
    const qa = this.qArrival;
    let head = this.qHead[s]!;
    let len = this.qLen[s]!;
    let total = this.qTotal[s]!;
    let dropped = 0;
    // 1. Requests that waited longer than the timeout give up.
    const deadline = t - this.timeout[s]!;
    while (len > 0 && qa[off + head]! < deadline) {
      dropped += qc[off + head]!;
      total -= qc[off + head]!;
      head = (head + 1) % R;
      len--;
    }
    // 2. Admit new arrivals up to the queue bound.
    let admitted = arriving;
    const room = this.maxQueue[s]! - total;
    if (admitted > room) admitted = Math.max(0, room);
    const rejected = arriving - admitted;
    dropped += rejected;
    // 3. Serve FIFO within capacity μ·dt.
    const mu = this.capacity[s]!;
    let budget = mu * dt;
    let k = 0; // FIFO position served so far
    let nSeg = 0;
    let oldestWait = 0;
    const segN = this.segN;
    const segW0 = this.segW0;
    const segW1 = this.segW1;
    if (len > 0) oldestWait = t - qa[off + head]!;
    while (len > 0 && budget > 1e-12) {
      const c = qc[off + head]!;
      const a = qa[off + head]!;
      const n = c <= budget ? c : budget;
      segN[nSeg] = n;
      segW0[nSeg] = Math.max(0, t + k / mu - a);
      segW1[nSeg] = Math.max(0, t + (k + n) / mu - a);
      nSeg++;
      k += n;
      budget -= n;
      total -= n;
      if (n >= c - 1e-12) {
        total -= c - n;
        head = (head + 1) % R;
        len--;
      } else {
        qc[off + head] = c - n;
      }
    }
    let deferred = 0;
    if (admitted > 0) {
      // New cohort: request j arrives at t + (j + ½)·dt/A and completes at t + (k + j)/μ.
      const n = budget >= admitted ? admitted : budget;
      if (n > 0) {
        const slope = 1 / mu - dt / admitted;
        const w0 = k / mu - (0.5 * dt) / admitted;
        const w1 = w0 + slope * n;
        if (w0 <= 0 && w1 <= 0) {
          segN[nSeg] = n; segW0[nSeg] = 0; segW1[nSeg] = 0; nSeg++;
        } else if (w0 >= 0 && w1 >= 0) {
          segN[nSeg] = n; segW0[nSeg] = w0; segW1[nSeg] = w1; nSeg++;
        } else {
          // The wait crosses zero inside the cohort: split into a zero part and a linear part.
          const nz = (n * Math.abs(w0 < 0 ? w0 : w1)) / Math.abs(w1 - w0);
          segN[nSeg] = nz; segW0[nSeg] = 0; segW1[nSeg] = 0; nSeg++;
          segN[nSeg] = n - nz; segW0[nSeg] = 0; segW1[nSeg] = Math.max(w0, w1); nSeg++;
        }
      }
      deferred = admitted - n;
      if (deferred > 1e-12) {
        // The unserved tail arrived late in the tick: its mean arrival time.
        const slot = (head + len) % R;
        qc[off + slot] = deferred;
        qa[off + slot] = t + dt * (1 - deferred / (2 * admitted));
        len++;
        total += deferred;
      } else deferred = 0;
    }
    if (len === 0 || total < 1e-9) total = Math.max(0, total);
    this.qHead[s] = head;
    this.qLen[s] = len;
    this.qTotal[s] = total;

    let served = 0;
    for (let i = 0; i < nSeg; i++) served += segN[i]!;
    // M/M/1 term per pod.
    let ready = 0;
    const pods = this.pods[s]!;
    for (let i = 0; i < pods.length; i++) if (pods[i]!.state === READY) ready++;
    let withinSlo = 0;
    let p95 = 0;
    const base = this.baseLatency[s]!;
    // Waiting on callees adds the same time to every request (their mean composite latency).
    const down = this.downstreamLatency[s]!;
    if (served > 0) {
      const muPod = mu / Math.max(1, ready);
      const offeredRate = arriving / dt;
      const rho = Math.min(RHO_MAX, offeredRate / mu);
      const r = muPod * (1 - rho);
      const c = this.sloSeconds[s]! - base - down;
      let waitSum = 0;
      for (let i = 0; i < nSeg; i++) {
        withinSlo += segN[i]! * withinSloShare(segW0[i]!, segW1[i]!, c, r);
        waitSum += segN[i]! * (segW0[i]! + segW1[i]!);
      }
      p95 = base + down + fluidQuantile(segN, segW0, segW1, nSeg, served, 0.95) + LN20 / r;
      this.ownMeanLatency[s] = base + (0.5 * waitSum) / served + 1 / r;
    } else if (total > 0) {
      // Nothing completed: the waiting requests' latency is at least their age.
      p95 = base + down + oldestWait;
      this.ownMeanLatency[s] = base + oldestWait;
    } else {
      // Idle: the next request would meet an empty queue.
      this.ownMeanLatency[s] = base + (mu > 0 ? Math.max(1, ready) / mu : 0);
    }
    data[row + F.offered]! += arriving;
    data[row + F.served]! += served;
    data[row + F.servedWithinSlo]! += withinSlo;
    data[row + F.dropped]! += dropped;
    data[row + F.pending]! += deferred + rejected;
    data[row + F.queue] = total;
    const p95ms = p95 * 1000;
    if (p95ms > data[row + F.p95LatencyMs]!) data[row + F.p95LatencyMs] = p95ms;
    data[row + F.capacityRps] = mu;
    // CPU per unit of capacity used, for accountCpu.
    this.usagePerCapacity[s] = mu > 0 ? Math.min(1, served / (mu * dt)) : 0;
    return served;
  }

  /**
   * CPU: a ready pod uses its baseline plus the cost of the requests it served (load split in
   * proportion to pod capacity), never more than its CPU request times its node's share. Node demand
   * (what pods would use at full speed) sets next tick's CPU share under contention.
   */
  private accountCpu(dt: number, sec: number, firstTickOfSecond: boolean): void {
    const fx = this.injectors.effects;
    const data = this.series.data;
    this.nodeDemand.fill(0);
    this.nodeUsage.fill(0);
    if (firstTickOfSecond) {
      this.nodeBusyAt[sec] = this.nodeBusyCum;
      this.nodeCapacityAt[sec] = this.nodeCapacityCum;
    }
    for (let s = 0; s < this.S; s++) {
      const req = this.cpuReq[s]!;
      const b = this.cpuBase[s]!;
      const u = this.usagePerCapacity[s]!;
      // Work share of a ready pod on a full-speed node, and what it would want with no contention.
      const workMilli = (req - b) * u * fx.serviceIo[s]!;
      const backlog = this.qTotal[s]! > 0 ? 1 : u;
      const wantMilli = Math.min(req, b + (req - b) * backlog * fx.serviceIo[s]!);
      const pods = this.pods[s]!;
      let readyCount = 0;
      let utilSum = 0;
      let failed = 0;
      let existing = 0;
      for (let k = 0; k < pods.length; k++) {
        const p = pods[k]!;
        existing++;
        if (p.state === READY) {
          const share = this.nodeShare[p.node]!;
          const usage = b * share + workMilli * share;
          p.cpuCum += usage * dt;
          utilSum += usage / req;
          readyCount++;
          this.nodeDemand[p.node]! += wantMilli;
          this.nodeUsage[p.node]! += usage;
        } else if (p.state === STARTING) {
          p.cpuCum += b * dt;
          this.nodeDemand[p.node]! += b;
          this.nodeUsage[p.node]! += b;
          if (p.crashedBefore) failed++;
        } else if (p.state === BACKOFF || p.state === LOST) failed++;
      }
      const row = (sec * this.S + s) * FIELD_COUNT;
      data[row + F.replicas] = existing;
      data[row + F.ready] = readyCount;
      data[row + F.cpuUtilization] = readyCount > 0 ? utilSum / readyCount : 0;
      data[row + F.failedPods] = failed;
    }
    // node-exporter: a node is busy for its pods' CPU and for what a noisy neighbour or the hypervisor
    // takes (steal); `1 - idle` counts both.
    for (let n = 0; n < this.N; n++) {
      if (!this.nodeAlive[n]) continue;
      const cap = this.nodeCpu[n]!;
      this.nodeBusyCum += Math.min(cap, this.nodeUsage[n]! + cap * fx.nodeSteal[n]!) * dt;
      this.nodeCapacityCum += cap * dt;
    }
  }

  // ---------------------------------------------------------------- metrics pipeline

  /**
   * metrics-server: every resolution period, each running pod's CPU rate over the period just ended
   * (from the cumulative counter) becomes a sample, visible through the metrics API `delaySeconds`
   * later. A pod needs two counter readings, so its first sample comes one period after it starts.
   */
  private scrapeMetrics(t: number): void {
    for (const pods of this.pods) {
      for (const p of pods) {
        if (p.state !== READY && p.state !== STARTING) continue;
        if (!Number.isNaN(p.scrapeAt) && t > p.scrapeAt) {
          p.nextMetricMilli = (p.cpuCum - p.scrapeCum) / (t - p.scrapeAt);
          p.nextMetricSampleAt = t;
          p.nextMetricVisibleAt = t + this.metricsDelay;
        }
        p.scrapeAt = t;
        p.scrapeCum = p.cpuCum;
      }
    }
  }

  private publishMetrics(t: number): void {
    for (const pods of this.pods) {
      for (const p of pods) {
        if (t >= p.nextMetricVisibleAt) {
          p.metricMilli = p.nextMetricMilli;
          p.metricAt = p.nextMetricSampleAt;
          p.nextMetricVisibleAt = Infinity;
        }
      }
    }
  }

  /**
   * Request-level metrics as a monitoring system reports them: over the metrics window (the
   * resolution) that ended `delaySeconds` ago, plus the same window one period earlier.
   */
  private windowStats(s: number): { requestRate: number; previousRate: number; p95: number; errorRate: number } {
    const W = this.scenario.metricsPipeline.resolutionSeconds;
    const end = Math.floor(this.timeSeconds) - this.metricsDelay;
    const sum = (from: number, to: number): { offered: number; dropped: number; served: number; p95w: number; n: number } => {
      let offered = 0, dropped = 0, served = 0, p95w = 0, n = 0;
      for (let sec = Math.max(0, from); sec < Math.min(to, this.series.length); sec++) {
        offered += this.series.get(sec, s, F.offered);
        dropped += this.series.get(sec, s, F.dropped);
        const sv = this.series.get(sec, s, F.served);
        served += sv;
        p95w += sv * this.series.get(sec, s, F.p95LatencyMs);
        n++;
      }
      return { offered, dropped, served, p95w, n };
    };
    const cur = sum(end - W, end);
    const prev = sum(end - 2 * W, end - W);
    return {
      requestRate: cur.n > 0 ? cur.offered / cur.n : 0,
      previousRate: prev.n > 0 ? prev.offered / prev.n : 0,
      p95: cur.served > 0 ? cur.p95w / cur.served : 0,
      errorRate: cur.offered > 0 ? Math.min(1, cur.dropped / cur.offered) : 0,
    };
  }

  private edgeFrom(k: number): number {
    let s = 0;
    while (this.edgeStart[s + 1]! <= k) s++;
    return s;
  }

  /**
   * What an autoscaler sees now: CPU from the latest visible metrics-server samples of Ready pods;
   * request rate, error rate and p95 (served-weighted mean of the per-second p95) over the window
   * that ended `delaySeconds` ago; queue, pods and HPA bounds as they are now.
   */
  snapshot(): ClusterSnapshot {
    const t = this.timeSeconds;
    const services: Record<string, ServiceSnapshot> = {};
    let newestSample = -Infinity;
    for (let s = 0; s < this.S; s++) {
      const pods = this.pods[s]!;
      let ready = 0, usage = 0, withMetric = 0, failed = 0, crashLoop = 0;
      for (const p of pods) {
        if (p.state === READY) {
          ready++;
          if (!Number.isNaN(p.metricMilli)) {
            usage += p.metricMilli;
            withMetric++;
            if (p.metricAt > newestSample) newestSample = p.metricAt;
          }
        }
        if (p.state === BACKOFF) crashLoop++;
        if (p.state === BACKOFF || p.state === LOST || (p.state === STARTING && p.crashedBefore)) failed++;
      }
      const w = this.windowStats(s);
      const spec = this.hpa[s]!.spec;
      services[this.serviceNames[s]!] = {
        replicas: pods.length,
        readyReplicas: ready,
        desiredReplicas: this.desired[s]!,
        cpuUtilization: withMetric > 0 ? usage / withMetric / this.cpuReq[s]! : 0,
        requestRate: w.requestRate,
        requestRateChange: w.previousRate > 0 ? w.requestRate / w.previousRate : 1,
        p95LatencyMs: w.p95,
        pendingRequests: this.qTotal[s]!,
        errorRate: w.errorRate,
        failedPods: failed,
        crashLoopPods: crashLoop,
        minReplicas: spec.minReplicas,
        maxReplicas: spec.maxReplicas,
      };
    }
    // As the sidecar reads it: 1 − avg(rate(node_cpu_seconds_total{mode="idle"}[1m])) over live nodes.
    const from = Math.max(0, Math.floor(t) - NODE_CPU_WINDOW_SECONDS);
    const busy = this.nodeBusyCum - (this.nodeBusyAt[from] ?? 0);
    const capacity = this.nodeCapacityCum - (this.nodeCapacityAt[from] ?? 0);
    return {
      timeMs: SIMULATION_EPOCH_MS + t * 1000,
      metricsAgeSeconds: Number.isFinite(newestSample) ? t - newestSample : t,
      services,
      nodeCpuUtilization: capacity > 0 ? Math.min(1, busy / capacity) : 0,
    };
  }

  /** Quality metrics of the episode so far (see metrics.ts for the definitions). */
  episodeMetrics(): EpisodeMetrics {
    return computeEpisodeMetrics({
      series: this.series,
      sloMs: Array.from(this.sloSeconds, (x) => x * 1000),
      cpuRequestMilli: Array.from(this.cpuReq),
      entryServices: Array.from(new Set(this.entryService)),
      edges: Array.from(this.edgeTo, (to, k) => ({ from: this.edgeFrom(k), to, callRatio: this.edgeRatio[k]! })),
      injectorEvents: this.injectorEvents,
      slo: this.scenario.slo,
      maxReplicas: this.topology.services.map((s) => s.maxReplicas),
    });
  }
}

function cpuTargetFraction(spec: TwinHpaSpec): number | undefined {
  for (const m of spec.metrics) {
    const r = (m as { type?: string; resource?: { name?: string; target?: { type?: string; averageUtilization?: number } } });
    if (r.type === 'Resource' && r.resource?.name === 'cpu' && r.resource.target?.type === 'Utilization' && r.resource.target.averageUtilization) {
      return r.resource.target.averageUtilization / 100;
    }
  }
  return undefined;
}

/**
 * Share of requests within the SLO for a segment whose fluid waits are uniform on [w0, w1], each
 * adding an exponential sojourn with rate r: mean over w of P(w + X ≤ c) = 1 − e^{−r(c − w)} for w < c.
 */
export function withinSloShare(w0: number, w1: number, c: number, r: number): number {
  if (c <= w0) return 0;
  if (w1 - w0 < 1e-12) return 1 - Math.exp(-r * (c - w0));
  const hi = Math.min(w1, c);
  const part = hi - w0;
  const avg = 1 - (Math.exp(-r * (c - hi)) - Math.exp(-r * (c - w0))) / (r * part);
  return (avg * part) / (w1 - w0);
}

/** The q-quantile of a mixture of uniform segments (counts n_i on [w0_i, w1_i]), by bisection. */
export function fluidQuantile(n: Float64Array, w0: Float64Array, w1: Float64Array, count: number, total: number, q: number): number {
  let hiW = 0;
  let allZero = true;
  for (let i = 0; i < count; i++) {
    const top = Math.max(w0[i]!, w1[i]!);
    if (top > hiW) hiW = top;
    if (top > 0) allZero = false;
  }
  if (allZero) return 0;
  const target = q * total;
  let lo = 0;
  let hi = hiW;
  for (let iter = 0; iter < 30; iter++) {
    const mid = (lo + hi) / 2;
    let below = 0;
    for (let i = 0; i < count; i++) {
      const a = Math.min(w0[i]!, w1[i]!);
      const b = Math.max(w0[i]!, w1[i]!);
      if (mid >= b) below += n[i]!;
      else if (mid > a) below += (n[i]! * (mid - a)) / (b - a);
    }
    if (below >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Create a simulation; see generator/twin/index.ts. */
export function createSimulation(opts: SimulationOptions): Simulation {
  return new Simulation(opts);
}
