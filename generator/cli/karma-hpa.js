#!/usr/bin/env node
// The `karma-hpa` executable. On Node >= 22.18 it runs the TypeScript sources directly (type
// stripping; the project's scripts run on the Node 24 that `npm ci` installs); on older Node it
// runs the JavaScript that `npm run build` emits to dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
const stripsTypes = major > 22 || (major === 22 && minor >= 18);
const built = fileURLToPath(new URL('../../dist/generator/cli/entry.js', import.meta.url));
if (stripsTypes) {
  await import('./entry.ts');
} else if (existsSync(built)) {
  await import(built);
} else {
  process.stderr.write(`karma-hpa: Node ${process.versions.node} cannot run the TypeScript sources; run 'npm run build' first, or use the Node 24 that 'npm ci' installs (npx karma-hpa ...)\n`);
  process.exitCode = 2;
}
