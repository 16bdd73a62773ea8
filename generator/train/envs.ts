/** Build an environment from its serialisable spec (in the main thread or a worker). */
import type { EnvSpec, MarlEnv } from './env.ts';
import { ToyCoordinationEnv } from './toy-env.ts';
import { TwinEnv, type TwinEnvOptions } from './twin-env.ts';

export function createEnv(spec: EnvSpec): MarlEnv {
  switch (spec.kind) {
    case 'toy':
      return new ToyCoordinationEnv(spec.steps);
    case 'twin':
      return new TwinEnv(spec.options as unknown as TwinEnvOptions);
  }
}
