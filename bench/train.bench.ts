/**
 * Training speed. `nn`: forward + backward + Adam steps per second of the hand-written MLP against
 * TensorFlow.js (pure-JS CPU backend) on the same 2×64 tanh network, batch 256. `mappo`: wall time and
 * environment steps per second of training the default organisation on chained-services, for a few
 * iterations and to convergence (a few minutes).
 */
import { Rng } from '../policies/random.ts';
import { Adam, clipGradNorm, TrainableMlp } from '../generator/train/nn.ts';

type Emit = (record: Record<string, unknown>) => void;

const IN = 16;
const OUT = 7;
const BATCH = 256;

function handWrittenStepsPerSecond(seconds: number): number {
  const rng = new Rng(1);
  const net = TrainableMlp.init([IN, 64, 64, OUT], 'tanh', rng, 1);
  const opt = new Adam(net.params.length);
  const x = Float32Array.from({ length: BATCH * IN }, () => rng.normal());
  const y = Float64Array.from({ length: BATCH * OUT }, () => rng.normal());
  const d = new Float64Array(BATCH * OUT);
  let steps = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    const { out, acts } = net.forward(x, BATCH);
    for (let i = 0; i < d.length; i++) d[i] = (out[i]! - y[i]!) / BATCH;
    net.zeroGrad();
    net.backward(acts, d, BATCH);
    clipGradNorm([net], 0.5);
    opt.step(net, 1e-3);
    steps++;
  }
  return steps / ((performance.now() - start) / 1000);
}

async function tfjsStepsPerSecond(seconds: number): Promise<number | undefined> {
  let tf: typeof import('@tensorflow/tfjs');
  try {
    tf = await import('@tensorflow/tfjs');
  } catch {
    return undefined;
  }
  await tf.setBackend('cpu');
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [IN], units: 64, activation: 'tanh' }),
      tf.layers.dense({ units: 64, activation: 'tanh' }),
      tf.layers.dense({ units: OUT }),
    ],
  });
  const optimizer = tf.train.adam(1e-3);
  const rng = new Rng(1);
  const x = tf.tensor2d(Float32Array.from({ length: BATCH * IN }, () => rng.normal()), [BATCH, IN]);
  const y = tf.tensor2d(Float32Array.from({ length: BATCH * OUT }, () => rng.normal()), [BATCH, OUT]);
  const step = (): void => {
    tf.tidy(() => {
      optimizer.minimize(() => tf.losses.meanSquaredError(y, model.apply(x) as import('@tensorflow/tfjs').Tensor) as import('@tensorflow/tfjs').Scalar);
    });
  };
  step();
  let steps = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    step();
    steps++;
  }
  return steps / ((performance.now() - start) / 1000);
}

export async function run(emit: Emit): Promise<void> {
  const mine = handWrittenStepsPerSecond(5);
  const reference = await tfjsStepsPerSecond(5);
  emit({ bench: 'train.nn-step', unit: 'steps/s', value: Number(mine.toFixed(1)), reference: reference === undefined ? null : Number(reference.toFixed(1)), referenceName: '@tensorflow/tfjs cpu backend', network: `${IN}-64-64-${OUT} tanh`, batch: BATCH });
  emit(await mappoTraining());
  emit(await mappoToConvergence());
}

/**
 * The default organisation trained on chained-services as `generate` trains it (all five training
 * scenarios, the tuned HPA base, its cost constraint, 2 worker threads), timed.
 */
async function trainDefaultOrganisation(iterations: number, stopAtConvergence: boolean, validateEvery: number) {
  const { trainPolicies } = await import('../generator/train/evaluation.ts');
  const { DEFAULT_MAPPO_CONFIG } = await import('../generator/train/mappo.ts');
  const { loadOrganisation } = await import('../policies/organisation.ts');
  const started = performance.now();
  const trained = await trainPolicies({
    topology: 'chained-services', scenarios: ['bottleneck', 'ddos', 'pod-failures', 'resource-contention', 'mixed'],
    organisation: loadOrganisation('default'), roleMode: 'hard', cwd: process.cwd(),
    config: { ...DEFAULT_MAPPO_CONFIG, iterations, stopAtConvergence }, workers: 2, hpaBase: 'tuned', validateEvery,
  });
  return { trained, seconds: (performance.now() - started) / 1000, episodesPerIteration: DEFAULT_MAPPO_CONFIG.episodesPerIteration };
}

/**
 * Wall time of a fixed number of iterations and decision steps per second. Kept short to stay within
 * the bench budget; `karma-hpa train` prints the same figures for a full run.
 */
async function mappoTraining(): Promise<Record<string, unknown>> {
  const iterations = 12;
  const { trained: t, seconds, episodesPerIteration } = await trainDefaultOrganisation(iterations, false, 0);
  return {
    bench: 'train.mappo-chained-services', unit: 's/iteration', value: Number((seconds / iterations).toFixed(3)),
    wallSeconds: Number(seconds.toFixed(1)), iterations, episodesPerIteration,
    decisionStepsPerSecond: Number((t.envSteps / seconds).toFixed(1)),
    simulatedSecondsPerSecond: Number(((t.envSteps * 15) / seconds).toFixed(0)),
  };
}

/**
 * To convergence, as `karma-hpa train --hpa-base tuned --iterations 300` does: validations every 10
 * iterations decide (convergence on the agents as deployed, generator/train/mappo.ts hasConverged),
 * 300 iterations at most. The reference is the fixed schedule `generate` trains (150 iterations, the
 * line above × 150).
 */
async function mappoToConvergence(): Promise<Record<string, unknown>> {
  const { DEFAULT_VALIDATE_EVERY } = await import('../generator/train/evaluation.ts');
  const cap = 300;
  const { trained: t, seconds } = await trainDefaultOrganisation(cap, true, DEFAULT_VALIDATE_EVERY);
  const last = [...t.history].reverse().find((h) => h.validation)?.validation;
  return {
    bench: 'train.mappo-to-convergence', unit: 's', value: Number(seconds.toFixed(1)),
    converged: t.converged, iterations: t.history.length, maxIterations: cap,
    decisionStepsPerSecond: Number((t.envSteps / seconds).toFixed(1)),
    validation: last ? { meanFailedShare: Number(last.meanFailedShare.toFixed(4)), meanCostRatio: Number(last.meanCostRatio.toFixed(3)) } : null,
  };
}
