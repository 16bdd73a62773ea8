import { describe, expect, it } from 'vitest';
import { main } from '../../../generator/cli/main.ts';
import { captureIo } from '../../support/io.ts';

describe('karma-hpa CLI', () => {
  it('lists its commands with --help', async () => {
    const io = captureIo();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.stdout()).toMatch(/usage: karma-hpa <command>/);
  });

  it('rejects an unknown command with a hint and exit code 2', async () => {
    const io = captureIo();
    expect(await main(['frobnicate'], io)).toBe(2);
    expect(io.stderr()).toMatch(/unknown command "frobnicate"/);
    expect(io.stderr()).toMatch(/hint:/);
  });
});

describe('runtime', () => {
  it('runs on the Node 24 runtime that npm ci installs (client-node 2.x needs >= 22.19)', () => {
    const [major, minor] = process.versions.node.split('.').map(Number);
    expect(major! > 22 || (major === 22 && minor! >= 19)).toBe(true);
  });
});
