/**
 * A tiny cooperative task to check that MAPPO learns: each step a signal x ∈ {0, 1, 2} is drawn; the
 * "copier" (two slots) must answer x, the "shifter" must answer (x + 1) mod 3 and never its fourth
 * action, which its role masks. Team reward: the share of correct answers. Random play earns ≈ 1/3.
 */
import { Rng } from '../../policies/random.ts';
import type { MarlEnv, MarlEnvSpec, MarlObservation, MarlStepResult } from './env.ts';

export class ToyCoordinationEnv implements MarlEnv {
  readonly spec: MarlEnvSpec = {
    agents: [
      { name: 'copier', slots: ['s0', 's1'], features: ['x0', 'x1', 'x2', 'slot'], actions: [0, 1, 2] },
      { name: 'shifter', slots: ['s0'], features: ['x0', 'x1', 'x2', 'slot'], actions: [0, 1, 2, 3] },
    ],
    stateSize: 4,
  };
  private readonly steps: number;
  private rng = new Rng(0);
  private t = 0;
  private x = 0;
  private returnSum = 0;

  constructor(steps = 8) {
    this.steps = steps;
  }

  reset(seed: number): void {
    this.rng = new Rng(seed);
    this.t = 0;
    this.returnSum = 0;
    this.x = this.rng.int(3);
  }

  observe(): MarlObservation {
    const oneHot = (slot: number): Float32Array => Float32Array.from([this.x === 0 ? 1 : 0, this.x === 1 ? 1 : 0, this.x === 2 ? 1 : 0, slot]);
    return {
      obs: [[oneHot(0), oneHot(1)], [oneHot(0)]],
      masks: [[Uint8Array.of(1, 1, 1), Uint8Array.of(1, 1, 1)], [Uint8Array.of(1, 1, 1, 0)]],
      state: Float32Array.from([this.x === 0 ? 1 : 0, this.x === 1 ? 1 : 0, this.x === 2 ? 1 : 0, this.t / this.steps]),
    };
  }

  step(actions: number[][]): MarlStepResult {
    if (actions[1]![0] === 3) throw new Error('masked action taken');
    const correct = (actions[0]![0] === this.x ? 1 : 0) + (actions[0]![1] === this.x ? 1 : 0) + (actions[1]![0] === (this.x + 1) % 3 ? 1 : 0);
    const r = correct / 3;
    this.returnSum += r;
    this.t++;
    this.x = this.rng.int(3);
    return { rewards: [[r, r], [r]], done: this.t >= this.steps };
  }

  summary(): Record<string, number> {
    return { accuracy: this.returnSum / this.steps };
  }
}
