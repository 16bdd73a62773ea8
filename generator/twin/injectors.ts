import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '../../policies/random.ts';
import type { InjectorSpec } from './scenario.ts';
import { BUILTIN_DIR, type Topology } from './topology.ts';

/** Defaults of every injector parameter, documented in generator/twin/README.md. */
export const INJECTOR_DEFAULTS = {
  atSeconds: 120,
  bottleneck: { durationSeconds: 240, capacityFactor: 0.35, mode: 'cpu' as const },
  ddos: { rampUpSeconds: 30, holdSeconds: 180, rampDownSeconds: 30, multiplier: 3 },
  // Burst long enough for the HPA to scale up (~60 s), pause longer than its 300 s downscale window.
  yoyo: { periodSeconds: 360, burstSeconds: 90, multiplier: 3 },
  podFailures: { durationSeconds: 240, crashProbabilityPerSecond: 0.02, crashLoop: true, crashAfterSeconds: 5 },
  contention: { durationSeconds: 240, nodeCount: 1, stealFraction: 0.6, sampleNodeSpeed: true },
  nodeLoss: { evictionDelaySeconds: 40 },
};

/** A fault or attack starting (or ending) at a time: the onsets recovery time is measured from. */
export interface InjectorEvent {
  timeSeconds: number;
  kind: InjectorSpec['kind'];
  phase: 'onset' | 'end';
  /** Service, entry point or node the injector acts on. */
  target: string;
  /** Index of the injector in the scenario's injectors list. */
  injector: number;
}

/**
 * Injector effects for one second, as flat arrays the physics reads. Recomputed every simulated
 * second from the compiled schedule; composable because every effect multiplies (or, for crash
 * probabilities and CPU steal, combines as independent events).
 */
export interface InjectorEffects {
  /** Per entry point: request-rate multiplier (DDoS, YoYo). */
  entryMultiplier: Float64Array;
  /** Per service: capacity factor that also raises CPU per request (bottleneck mode cpu). */
  serviceSpeed: Float64Array;
  /** Per service: capacity factor without extra CPU (bottleneck mode io: requests wait on I/O). */
  serviceIo: Float64Array;
  /** Per service: probability per second that a ready pod crashes. */
  crashProbability: Float64Array;
  /** Per service: 1 when restarted pods keep crashing (CrashLoopBackOff), else 0. */
  crashLoop: Uint8Array;
  /** Per service: seconds after becoming ready at which a crash-looping pod crashes again. */
  crashAfterSeconds: Float64Array;
  /** Per node: share of its CPU taken by a noisy neighbour. */
  nodeSteal: Float64Array;
  /** Per node: VM speed factor (work per CPU second relative to the median VM). */
  nodeSpeed: Float64Array;
}

/** Node-loss transitions the simulation applies at the start of a second. */
export interface NodeTransition {
  timeSeconds: number;
  node: number;
  alive: boolean;
  evictionDelaySeconds: number;
}

interface Schedule {
  apply: (sec: number, fx: InjectorEffects) => void;
}

let azureQuantiles: number[] | undefined;

/**
 * Node speed factors measured on 11,868 Azure D8s_v5 VMs (Redis GET throughput / median; see
 * builtin/SOURCES.md), stored as 101 quantiles; sampled by inverse CDF with linear interpolation.
 */
export function sampleNodeSpeed(rng: Rng): number {
  azureQuantiles ??= (JSON.parse(readFileSync(join(BUILTIN_DIR, 'node-speed-azure-d8s_v5.json'), 'utf8')) as { quantiles: number[] }).quantiles;
  const q = azureQuantiles;
  const p = rng.next() * (q.length - 1);
  const i = Math.floor(p);
  const f = p - i;
  return q[i]! * (1 - f) + q[Math.min(i + 1, q.length - 1)]! * f;
}

export interface CompiledInjectors {
  effects: InjectorEffects;
  /** Recompute `effects` for simulated second `sec`. */
  update: (sec: number) => void;
  events: InjectorEvent[];
  nodeTransitions: NodeTransition[];
  /** Node speed factors for the whole episode (1 unless the scenario enables nodeSpeedNoise). */
  baseNodeSpeed: Float64Array;
}

/** Turn a scenario's injector list into a per-second effect schedule, drawing every random choice now. */
export function compileInjectors(specs: InjectorSpec[], topology: Topology, durationSeconds: number, rng: Rng, nodeSpeedNoise: boolean): CompiledInjectors {
  const S = topology.services.length;
  const E = topology.entryPoints.length;
  const N = topology.nodes.length;
  const svcIndex = new Map(topology.services.map((s, i) => [s.name, i]));
  const entryIndex = new Map(topology.entryPoints.map((e, i) => [e.service, i]));
  const nodeIndex = new Map(topology.nodes.map((n, i) => [n.name, i]));
  const effects: InjectorEffects = {
    entryMultiplier: new Float64Array(E),
    serviceSpeed: new Float64Array(S),
    serviceIo: new Float64Array(S),
    crashProbability: new Float64Array(S),
    crashLoop: new Uint8Array(S),
    crashAfterSeconds: new Float64Array(S),
    nodeSteal: new Float64Array(N),
    nodeSpeed: new Float64Array(N),
  };
  const baseNodeSpeed = new Float64Array(N).fill(1);
  if (nodeSpeedNoise) for (let n = 0; n < N; n++) baseNodeSpeed[n] = sampleNodeSpeed(rng);
  const schedules: Schedule[] = [];
  const events: InjectorEvent[] = [];
  const nodeTransitions: NodeTransition[] = [];
  const D = INJECTOR_DEFAULTS;
  const window = (i: number, kind: InjectorSpec['kind'], target: string, at: number, dur: number): void => {
    events.push({ timeSeconds: at, kind, phase: 'onset', target, injector: i });
    if (at + dur < durationSeconds) events.push({ timeSeconds: at + dur, kind, phase: 'end', target, injector: i });
  };
  specs.forEach((spec, i) => {
    const at = spec.atSeconds ?? D.atSeconds;
    switch (spec.kind) {
      case 'bottleneck': {
        const s = svcIndex.get(spec.service)!;
        const dur = spec.durationSeconds ?? D.bottleneck.durationSeconds;
        const f = spec.capacityFactor ?? D.bottleneck.capacityFactor;
        const io = (spec.mode ?? D.bottleneck.mode) === 'io';
        window(i, spec.kind, spec.service, at, dur);
        schedules.push({ apply: (sec, fx) => { if (sec >= at && sec < at + dur) (io ? fx.serviceIo : fx.serviceSpeed)[s]! *= f; } });
        break;
      }
      case 'ddos': {
        const up = spec.rampUpSeconds ?? D.ddos.rampUpSeconds;
        const hold = spec.holdSeconds ?? D.ddos.holdSeconds;
        const down = spec.rampDownSeconds ?? D.ddos.rampDownSeconds;
        const m = spec.multiplier ?? D.ddos.multiplier;
        const targets = spec.entryPoint !== undefined ? [entryIndex.get(spec.entryPoint)!] : topology.entryPoints.map((_, k) => k);
        window(i, spec.kind, spec.entryPoint ?? topology.entryPoints.map((e) => e.service).join('+'), at, up + hold + down);
        schedules.push({
          apply: (sec, fx) => {
            const x = sec - at;
            let level = 0;
            if (x < 0) level = 0;
            else if (x < up) level = (x + 1) / (up + 1);
            else if (x < up + hold) level = 1;
            else if (x < up + hold + down) level = 1 - (x - up - hold + 1) / (down + 1);
            if (level > 0) for (const e of targets) fx.entryMultiplier[e]! *= 1 + (m - 1) * level;
          },
        });
        break;
      }
      case 'yoyo': {
        const period = spec.periodSeconds ?? D.yoyo.periodSeconds;
        const burst = Math.min(spec.burstSeconds ?? D.yoyo.burstSeconds, period);
        const m = spec.multiplier ?? D.yoyo.multiplier;
        const maxBursts = spec.bursts ?? Number.MAX_SAFE_INTEGER;
        const targets = spec.entryPoint !== undefined ? [entryIndex.get(spec.entryPoint)!] : topology.entryPoints.map((_, k) => k);
        const target = spec.entryPoint ?? topology.entryPoints.map((e) => e.service).join('+');
        for (let k = 0; k < maxBursts && at + k * period < durationSeconds; k++) window(i, spec.kind, target, at + k * period, burst);
        schedules.push({
          apply: (sec, fx) => {
            if (sec < at) return;
            const k = Math.floor((sec - at) / period);
            if (k < maxBursts && sec - at - k * period < burst) for (const e of targets) fx.entryMultiplier[e]! *= m;
          },
        });
        break;
      }
      case 'pod-failures': {
        const s = svcIndex.get(spec.service)!;
        const dur = spec.durationSeconds ?? D.podFailures.durationSeconds;
        const p = spec.crashProbabilityPerSecond ?? D.podFailures.crashProbabilityPerSecond;
        const loop = spec.crashLoop ?? D.podFailures.crashLoop;
        const after = spec.crashAfterSeconds ?? D.podFailures.crashAfterSeconds;
        window(i, spec.kind, spec.service, at, dur);
        schedules.push({
          apply: (sec, fx) => {
            if (sec < at || sec >= at + dur) return;
            fx.crashProbability[s] = 1 - (1 - fx.crashProbability[s]!) * (1 - p);
            if (loop) {
              fx.crashLoop[s] = 1;
              fx.crashAfterSeconds[s] = Math.min(fx.crashAfterSeconds[s]!, after);
            }
          },
        });
        break;
      }
      case 'resource-contention': {
        const dur = spec.durationSeconds ?? D.contention.durationSeconds;
        const steal = spec.stealFraction ?? D.contention.stealFraction;
        let nodes: number[];
        if (spec.nodes) nodes = spec.nodes.map((n) => nodeIndex.get(n)!);
        else {
          // A seeded choice of distinct nodes (partial Fisher–Yates).
          const all = topology.nodes.map((_, k) => k);
          const count = Math.min(spec.nodeCount ?? D.contention.nodeCount, all.length);
          for (let k = 0; k < count; k++) {
            const j = k + rng.int(all.length - k);
            [all[k], all[j]] = [all[j]!, all[k]!];
          }
          nodes = all.slice(0, count);
        }
        const speeds = nodes.map(() => ((spec.sampleNodeSpeed ?? D.contention.sampleNodeSpeed) ? Math.min(1, sampleNodeSpeed(rng)) : 1));
        window(i, spec.kind, nodes.map((n) => topology.nodes[n]!.name).join('+'), at, dur);
        schedules.push({
          apply: (sec, fx) => {
            if (sec < at || sec >= at + dur) return;
            nodes.forEach((n, k) => {
              fx.nodeSteal[n] = 1 - (1 - fx.nodeSteal[n]!) * (1 - steal);
              fx.nodeSpeed[n]! *= speeds[k]!;
            });
          },
        });
        break;
      }
      case 'node-loss': {
        const node = spec.node !== undefined ? nodeIndex.get(spec.node)! : rng.int(topology.nodes.length);
        const evict = spec.evictionDelaySeconds ?? D.nodeLoss.evictionDelaySeconds;
        const name = topology.nodes[node]!.name;
        events.push({ timeSeconds: at, kind: spec.kind, phase: 'onset', target: name, injector: i });
        nodeTransitions.push({ timeSeconds: at, node, alive: false, evictionDelaySeconds: evict });
        if (spec.returnAfterSeconds !== undefined && at + spec.returnAfterSeconds < durationSeconds) {
          events.push({ timeSeconds: at + spec.returnAfterSeconds, kind: spec.kind, phase: 'end', target: name, injector: i });
          nodeTransitions.push({ timeSeconds: at + spec.returnAfterSeconds, node, alive: true, evictionDelaySeconds: evict });
        }
        break;
      }
    }
  });
  events.sort((a, b) => a.timeSeconds - b.timeSeconds || a.injector - b.injector);
  nodeTransitions.sort((a, b) => a.timeSeconds - b.timeSeconds);
  const update = (sec: number): void => {
    effects.entryMultiplier.fill(1);
    effects.serviceSpeed.fill(1);
    effects.serviceIo.fill(1);
    effects.crashProbability.fill(0);
    effects.crashLoop.fill(0);
    effects.crashAfterSeconds.fill(Infinity);
    effects.nodeSteal.fill(0);
    effects.nodeSpeed.set(baseNodeSpeed);
    for (const sch of schedules) sch.apply(sec, effects);
  };
  update(0);
  return { effects, update, events, nodeTransitions, baseNodeSpeed };
}
