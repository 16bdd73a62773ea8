/**
 * After `tsc` has emitted JavaScript to dist/, copy the data files the code reads at run time
 * (built-in topologies and scenarios, schemas, Lua health checks, deploy manifests) beside it.
 */
import { cpSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ASSET_EXTENSIONS = new Set(['.yaml', '.yml', '.json', '.csv', '.lua', '.md', '.svg']);
let copied = 0;

function walk(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (ASSET_EXTENSIONS.has(extname(name))) {
      cpSync(path, join(root, 'dist', relative(root, path)));
      copied++;
    }
  }
}
for (const top of ['generator', 'policies', 'webhook']) walk(join(root, top));
process.stdout.write(`copied ${copied} asset files to dist/\n`);
