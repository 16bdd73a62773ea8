import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { validateBundle, type PolicyBundle } from '../../policies/bundle.ts';
import { KarmaError } from '../../policies/errors.ts';

export interface BundleFileCheck {
  file: string;
  ok: boolean;
  /** One line per problem: field path, line:col in the file, what is wrong. */
  errors: string[];
  bundle?: PolicyBundle;
}

/** Read a bundle file (JSON or YAML) and check schema, consistency and digest. Never throws on bad content. */
export function checkBundleFile(file: string): BundleFileCheck {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { file, ok: false, errors: [`cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`] };
  }
  return checkBundleText(text, file);
}

export function checkBundleText(text: string, file: string): BundleFileCheck {
  const lineCounter = new LineCounter();
  // JSON is YAML, so one parser gives line numbers for both.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      file,
      ok: false,
      errors: doc.errors.map((err) => {
        // Without prettyErrors the parser leaves linePos empty; the line counter knows the offset.
        const pos = err.linePos?.[0] ?? lineCounter.linePos(err.pos[0]);
        return `line ${pos.line}:${pos.col}: ${err.message.split('\n')[0]}`;
      }),
    };
  }
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  const r = validateBundle(value, { name: file, locate: (pointer) => locate(doc, lineCounter, pointer) });
  return r.ok ? { file, ok: true, errors: [], bundle: r.bundle } : { file, ok: false, errors: r.errors };
}

/** Load a bundle file, or throw a KarmaError listing every problem. */
export function loadBundleFile(file: string): PolicyBundle {
  const r = checkBundleFile(file);
  if (!r.ok || !r.bundle) {
    throw new KarmaError(`invalid PolicyBundle: ${r.errors.length} problem${r.errors.length === 1 ? '' : 's'}`, {
      where: file,
      details: r.errors,
      hint: 'regenerate the bundle with karma-hpa generate, or fix the fields listed; a digest error means the file was edited after it was sealed',
    });
  }
  return r.bundle;
}

/** line:col of the deepest node on a JSON pointer's path that exists in the document. */
function locate(doc: Document, lc: LineCounter, pointer: string): string | undefined {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: unknown = doc.contents;
  let offset = (node as { range?: number[] } | null)?.range?.[0];
  for (const part of parts) {
    if (isMap(node)) {
      const pair = node.items.find((it) => String((it.key as { value?: unknown } | null)?.value ?? it.key) === part);
      if (!pair) break;
      offset = (pair.key as { range?: number[] } | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(part)];
      if (item === undefined) break;
      node = item;
      offset = (item as { range?: number[] } | null)?.range?.[0] ?? offset;
    } else break;
  }
  if (offset === undefined) return undefined;
  const p = lc.linePos(offset);
  return `${p.line}:${p.col}`;
}
