/**
 * Twin simulation speed with the emulated HPA in the loop: simulated seconds per wall-clock second on
 * one core, for the chained-services and online-boutique topologies (targets 20,000 and 5,000), on
 * each topology's own mixed scenario (every injector kind but node loss) and on ddos. Then the default
 * HPA's quality in every built-in scenario of both topologies: success rate, mean ± 95 % CI over seeds 1–5
 * (the table in generator/twin/README.md; `karma-hpa simulate --scenario <topology>/<name> --seeds 1-5`
 * prints the same numbers per seed).
 */
import { createSimulation } from '../generator/twin/simulation.ts';
import { builtinScenarioNamesFor, builtinScenarioTopologies, loadScenario, loadTopology, meanConfidence95, type Scenario } from '../generator/twin/index.ts';

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
    // Each topology runs its own variant of the scenario.
    const scenario = loadScenario(c.scenario, process.cwd(), { topology: c.topology });
    const { simSeconds, wallMs } = measure(c.topology, scenario, 4000);
    const value = simSeconds / (wallMs / 1000);
    emit({
      bench: `twin.${c.topology}.${c.scenario}`,
      metric: 'sim_seconds_per_wall_second',
      unit: 'sim_seconds_per_wall_second',
      value: Math.round(value),
      target: c.target,
      meetsTarget: value >= c.target,
      scenario: scenario.source,
      autoscaler: 'hpa',
      tickSeconds: 1,
      simulatedSeconds: simSeconds,
      wallSeconds: Math.round(wallMs) / 1000,
    });
  }

  const seeds = [1, 2, 3, 4, 5];
  for (const topologyName of builtinScenarioTopologies()) {
    const topology = loadTopology(topologyName);
    for (const name of builtinScenarioNamesFor(topologyName)) {
      const scenario = loadScenario(`${topologyName}/${name}`);
      const rates = seeds.map((seed) => createSimulation({ topology, scenario, seed }).run().episodeMetrics().successRate);
      const ci = meanConfidence95(rates);
      emit({
        bench: `twin.default-hpa.${topologyName}.${name}`,
        metric: 'success_rate',
        unit: 'fraction',
        value: Math.round(ci.mean * 1e4) / 1e4,
        ci95HalfWidth: Math.round(ci.halfWidth * 1e4) / 1e4,
        perSeed: rates.map((r) => Math.round(r * 1e4) / 1e4),
        seeds,
        autoscaler: 'hpa',
        // The paper's default HPA over all its scenarios, for reference.
        reference: 0.648,
      });
    }
  }
}
