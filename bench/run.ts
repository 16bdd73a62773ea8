/**
 * Runs every bench/*.bench.ts module and prints one JSON object per line on stdout:
 * `{ "bench": "<area>.<name>", "unit": ..., "value": ..., ...context }`. Human notes go to stderr.
 * `node bench/run.ts twin hpa` runs only the named areas.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import os from 'node:os';

type Emit = (record: Record<string, unknown>) => void;
const here = dirname(fileURLToPath(import.meta.url));
const only = new Set(process.argv.slice(2));
const files = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).sort();
const machine = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown' };
let failures = 0;
for (const file of files) {
  const area = file.replace(/\.bench\.ts$/, '');
  if (only.size > 0 && !only.has(area)) continue;
  process.stderr.write(`bench ${area} ...\n`);
  const emit: Emit = (record) => process.stdout.write(`${JSON.stringify({ ...record, machine })}\n`);
  try {
    const mod = (await import(pathToFileURL(join(here, file)).href)) as { run: (emit: Emit) => Promise<void> };
    await mod.run(emit);
  } catch (e) {
    failures++;
    process.stdout.write(`${JSON.stringify({ bench: `${area}.error`, error: (e as Error).message })}\n`);
  }
}
process.exitCode = failures > 0 ? 1 : 0;
