import { describe, expect, it } from 'vitest';
import { Telemetry } from '../../../webhook/sidecar/telemetry.ts';

describe('Telemetry', () => {
  it('renders counters, gauges and histograms in the Prometheus text format', () => {
    const t = new Telemetry();
    t.inc('karma_sidecar_decisions_total', 'Decisions', { agent: 'a', role: 'ddos-manager' });
    t.inc('karma_sidecar_decisions_total', 'Decisions', { role: 'ddos-manager', agent: 'a' }, 2);
    t.set('karma_sidecar_leader', 'Leader', 1);
    t.observe('karma_sidecar_tick_duration_seconds', 'Tick', 0.03, [0.01, 0.05, 0.1]);
    t.observe('karma_sidecar_tick_duration_seconds', 'Tick', 0.2, [0.01, 0.05, 0.1]);
    t.inc('x_total', 'Escaping', { msg: 'say "hi"\\now' });
    expect(t.render()).toBe([
      '# HELP karma_sidecar_decisions_total Decisions',
      '# TYPE karma_sidecar_decisions_total counter',
      'karma_sidecar_decisions_total{agent="a",role="ddos-manager"} 3',
      '# HELP karma_sidecar_leader Leader',
      '# TYPE karma_sidecar_leader gauge',
      'karma_sidecar_leader 1',
      '# HELP karma_sidecar_tick_duration_seconds Tick',
      '# TYPE karma_sidecar_tick_duration_seconds histogram',
      'karma_sidecar_tick_duration_seconds_bucket{le="0.01"} 0',
      'karma_sidecar_tick_duration_seconds_bucket{le="0.05"} 1',
      'karma_sidecar_tick_duration_seconds_bucket{le="0.1"} 1',
      'karma_sidecar_tick_duration_seconds_bucket{le="+Inf"} 2',
      'karma_sidecar_tick_duration_seconds_sum 0.23',
      'karma_sidecar_tick_duration_seconds_count 2',
      '# HELP x_total Escaping',
      '# TYPE x_total counter',
      'x_total{msg="say \\"hi\\"\\\\now"} 1',
      '',
    ].join('\n'));
    expect(t.value('karma_sidecar_decisions_total', { agent: 'a', role: 'ddos-manager' })).toBe(3);
  });

  it('serves /metrics over HTTP', async () => {
    const t = new Telemetry();
    t.set('karma_sidecar_leader', 'Leader', 0);
    const { server, port } = await t.serve(0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
      expect(await res.text()).toContain('karma_sidecar_leader 0');
    } finally {
      server.close();
    }
  });
});
