/**
 * Bundles from a directory of YAML/JSON files (for example a mounted ConfigMap, or a Git checkout).
 * The directory is watched; every change reloads all files. A file that stops validating (or is empty)
 * keeps its last valid bundles in force, so a half-written file never drops governance.
 */
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validateBundle, type PolicyBundle } from '../../policies/bundle.ts';
import type { BundleSource } from './source.ts';

const BUNDLE_FILE = /\.(ya?ml|json)$/i;

export interface DirLoad {
  /** Valid bundles by file name. */
  byFile: Map<string, PolicyBundle[]>;
  /** One line per rejected file or document: `file (document N): problem`. */
  problems: string[];
}

/** Read every bundle file of a directory once. Files whose name starts with `.` (ConfigMap internals) are skipped. */
export async function loadBundleDir(dir: string): Promise<DirLoad> {
  const byFile = new Map<string, PolicyBundle[]>();
  const problems: string[] = [];
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => !d.name.startsWith('.') && BUNDLE_FILE.test(d.name) && (d.isFile() || d.isSymbolicLink()))
    .map((d) => d.name)
    .sort();
  for (const name of names) {
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch (e) {
      problems.push(`${name}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      continue;
    }
    // An empty file is most likely caught mid-write; its previous bundles stay until it has content
    // again or is deleted.
    if (text.trim() === '') {
      problems.push(`${name}: is empty; its previous bundles stay in force (delete the file to remove them)`);
      continue;
    }
    const docs = parseAllDocuments(text);
    const docList = Array.isArray(docs) ? docs : [docs];
    const bundles: PolicyBundle[] = [];
    let fileOk = true;
    docList.forEach((doc, i) => {
      const where = docList.length > 1 ? `${name} (document ${i + 1})` : name;
      if (doc.errors.length > 0) {
        problems.push(`${where}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
        fileOk = false;
        return;
      }
      const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
      if (value === null || value === undefined) return;
      const result = validateBundle(value);
      if (result.ok) bundles.push(result.bundle);
      else {
        fileOk = false;
        problems.push(`${where}: ${result.errors.slice(0, 5).join('; ')}`);
      }
    });
    if (fileOk) byFile.set(name, bundles);
  }
  return { byFile, problems };
}

export function dirBundleSource(dir: string): BundleSource {
  const events = new EventEmitter();
  let current = new Map<string, PolicyBundle[]>();
  let flat: PolicyBundle[] = [];
  let isReady = false;
  let watcher: FSWatcher | undefined;
  let loading: Promise<void> | undefined;
  let again = false;

  const reload = async (): Promise<void> => {
    const { byFile, problems } = await loadBundleDir(dir);
    const names = new Set(await readdir(dir).catch(() => [] as string[]));
    const next = new Map<string, PolicyBundle[]>();
    for (const [file, bundles] of current) if (names.has(file) && !byFile.has(file)) next.set(file, bundles);
    for (const [file, bundles] of byFile) next.set(file, bundles);
    current = next;
    flat = [...current.values()].flat();
    for (const p of problems) events.emit('problem', p);
    isReady = true;
    events.emit('reloaded', { bundles: flat, problems });
  };

  // Changes arriving during a load trigger exactly one more load afterwards.
  const schedule = (): void => {
    if (loading) {
      again = true;
      return;
    }
    loading = reload()
      .catch((e: unknown) => void events.emit('problem', `${dir}: ${(e as Error).message}`))
      .finally(() => {
        loading = undefined;
        if (again) {
          again = false;
          schedule();
        }
      });
  };

  return {
    description: `dir:${dir}`,
    events,
    bundles: () => flat,
    ready: () => isReady,
    async start() {
      await reload();
      watcher = watch(dir, { persistent: false }, () => schedule());
      watcher.on('error', (e) => events.emit('problem', `${dir}: watch failed: ${e.message}`));
    },
    async stop() {
      watcher?.close();
      watcher = undefined;
      await loading;
    },
  };
}
