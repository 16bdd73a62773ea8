/**
 * The webhook's Prometheus metrics in the text exposition format (version 0.0.4): a request duration
 * histogram by path and outcome, and counters for applied decisions, denials and errors.
 */

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Admission calls are sub-millisecond to a few ms; the top buckets reach the webhook timeout. */
export const DURATION_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type Labels = Record<string, string>;

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1));
  if (extra) pairs.push(extra);
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/** Series key: label names and values in the caller's order (callers always build labels alike). */
function keyOf(labels: Labels): string {
  let key = '';
  for (const k in labels) key += `${k}\u0000${labels[k]}\u0001`;
  return key;
}

function formatNumber(n: number): string {
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (Number.isNaN(n)) return 'NaN';
  return String(n);
}

class Counter {
  readonly values = new Map<string, { labels: Labels; value: number }>();
  readonly name: string;
  readonly help: string;
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = keyOf(labels);
    const cur = this.values.get(k);
    if (cur) cur.value += by;
    else this.values.set(k, { labels, value: by });
  }
  get(labels: Labels = {}): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }
  render(type: 'counter' | 'gauge' = 'counter'): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${type}`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelText(labels)} ${formatNumber(value)}`);
    return lines.join('\n');
  }
}

class Histogram {
  readonly series = new Map<string, { labels: Labels; buckets: number[]; sum: number; count: number }>();
  readonly name: string;
  readonly help: string;
  readonly bounds: readonly number[];
  constructor(name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.bounds = bounds;
  }
  observe(labels: Labels, value: number): void {
    const k = keyOf(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels, buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]!) s.buckets[i]!++;
    s.sum += value;
    s.count++;
  }
  count(labels: Labels): number {
    return this.series.get(keyOf(labels))?.count ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.bounds.forEach((b, i) => lines.push(`${this.name}_bucket${labelText(s.labels, ['le', formatNumber(b)])} ${s.buckets[i]}`));
      lines.push(`${this.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export class WebhookMetrics {
  readonly requestDuration = new Histogram('karma_hpa_webhook_request_duration_seconds', 'Time to answer an admission request, by path and outcome.', DURATION_BUCKETS_SECONDS);
  readonly decisionsApplied = new Counter('karma_hpa_webhook_decisions_applied_total', 'Agent decisions re-applied to an HPA spec on admission (dry runs excluded), by bundle.');
  readonly denials = new Counter('karma_hpa_webhook_denials_total', 'Admission requests denied, by path and guard.');
  readonly errors = new Counter('karma_hpa_webhook_errors_total', 'Requests answered with an HTTP error, by path and kind (bad_request, unsupported_media_type, too_large, timeout, internal).');
  readonly bundlesLoaded = new Counter('karma_hpa_webhook_bundles_loaded', 'PolicyBundles currently loaded.');
  readonly bundleLoadErrors = new Counter('karma_hpa_webhook_bundle_load_errors_total', 'Bundles rejected while loading, by source.');
  readonly tlsReloads = new Counter('karma_hpa_webhook_tls_reloads_total', 'Serving certificate reloads, by result.');

  setBundlesLoaded(n: number): void {
    this.bundlesLoaded.values.clear();
    this.bundlesLoaded.inc({}, n);
  }

  render(): string {
    return `${[
      this.requestDuration.render(),
      this.decisionsApplied.render(),
      this.denials.render(),
      this.errors.render(),
      this.bundlesLoaded.render('gauge'),
      this.bundleLoadErrors.render(),
      this.tlsReloads.render(),
    ].join('\n')}\n`;
  }
}
