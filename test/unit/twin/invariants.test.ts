import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSimulation } from '../../../generator/twin/simulation.ts';
import { loadTopology } from '../../../generator/twin/topology.ts';
import type { InjectorSpec } from '../../../generator/twin/scenario.ts';
import { scenarioOf, sum } from './fixtures.ts';

const chained = loadTopology('chained-services');
const service = fc.constantFrom('A', 'B', 'C', 'D');
const at = fc.integer({ min: 0, max: 100 });
const injector: fc.Arbitrary<InjectorSpec> = fc.oneof(
  fc.record({ kind: fc.constant('bottleneck' as const), service, atSeconds: at, durationSeconds: fc.integer({ min: 1, max: 60 }), capacityFactor: fc.double({ min: 0.05, max: 1, noNaN: true }), mode: fc.constantFrom('cpu' as const, 'io' as const) }),
  fc.record({ kind: fc.constant('ddos' as const), atSeconds: at, rampUpSeconds: fc.integer({ min: 0, max: 20 }), holdSeconds: fc.integer({ min: 0, max: 40 }), rampDownSeconds: fc.integer({ min: 0, max: 20 }), multiplier: fc.double({ min: 1, max: 6, noNaN: true }) }),
  fc.record({ kind: fc.constant('yoyo' as const), atSeconds: at, periodSeconds: fc.integer({ min: 10, max: 60 }), burstSeconds: fc.integer({ min: 1, max: 30 }), multiplier: fc.double({ min: 1, max: 5, noNaN: true }) }),
  fc.record({ kind: fc.constant('pod-failures' as const), service, atSeconds: at, durationSeconds: fc.integer({ min: 1, max: 60 }), crashProbabilityPerSecond: fc.double({ min: 0.001, max: 1, noNaN: true }), crashLoop: fc.boolean(), crashAfterSeconds: fc.integer({ min: 0, max: 10 }) }),
  fc.record({ kind: fc.constant('resource-contention' as const), nodeCount: fc.integer({ min: 1, max: 3 }), atSeconds: at, durationSeconds: fc.integer({ min: 1, max: 60 }), stealFraction: fc.double({ min: 0, max: 0.95, noNaN: true }) }),
  fc.record({ kind: fc.constant('node-loss' as const), atSeconds: at, evictionDelaySeconds: fc.integer({ min: 0, max: 30 }), returnAfterSeconds: fc.integer({ min: 1, max: 60 }) }),
);

describe('physics invariants under random scenarios', () => {
  it('conserve requests and keep every recorded quantity in range', () => {
    fc.assert(
      fc.property(
        fc.array(injector, { maxLength: 4 }),
        fc.double({ min: 0, max: 1.5, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom('hpa' as const, 'none' as const, 'static-max' as const),
        (injectors, rate, seed, autoscaler) => {
          const scenario = scenarioOf({ durationSeconds: 150, load: { kind: 'constant', rate }, injectors });
          const sim = createSimulation({ topology: chained, scenario, seed, autoscaler }).run();
          for (const s of sim.serviceNames) {
            const col = (f: Parameters<typeof sim.series.column>[1]) => sim.series.column(s, f);
            const [offered, served, within, dropped, queue] = [col('offered'), col('served'), col('servedWithinSlo'), col('dropped'), col('queue')];
            const [replicas, ready, cpu, capacity, p95] = [col('replicas'), col('ready'), col('cpuUtilization'), col('capacityRps'), col('p95LatencyMs')];
            const total = sum(offered);
            expect(Math.abs(total - sum(served) - sum(dropped) - queue[149]!)).toBeLessThan(1e-3 * Math.max(1, total));
            const broken: string[] = [];
            for (let t = 0; t < 150; t++) {
              if (queue[t]! < 0) broken.push(`${s}@${t}: negative queue`);
              if (within[t]! > served[t]! + 1e-3) broken.push(`${s}@${t}: more within SLO than served`);
              if (served[t]! > capacity[t]! + 1e-3) broken.push(`${s}@${t}: served above capacity`);
              if (ready[t]! > replicas[t]!) broken.push(`${s}@${t}: more ready than replicas`);
              if (cpu[t]! > 1 + 1e-6) broken.push(`${s}@${t}: CPU above request`);
              if (!Number.isFinite(p95[t]!)) broken.push(`${s}@${t}: p95 not finite`);
            }
            expect(broken).toEqual([]);
          }
          const m = sim.episodeMetrics();
          for (const v of [m.successRate, m.endToEndSuccessRate, m.availability, m.latencyCompliance, m.resilience]) {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1);
          }
        },
      ),
      { numRuns: 25, seed: 20251125 },
    );
  });
});
