import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../generator/cli/main.ts';
import { parseDecision, DECISION_ANNOTATION } from '../../../policies/annotations.ts';
import { captureIo } from '../../support/io.ts';
import { BUNDLE_API, HPA_API, HPAS, KubeApiServer, type KubeObject } from '../../support/kube-api.ts';
import { seedService, shopBundle, specOf } from './fixtures.ts';
import { eventsFor } from './harness.ts';

let api: KubeApiServer;
let kubeconfig: string;

beforeAll(async () => {
  api = await KubeApiServer.start();
  kubeconfig = api.writeKubeconfig();
  for (const namespace of ['cli-shadow', 'cli-apply']) {
    api.put(BUNDLE_API, 'policybundles', shopBundle({ namespace, services: ['web'] }) as unknown as KubeObject);
    // Four pods and no Prometheus: request rate 0 ≤ 20 with more than 2 replicas → the agent contains by −1.
    seedService(api, { namespace, service: 'web', minReplicas: 2, maxReplicas: 10, replicas: 4 });
  }
});

afterAll(async () => {
  await api?.close();
});

const run = (args: string[]) => {
  const io = captureIo({ env: {} });
  return main(['sidecar', '--kubeconfig', kubeconfig, '--ticks', '1', '--metrics-port', '0', '--no-leader-election', ...args], io).then((code) => ({ code, io }));
};

describe('karma-hpa sidecar', () => {
  it('in shadow mode decides from the metrics API, records an Event and patches nothing', async () => {
    const { code, io } = await run(['--namespace', 'cli-shadow', '--shadow']);
    expect(io.stderr()).toBe('');
    expect(code).toBe(0);
    expect(io.stdout()).toContain('shadow mode');
    expect(api.requestsTo('PATCH', '/namespaces/cli-shadow/horizontalpodautoscalers')).toHaveLength(0);
    const event = eventsFor(api, 'cli-shadow', 'web')[0];
    expect(event?.note).toMatch(/^shadow mode, not applied: surge-web \(ddos-manager\) -1 for web at 4 replicas: rule requestRate 0 <= 20 and replicas 4 > 2 → -1/);
  });

  it('applies the decision with server-side apply as field manager karma-hpa', async () => {
    const { code } = await run(['--namespace', 'cli-apply', '--patch-strategy', 'apply']);
    expect(code).toBe(0);
    const patch = api.requestsTo('PATCH', '/namespaces/cli-apply/horizontalpodautoscalers/web')[0]!;
    expect(patch.contentType).toBe('application/apply-patch+yaml');
    expect(patch.query).toMatchObject({ fieldManager: 'karma-hpa', force: 'true' });
    const hpa = api.get(HPA_API, HPAS, 'cli-apply', 'web')!;
    expect(specOf(hpa)).toMatchObject({ minReplicas: 2, maxReplicas: 3 });
    const decision = parseDecision(hpa.metadata.annotations?.[DECISION_ANNOTATION] ?? '');
    expect(decision.ok && decision.value).toMatchObject({ agent: 'surge-web', replicaChange: -1, maxReplicas: 3 });
    expect((hpa.metadata.managedFields as { manager: string }[]).map((m) => m.manager)).toContain('karma-hpa');
  });

  it('refuses an unknown patch strategy with a clear message', async () => {
    const { code, io } = await run(['--patch-strategy', 'replace']);
    expect(code).toBe(2);
    expect(io.stderr()).toContain('--patch-strategy must be merge or apply, got "replace"');
  });
});
