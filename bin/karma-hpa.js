#!/usr/bin/env node
// Runs the compiled CLI when present (npm install of a release), else the TypeScript sources
// directly (Node >= 22.18 strips types natively; the project pins Node 24 for its scripts).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/generator/cli/entry.js', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
if (existsSync(built)) {
  await import(built);
} else if (major >= 22) {
  await import('../generator/cli/entry.ts');
} else {
  process.stderr.write(`karma-hpa: Node ${process.versions.node} cannot run the TypeScript sources; run 'npm run build' first or use the Node 24 that 'npm ci' installs (npx karma-hpa ...)\n`);
  process.exitCode = 2;
}
