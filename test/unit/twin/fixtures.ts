import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { scenarioFromDocument, type Scenario, type ScenarioDocument } from '../../../generator/twin/scenario.ts';
import { loadTopology, type Topology } from '../../../generator/twin/topology.ts';
import { createSimulation, type SimulationOptions, type Simulation } from '../../../generator/twin/simulation.ts';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/twin');

export function fixtureTopology(name: string): Topology {
  return loadTopology(join(FIXTURES, `${name}.yaml`));
}

/** A scenario built in code (defaults applied exactly as for a YAML file). */
export function scenarioOf(doc: Partial<ScenarioDocument> & Pick<ScenarioDocument, 'load' | 'durationSeconds'>): Scenario {
  return scenarioFromDocument({ apiVersion: 'karma-hpa.io/v1alpha1', kind: 'Scenario', name: 'test', topology: 'test', ...doc }, 'test scenario', FIXTURES);
}

export function runEpisode(opts: SimulationOptions): Simulation {
  return createSimulation(opts).run();
}

export function sum(xs: number[], from = 0, to = xs.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += xs[i]!;
  return s;
}

export function mean(xs: number[], from = 0, to = xs.length): number {
  return sum(xs, from, to) / (to - from);
}
