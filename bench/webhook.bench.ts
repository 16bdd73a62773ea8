/**
 * Admission webhook latency and throughput: the real `karma-hpa webhook` (mutate path, a GitOps
 * re-sync whose decision is re-applied) against a bare node:https server that answers a fixed
 * AdmissionReview, both in child processes so the load generator has its own event loop.
 *   - open loop: a fixed offered load of 1,000 req/s for 5 s; latency is measured from each
 *     request's scheduled time, so a slow server cannot hide queueing (no coordinated omission)
 *   - saturation: closed loop, 32 concurrent requests for 5 s
 * Both over keep-alive HTTPS connections. Targets: p99 ≤ 5 ms at 1,000 req/s; saturation ≥ 60 % of bare.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestPki } from '../test/support/tls.ts';

type Emit = (record: Record<string, unknown>) => void;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(root, 'test/fixtures/admission');
const OFFERED_RPS = 1000;
const OPEN_LOOP_SECONDS = 5;
const CLOSED_LOOP_SECONDS = 5;
const CONCURRENCY = 32;
/** Keep-alive connections of the open-loop client: far more than 1,000 req/s × a few ms needs. */
const OPEN_LOOP_CONNECTIONS = 32;
const WARMUP_SECONDS = 1;

interface Target { name: string; port: number; child: ChildProcess }

/** A free loopback port: bind to 0, read the port, release it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Start a server child whose stdout (its JSON logs) goes to a file, as a container runtime would
 * take it: a pipe read by the load generator could fill up and block the server's log writes.
 */
async function startChild(name: string, args: (port: number) => string[], logFile: string, ca: string): Promise<Target> {
  const port = await freePort();
  const out = openSync(logFile, 'w');
  const child = spawn(process.execPath, args(port), { cwd: root, stdio: ['ignore', out, 'inherit'] });
  closeSync(out);
  let exited = false;
  child.once('exit', () => (exited = true));
  const agent = new Agent({ keepAlive: false });
  for (;;) {
    if (exited) throw new Error(`${name} exited early; see ${logFile}`);
    const ready = await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/readyz', ca, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ready) return { name, port, child };
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 1/100 s on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function post(agent: Agent, ca: string, port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/mutate/hpa', method: 'POST', agent, ca,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => (res.statusCode === 200 ? resolve(200) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface LoadResult { completed: number; errors: number; seconds: number; rps: number; p50: number; p99: number; max: number; serverCpuUsPerRequest?: number }

function summarise(latencies: number[], errors: number, seconds: number): LoadResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { completed: sorted.length, errors, seconds: r(seconds), rps: Math.round(sorted.length / seconds), p50: r(percentile(sorted, 50)), p99: r(percentile(sorted, 99)), max: r(sorted.at(-1) ?? NaN) };
}

/** Open loop: request i is due at t0 + i/rate whatever happened to earlier ones. */
async function openLoop(target: Target, ca: string, body: string, rate: number, seconds: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: OPEN_LOOP_CONNECTIONS });
  // Open the connections before the clock starts, so TLS handshakes are not counted as latency.
  await Promise.all(Array.from({ length: OPEN_LOOP_CONNECTIONS }, () => post(agent, ca, target.port, body)));
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.round(rate * seconds);
  const inflight: Promise<void>[] = [];
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (sent < due) {
        const scheduled = t0 + (sent * 1000) / rate;
        sent++;
        inflight.push(post(agent, ca, target.port, body).then(() => void latencies.push(performance.now() - scheduled), () => void errors++));
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(inflight);
  const seconds_ = (performance.now() - t0) / 1000;
  agent.destroy();
  return summarise(latencies, errors, seconds_);
}

/** Closed loop: `concurrency` workers, each sending its next request when the previous answers. */
async function closedLoop(target: Target, ca: string, body: string, concurrency: number, seconds: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const start = performance.now();
      try {
        await post(agent, ca, target.port, body);
        latencies.push(performance.now() - start);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  return summarise(latencies, errors, elapsed);
}

async function stop(t: Target): Promise<void> {
  if (t.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => t.child.once('exit', () => resolve()));
  t.child.kill('SIGTERM');
  await exited;
}

export async function run(emit: Emit): Promise<void> {
  const pki = createTestPki('karma-hpa bench CA');
  const cert = pki.issue('bench');
  const bundles = mkdtempSync(join(tmpdir(), 'karma-hpa-bench-bundles-'));
  const logs = mkdtempSync(join(tmpdir(), 'karma-hpa-bench-logs-'));
  copyFileSync(join(fixtures, 'bundles/checkout.json'), join(bundles, 'checkout.json'));
  const body = readFileSync(join(fixtures, 'hpa-update-gitops-resync.json'), 'utf8');
  // The bare server answers what the webhook answers for this request, so both send the same bytes.
  const fixed = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: {
    uid: 'b1a7c0de-0003-4c3e-9f00-000000000003', allowed: true, patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify([{ op: 'replace', path: '/spec/minReplicas', value: 5 }])).toString('base64') } });
  const bareScript = `
    import { createServer } from 'node:https';
    import { readFileSync } from 'node:fs';
    const fixed = ${JSON.stringify(fixed)};
    const server = createServer({ cert: readFileSync(${JSON.stringify(cert.certFile)}), key: readFileSync(${JSON.stringify(cert.keyFile)}) }, (req, res) => {
      req.on('data', () => {});
      req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(fixed); });
    });
    server.listen(Number(process.argv[1]), '127.0.0.1');
    process.on('SIGTERM', () => server.close(() => process.exit(0)));`;

  const targets: Target[] = [];
  try {
    const webhook = await startChild('webhook', (port) => [join(root, 'generator/cli/karma-hpa.js'), 'webhook', '--port', String(port), '--host', '127.0.0.1',
      '--cert', cert.certFile, '--key', cert.keyFile, '--bundles-from', `dir:${bundles}`, '--shutdown-delay-seconds', '0'], join(logs, 'webhook.log'), pki.caPem);
    targets.push(webhook);
    const bare = await startChild('bare', (port) => ['--input-type=module', '-e', bareScript, String(port)], join(logs, 'bare.log'), pki.caPem);
    targets.push(bare);
    const results: Record<string, { open: LoadResult; closed: LoadResult }> = {};
    for (const t of [bare, webhook]) {
      await closedLoop(t, pki.caPem, body, CONCURRENCY, WARMUP_SECONDS);
      // Server CPU per request does not depend on what else the machine runs, unlike latency.
      const measured = async (load: () => Promise<LoadResult>): Promise<LoadResult> => {
        const cpu0 = cpuSeconds(t.child.pid!);
        const r = await load();
        return { ...r, serverCpuUsPerRequest: Math.round(((cpuSeconds(t.child.pid!) - cpu0) / r.completed) * 1e6) };
      };
      const open = await measured(() => openLoop(t, pki.caPem, body, OFFERED_RPS, OPEN_LOOP_SECONDS));
      const closed = await measured(() => closedLoop(t, pki.caPem, body, CONCURRENCY, CLOSED_LOOP_SECONDS));
      results[t.name] = { open, closed };
      process.stderr.write(`  ${t.name}: open loop ${JSON.stringify(open)}\n  ${t.name}: saturation ${JSON.stringify(closed)}\n`);
    }
    const w = results.webhook!;
    const b = results.bare!;
    const ctx = { loadAverage1m: Math.round(loadavg()[0]! * 100) / 100, offeredRps: OFFERED_RPS, openLoopSeconds: OPEN_LOOP_SECONDS, concurrency: CONCURRENCY, closedLoopSeconds: CLOSED_LOOP_SECONDS, transport: 'https keep-alive' };
    emit({ bench: 'webhook.mutate_p99_at_1000rps', unit: 'ms', value: w.open.p99, reference: b.open.p99, target: 5, p50: w.open.p50, referenceP50: b.open.p50, max: w.open.max, achievedRps: w.open.rps, errors: w.open.errors, ...ctx });
    emit({ bench: 'webhook.mutate_server_cpu_per_request', unit: 'us', value: w.closed.serverCpuUsPerRequest, reference: b.closed.serverCpuUsPerRequest,
      atOfferedLoad: w.open.serverCpuUsPerRequest, referenceAtOfferedLoad: b.open.serverCpuUsPerRequest, ...ctx });
    emit({ bench: 'webhook.mutate_p50_at_1000rps', unit: 'ms', value: w.open.p50, reference: b.open.p50, ...ctx });
    emit({ bench: 'webhook.mutate_saturation_rps', unit: 'req/s', value: w.closed.rps, reference: b.closed.rps, ratio: Math.round((w.closed.rps / b.closed.rps) * 1000) / 1000, target: 0.6,
      p50: w.closed.p50, p99: w.closed.p99, referenceP50: b.closed.p50, referenceP99: b.closed.p99, errors: w.closed.errors, ...ctx });
  } finally {
    for (const t of targets) await stop(t);
    pki.cleanup();
    rmSync(bundles, { recursive: true, force: true });
    rmSync(logs, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await run((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
}
