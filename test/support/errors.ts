import { isKarmaError, type KarmaError } from '../../policies/errors.ts';

/** Run `fn` and return the KarmaError it throws; any other outcome fails the test. */
export function karmaErrorOf(fn: () => unknown): KarmaError {
  try {
    fn();
  } catch (e) {
    if (isKarmaError(e)) return e;
    throw e;
  }
  throw new Error('expected a KarmaError');
}
