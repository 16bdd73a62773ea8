#!/usr/bin/env node
// The `karma-hpa` executable. It runs the TypeScript sources directly (Node's type stripping; the
// project's scripts run on the Node 24 that `npm ci` installs), or the JavaScript in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
// The Kubernetes client (through undici 8) needs Node >= 22.19; Node 22.18+ also strips types.
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`karma-hpa: needs Node >= 22.19, this is Node ${process.versions.node}.\n  hint: run it through npm (npx karma-hpa ..., npm run generate), which uses the Node 24 that 'npm ci' installs into node_modules/.bin\n`);
  process.exit(2);
}
const built = fileURLToPath(new URL('../../dist/generator/cli/entry.js', import.meta.url));
// Sources when present (a checkout); the JavaScript that `npm run build` emits otherwise.
await import(existsSync(new URL('./entry.ts', import.meta.url)) ? './entry.ts' : built);
