/**
 * An error meant for a person: what went wrong, where (file, line, field path), and what to do.
 * Every input problem in karma-hpa is reported as a KarmaError; anything else escaping is a bug.
 */
export class KarmaError extends Error {
  readonly what: string;
  readonly where: string | undefined;
  readonly hint: string | undefined;
  /** Extra findings (e.g. every schema violation, not only the first). */
  readonly details: readonly string[];

  constructor(what: string, opts: { where?: string; hint?: string; details?: readonly string[] } = {}) {
    super(formatKarmaError(what, opts.where, opts.hint, opts.details ?? []));
    this.name = 'KarmaError';
    this.what = what;
    this.where = opts.where;
    this.hint = opts.hint;
    this.details = opts.details ?? [];
  }
}

function formatKarmaError(what: string, where: string | undefined, hint: string | undefined, details: readonly string[]): string {
  const head = where ? `${where}: ${what}` : what;
  const body = details.map((d) => `\n  - ${d}`).join('');
  return hint ? `${head}${body}\n  hint: ${hint}` : `${head}${body}`;
}

export function isKarmaError(e: unknown): e is KarmaError {
  return e instanceof KarmaError;
}
