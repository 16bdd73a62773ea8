import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KarmaError } from '../../policies/errors.ts';
import type { LoadSpec } from './scenario.ts';

/** Where the recorded traces live unless KARMA_HPA_DATA_DIR says otherwise. */
export const DEFAULT_DATA_DIR = '/work/shared/data';
export const NASA_TRACE_FILE = 'load/nasa-http-1995-rps-per-second.tbz2';

/**
 * Total entry request rate (requests/s, before injectors) for each second of the episode.
 * `capacityRate` is what a rate of 1 means when the load is `relativeTo: capacity` (the default):
 * the topology's sustainable entry rate at maxReplicas.
 */
export function entryRateSeries(load: LoadSpec, durationSeconds: number, capacityRate: number, opts: { baseDir: string; env?: Record<string, string | undefined> }): Float64Array {
  const unit = (load.relativeTo ?? 'capacity') === 'capacity' ? capacityRate : 1;
  const out = new Float64Array(durationSeconds);
  switch (load.kind) {
    case 'constant':
      out.fill(load.rate * unit);
      break;
    case 'diurnal': {
      // rate(t) = mean · (1 + amplitude · sin(2π (t + phase) / period))
      const period = load.periodSeconds ?? 86_400;
      const amp = load.amplitude ?? 0.5;
      const phase = load.phaseSeconds ?? 0;
      for (let t = 0; t < durationSeconds; t++) out[t] = load.mean * unit * (1 + amp * Math.sin((2 * Math.PI * (t + phase)) / period));
      break;
    }
    case 'step': {
      const steps = [...load.steps].sort((a, b) => a.atSeconds - b.atSeconds);
      let rate = load.rate;
      let k = 0;
      for (let t = 0; t < durationSeconds; t++) {
        while (k < steps.length && steps[k]!.atSeconds <= t) rate = steps[k++]!.rate;
        out[t] = rate * unit;
      }
      break;
    }
    case 'trace': {
      const file = load.file !== undefined ? resolve(opts.baseDir, load.file) : join((opts.env ?? process.env).KARMA_HPA_DATA_DIR ?? DEFAULT_DATA_DIR, NASA_TRACE_FILE);
      const trace = loadPerSecondTrace(file, opts.env);
      const window = traceWindow(trace, durationSeconds, load.offsetSeconds ?? 0, load.timeScale ?? 1, load.smoothingSeconds ?? 60);
      rescale(window, load.mean * unit, load.peak !== undefined ? load.peak * unit : undefined);
      out.set(window);
      break;
    }
  }
  return out;
}

/**
 * The slice of a per-second trace an episode replays: trace second `offset + t·timeScale` for
 * episode second t, each value the mean over the `smoothing` trace seconds that start there (the raw
 * trace averages 0.68 requests/s, so single seconds are mostly 0 or 1 and must be averaged before
 * scaling up). Wraps around the end of the trace.
 */
export function traceWindow(trace: Uint16Array, durationSeconds: number, offset: number, timeScale: number, smoothing: number): Float64Array {
  const n = trace.length;
  // Prefix sums over one wrap make every window mean O(1).
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + trace[i]!;
  const sumRange = (a: number, len: number): number => {
    let total = 0;
    let start = a % n;
    let left = len;
    while (left > 0) {
      const take = Math.min(left, n - start);
      total += prefix[start + take]! - prefix[start]!;
      left -= take;
      start = 0;
    }
    return total;
  };
  const out = new Float64Array(durationSeconds);
  const width = Math.max(1, Math.round(smoothing));
  for (let t = 0; t < durationSeconds; t++) out[t] = sumRange(Math.floor(offset + t * timeScale), width) / width;
  return out;
}

/**
 * Affine rescaling so the window's mean becomes `mean` and, when given, its maximum becomes `peak`
 * (values clamped at 0); with no peak the shape is only scaled (x · mean / mean(x)).
 */
export function rescale(x: Float64Array, mean: number, peak: number | undefined): void {
  let sum = 0;
  let max = -Infinity;
  for (const v of x) {
    sum += v;
    if (v > max) max = v;
  }
  const m = sum / x.length;
  if (peak === undefined || max <= m) {
    const k = m > 0 ? mean / m : 0;
    for (let i = 0; i < x.length; i++) x[i] = m > 0 ? x[i]! * k : mean;
    return;
  }
  const slope = (peak - mean) / (max - m);
  for (let i = 0; i < x.length; i++) x[i] = Math.max(0, mean + (x[i]! - m) * slope);
}

const traceCache = new Map<string, Uint16Array>();

/**
 * Read a per-second request-count trace: a text file of counts separated by white space, or a
 * `.tbz2`/`.tar.bz2` archive holding one, which is unpacked once with `tar -xjf` into
 * `$KARMA_HPA_CACHE_DIR` (default `<os tmpdir>/karma-hpa-cache`). Cached in memory per process.
 */
export function loadPerSecondTrace(file: string, env: Record<string, string | undefined> = process.env): Uint16Array {
  const cached = traceCache.get(file);
  if (cached) return cached;
  if (!existsSync(file)) {
    throw new KarmaError(`load trace not found: ${file}`, {
      where: 'scenario /load',
      hint: 'set KARMA_HPA_DATA_DIR to the directory holding load/nasa-http-1995-rps-per-second.tbz2, or give /load/file',
    });
  }
  let textFile = file;
  if (/\.(tbz2|tar\.bz2)$/.test(file)) {
    const cacheRoot = env.KARMA_HPA_CACHE_DIR ?? join(tmpdir(), 'karma-hpa-cache');
    const dir = join(cacheRoot, file.replace(/[^a-zA-Z0-9]+/g, '_'));
    textFile = join(dir, 'workload.txt');
    if (!existsSync(textFile)) {
      // Unpack into a private directory first so a concurrent reader never sees a half-written file.
      const tmp = `${dir}.tmp-${process.pid}`;
      mkdirSync(tmp, { recursive: true });
      try {
        execFileSync('tar', ['-xjf', file, '-C', tmp], { stdio: 'pipe' });
      } catch (e) {
        throw new KarmaError(`cannot unpack load trace ${file}: ${(e as Error).message.split('\n')[0]}`, { hint: 'tar and bzip2 must be installed' });
      }
      mkdirSync(dir, { recursive: true });
      if (!existsSync(textFile)) renameSync(join(tmp, 'workload.txt'), textFile);
    }
  }
  const trace = parseCounts(readFileSync(textFile, 'latin1'), textFile);
  traceCache.set(file, trace);
  return trace;
}

function parseCounts(text: string, file: string): Uint16Array {
  const out = new Uint16Array(text.length >>> 1 || 1);
  let n = 0;
  let cur = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) cur = (cur < 0 ? 0 : cur * 10) + (c - 48);
    else if (c === 32 || c === 10 || c === 13 || c === 9) {
      if (cur >= 0) out[n++] = Math.min(cur, 65535);
      cur = -1;
    } else {
      throw new KarmaError(`load trace ${file} has an unexpected character at offset ${i}`, { hint: 'a trace is non-negative integer counts separated by white space' });
    }
  }
  if (cur >= 0) out[n++] = Math.min(cur, 65535);
  if (n === 0) throw new KarmaError(`load trace ${file} is empty`);
  return out.slice(0, n);
}
