/**
 * The digital twin: a seeded, deterministic, discrete-time simulation of a Kubernetes cluster of
 * interdependent services, with the emulated HPA controller in the loop.
 *
 * ```ts
 * import { createSimulation, loadScenario, topologyOfScenario } from './generator/twin/index.ts';
 * const scenario = loadScenario('ddos');                  // built-in name, `online-boutique/ddos`, or YAML path
 * // loadScenario('ddos', cwd, { topology: 'online-boutique' }) takes that topology's variant of a built-in name
 * const topology = topologyOfScenario(scenario);          // or loadTopology('online-boutique')
 * const sim = createSimulation({ topology, scenario, seed: 7 });   // tickSeconds?: 1, autoscaler?: 'hpa'
 * while (!sim.done) {
 *   if (sim.timeSeconds % 15 === 0) {
 *     const snap = sim.snapshot();                         // ClusterSnapshot (policies/snapshot.ts), metrics-pipeline view
 *     const { minReplicas, maxReplicas } = sim.hpaSpec('A');
 *     sim.setHpaBounds('A', { minReplicas: minReplicas + 1, maxReplicas });   // agents act through HPA bounds
 *   }
 *   sim.step();                                            // one tick
 * }
 * const metrics = sim.episodeMetrics();                    // metrics.ts definitions
 * ```
 *
 * Simulation members:
 * - `step(): void` one tick; `run(): this` to the end; `done: boolean`; `timeSeconds: number` (simulated).
 * - `serviceNames: readonly string[]` in topological order of the call graph.
 * - `snapshot(): ClusterSnapshot` what autoscalers see (CPU from metrics-server samples, stale by design).
 * - `hpaSpec(service): TwinHpaSpec` and `setHpaBounds(service, { minReplicas, maxReplicas })`: the
 *   emulated HPA (reconcileHpa every HPA_SYNC_PERIOD_SECONDS) applies them at its next sync.
 * - `setReplicasDirect(service, n)` sets replicas and takes that service away from its HPA (baselines).
 * - `desiredReplicas(service)`, `podsOf(service)`, `hpaLastReason(service)` for inspection.
 * - `series: TimeSeries` per-second, per-service recording (fields in series.ts: offered, served,
 *   servedWithinSlo, dropped, pending, queue, replicas, ready, p95LatencyMs, cpuUtilization,
 *   capacityRps, failedPods); `series.toCsv()`, `series.toJson()`, `series.column(service, field)`.
 * - `setAdversary({ entryPoint, rateMultiplier, crashProbabilityPerSecond })` / `clearAdversary()` /
 *   `adversary`: a training adversary applied from the next tick (entry load × multiplier; extra crash
 *   probability per pod-second for the entry point and every service downstream of it).
 * - `injectorEvents: InjectorEvent[]` fault/attack onsets and ends (recovery time is measured from onsets).
 * - `episodeMetrics(): EpisodeMetrics` success rate (per service and end-to-end), latency compliance, pending ratio, recovery,
 *   availability, cost, operational resilience — per episode and per service.
 */
export { createSimulation, Simulation, crashLoopBackoffSeconds, SIMULATION_EPOCH_MS, ADVERSARY_MAX_RATE_MULTIPLIER } from './simulation.ts';
export type { AutoscalerMode, SimulationOptions, PodEvent, PodView, PodState, AdversarySetting } from './simulation.ts';
export { loadTopology, parseTopology, builtinTopologyNames, flowMultipliers, sustainableEntryRate, parseCpuMilli } from './topology.ts';
export type { Topology, ServiceSpec, TwinHpaSpec, TopologyDocument, Criticality } from './topology.ts';
export { loadScenario, parseScenario, builtinScenarioNames, builtinScenarioNamesFor, builtinScenarioRefs, builtinScenarioTopologies, DEFAULT_SCENARIO_TOPOLOGY, topologyOfScenario, checkScenarioAgainstTopology } from './scenario.ts';
export type { Scenario, ScenarioDocument, LoadSpec, InjectorSpec, SloSpec } from './scenario.ts';
export { INJECTOR_DEFAULTS, sampleNodeSpeed } from './injectors.ts';
export type { InjectorEvent } from './injectors.ts';
export { computeEpisodeMetrics, endToEndSuccessRate, meanConfidence95, studentT975, recoveryTime, successRateBySecond, DEFAULT_RESILIENCE_WEIGHTS } from './metrics.ts';
export type { EpisodeMetrics, ServiceMetrics, RecoveryMetric, ResilienceWeights } from './metrics.ts';
export { TimeSeries, SERIES_FIELDS } from './series.ts';
export type { SeriesField } from './series.ts';
export { entryRateSeries, loadPerSecondTrace } from './load.ts';
