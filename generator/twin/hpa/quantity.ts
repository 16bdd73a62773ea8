/**
 * Kubernetes resource quantities ("500m", "1", "1.5", "250Mi", "2e3") to exact milli-units. Decimal
 * arithmetic is done on BigInt so "0.1" is exactly 100m; fractions of a milli-unit round up, as
 * Quantity.MilliValue() does.
 */

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|(n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

const BINARY_POWER: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL_EXPONENT: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

export type QuantityParse = { ok: true; milli: number } | { ok: false; problem: string };

export const QUANTITY_HINT = 'write a Kubernetes quantity such as "500m", "1", "1.5", "250Mi" or "2e3"';

/** Parse a quantity string to milli-units (e.g. "500m" → 500, "1" → 1000, "1Ki" → 1024000). */
export function parseQuantityMilli(text: string): QuantityParse {
  const m = QUANTITY.exec(text.trim());
  if (!m || text.trim() === '') return { ok: false, problem: `"${text}" is not a Kubernetes quantity` };
  const [, sign, number, binary, decimal, exponent] = m;
  const [intPart = '', fracPart = ''] = number!.split('.');
  let numerator = BigInt((intPart + fracPart) || '0');
  let denominator = 10n ** BigInt(fracPart.length);
  if (binary) numerator *= 1024n ** BigInt(BINARY_POWER[binary]!);
  let exp10 = 3; // to milli-units
  if (decimal) exp10 += DECIMAL_EXPONENT[decimal]!;
  if (exponent) {
    const e = Number(exponent);
    if (!Number.isSafeInteger(e) || Math.abs(e) > 40) return { ok: false, problem: `"${text}" has an exponent out of range` };
    exp10 += e;
  }
  if (exp10 >= 0) numerator *= 10n ** BigInt(exp10);
  else denominator *= 10n ** BigInt(-exp10);
  // Round up to a whole milli-unit (toward +infinity, on the magnitude before the sign for negatives).
  let milli = numerator / denominator;
  if (numerator % denominator !== 0n) milli += 1n;
  if (milli > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, problem: `"${text}" is too large` };
  const value = Number(milli);
  return { ok: true, milli: sign === '-' ? -value : value };
}

/** A quantity given as a JSON number (base units) or a string, in milli-units. */
export function quantityToMilli(q: number | string): QuantityParse {
  if (typeof q === 'number') {
    if (!Number.isFinite(q)) return { ok: false, problem: `${q} is not a finite number` };
    // Go through the decimal text so 0.1 stays exactly 100m.
    return parseQuantityMilli(numberText(q));
  }
  return parseQuantityMilli(q);
}

function numberText(n: number): string {
  const s = String(n);
  return s.replace(/e\+?/, 'e');
}
