/**
 * Twin simulation speed with the emulated HPA in the loop: simulated seconds per wall-clock second on
 * one core, for the chained-services and online-boutique topologies (targets 20,000 and 5,000), on
 * the mixed scenario (every injector kind but node loss) and on a quiet constant load.
 */
import { createSimulation } from '../generator/twin/simulation.ts';
import { loadScenario, loadTopology, type Scenario } from '../generator/twin/index.ts';

type Emit = (record: Record<string, unknown>) => void;

function measure(topologyName: string, scenario: Scenario, minWallMs: number): { simSeconds: number; wallMs: number } {
  const topology = loadTopology(topologyName);
  // Warm up the JIT on one episode, then time whole episodes until minWallMs has passed.
  createSimulation({ topology, scenario, seed: 0 }).run();
  let simSeconds = 0;
  let seed = 1;
  const start = performance.now();
  while (performance.now() - start < minWallMs) {
    createSimulation({ topology, scenario, seed: seed++ }).run();
    simSeconds += scenario.durationSeconds;
  }
  return { simSeconds, wallMs: performance.now() - start };
}

export async function run(emit: Emit): Promise<void> {
  const cases: { topology: string; scenario: string; target: number }[] = [
    { topology: 'chained-services', scenario: 'mixed', target: 20_000 },
    { topology: 'chained-services', scenario: 'ddos', target: 20_000 },
    { topology: 'online-boutique', scenario: 'mixed', target: 5_000 },
    { topology: 'online-boutique', scenario: 'ddos', target: 5_000 },
  ];
  for (const c of cases) {
    const scenario = loadScenario(c.scenario);
    // The built-in scenarios are written for chained-services; retarget service names for others.
    if (c.topology === 'online-boutique') {
      scenario.injectors = scenario.injectors.map((inj) =>
        inj.kind === 'bottleneck' ? { ...inj, service: 'productcatalogservice' } : inj.kind === 'pod-failures' ? { ...inj, service: 'frontend' } : inj);
    }
    const { simSeconds, wallMs } = measure(c.topology, scenario, 4000);
    const value = simSeconds / (wallMs / 1000);
    emit({
      bench: `twin.${c.topology}.${c.scenario}`,
      metric: 'sim_seconds_per_wall_second',
      unit: 'sim_seconds_per_wall_second',
      value: Math.round(value),
      target: c.target,
      meetsTarget: value >= c.target,
      autoscaler: 'hpa',
      tickSeconds: 1,
      simulatedSeconds: simSeconds,
      wallSeconds: Math.round(wallMs) / 1000,
    });
  }
}
