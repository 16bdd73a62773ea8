/**
 * The twin's fit on the shared Online Boutique trace (720 steps × 10 services): time to fit on the
 * whole trace and to fit-and-evaluate as `karma-hpa model` does, on one core, against the 60 s budget;
 * plus the fidelity numbers the command prints. `KARMA_BENCH_PAPER_SIZE=1` also fits the paper's
 * 3 × 128 network for the width trade-off (≈ 50 s more).
 */
import { readCsvTraceDirectory } from '../generator/model/readers/csv-directory.ts';
import { fitTransitionModel, DEFAULT_TRANSITION_CONFIG } from '../generator/model/transition.ts';
import { buildTwin } from '../generator/model/twin.ts';

type Emit = (record: Record<string, unknown>) => void;

/** CPU seconds this process spent (user + system): the one-core cost, unaffected by other load on the machine. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
const TRACE = process.env.KARMA_TRACE_DIR ?? new URL('../../shared/data/traces/online-boutique-nezha', import.meta.url).pathname;

export async function run(emit: Emit): Promise<void> {
  let t = performance.now();
  const trace = readCsvTraceDirectory(TRACE);
  emit({ bench: 'model.load', unit: 'ms', value: Math.round(performance.now() - t), services: Object.keys(trace.services).length, steps: trace.timestamps.length });

  t = performance.now();
  let cpu = cpuSeconds();
  const whole = fitTransitionModel(trace, { ...DEFAULT_TRANSITION_CONFIG, trainFraction: 1 });
  emit({ bench: 'model.fit-whole-trace', unit: 'cpu-s', value: Number((cpuSeconds() - cpu).toFixed(2)), wallSeconds: Number(((performance.now() - t) / 1000).toFixed(2)), reference: 60, hidden: DEFAULT_TRANSITION_CONFIG.hidden, ensemble: DEFAULT_TRANSITION_CONFIG.ensembleSize, epochs: whole.mlp.members.map((m) => m.report.epochs) });

  const sizes = process.env.KARMA_BENCH_PAPER_SIZE ? [DEFAULT_TRANSITION_CONFIG.hidden, [128, 128, 128]] : [DEFAULT_TRANSITION_CONFIG.hidden];
  for (const hidden of sizes) {
    t = performance.now();
    cpu = cpuSeconds();
    const { twin } = buildTwin(trace, { seed: 1, source: 'online-boutique-nezha', config: { hidden } });
    const h10 = twin.fidelity.horizons.find((h) => h.horizon === 10)!;
    const fe = h10.services.frontend!;
    emit({ bench: `model.fit-and-evaluate.${hidden.join('x')}`, unit: 'cpu-s', value: Number((cpuSeconds() - cpu).toFixed(2)), wallSeconds: Number(((performance.now() - t) / 1000).toFixed(2)), reference: 60 });
    emit({
      bench: `model.fidelity-10-step.${hidden.join('x')}`,
      unit: 'MAE',
      value: h10.meanOverServices.cpu!.hybrid.mae,
      reference: h10.meanOverServices.cpu!.persistence.mae,
      note: 'value: hybrid mean-over-services CPU MAE (millicores); reference: persistence',
      frontendCpu: { persistence: fe.cpu!.persistence.mae, physics: fe.cpu!.physics.mae, hybrid: fe.cpu!.hybrid.mae },
      frontendP90: { persistence: fe.latencyP90!.persistence.mae, physics: fe.latencyP90!.physics.mae, hybrid: fe.latencyP90!.hybrid.mae },
      meanP90: h10.meanOverServices.latencyP90,
      accuracy: twin.fidelity.accuracy,
      checksPassed: twin.fidelity.checks.filter((c) => c.passed).length,
      checks: twin.fidelity.checks.length,
    });
  }
}
