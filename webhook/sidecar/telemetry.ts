/**
 * The sidecar's own metrics in the Prometheus text exposition format (version 0.0.4): counters,
 * gauges and one histogram, with labels. Small on purpose: the sidecar must not pull a metrics stack.
 */
import { createServer, type Server } from 'node:http';

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${labels[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

interface Family {
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  values: Map<string, number>;
  buckets?: number[];
  histograms?: Map<string, { counts: number[]; sum: number; count: number }>;
}

export class Telemetry {
  private readonly families = new Map<string, Family>();

  private family(name: string, type: Family['type'], help: string, buckets?: number[]): Family {
    let f = this.families.get(name);
    if (!f) {
      f = { type, help, values: new Map(), ...(buckets ? { buckets, histograms: new Map() } : {}) };
      this.families.set(name, f);
    }
    return f;
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const f = this.family(name, 'counter', help);
    const k = labelKey(labels);
    f.values.set(k, (f.values.get(k) ?? 0) + by);
  }

  set(name: string, help: string, value: number, labels: Labels = {}): void {
    this.family(name, 'gauge', help).values.set(labelKey(labels), value);
  }

  observe(name: string, help: string, value: number, buckets: number[], labels: Labels = {}): void {
    const f = this.family(name, 'histogram', help, buckets);
    const k = labelKey(labels);
    let h = f.histograms!.get(k);
    if (!h) {
      h = { counts: f.buckets!.map(() => 0), sum: 0, count: 0 };
      f.histograms!.set(k, h);
    }
    f.buckets!.forEach((b, i) => {
      if (value <= b) h.counts[i]!++;
    });
    h.sum += value;
    h.count++;
  }

  /** Current value of a counter or gauge (0 when never set), for tests and logs. */
  value(name: string, labels: Labels = {}): number {
    return this.families.get(name)?.values.get(labelKey(labels)) ?? 0;
  }

  /** Sum of a counter over all label sets. */
  total(name: string): number {
    let s = 0;
    for (const v of this.families.get(name)?.values.values() ?? []) s += v;
    return s;
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, f] of [...this.families.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      if (f.type === 'histogram') {
        for (const [k, h] of f.histograms!) {
          const inner = k === '' ? '' : k.slice(1, -1);
          f.buckets!.forEach((b, i) => lines.push(`${name}_bucket{${inner ? `${inner},` : ''}le="${b}"} ${h.counts[i]}`));
          lines.push(`${name}_bucket{${inner ? `${inner},` : ''}le="+Inf"} ${h.count}`, `${name}_sum${k} ${h.sum}`, `${name}_count${k} ${h.count}`);
        }
      } else {
        for (const [k, v] of f.values) lines.push(`${name}${k} ${v}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  /** Serve `/metrics` (and `/healthz`) on host:port; port 0 picks a free one. */
  async serve(port: number, host = '0.0.0.0'): Promise<{ server: Server; port: number }> {
    const server = createServer((req, res) => {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(this.render());
      } else if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    const addr = server.address();
    return { server, port: typeof addr === 'object' && addr ? addr.port : port };
  }
}
