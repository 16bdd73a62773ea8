import { describe, expect, it } from 'vitest';
import { BundleWatcher } from '../../../webhook/sidecar/bundle-watch.ts';
import { ManualScheduler } from '../../../webhook/sidecar/clock.ts';
import { ApiError, type ClusterPort, type WatchEventType } from '../../../webhook/sidecar/cluster-port.ts';
import { shopBundle } from '../../integration/sidecar/fixtures.ts';

type Stream = { onEvent: (t: WatchEventType, o: unknown) => void; onDone: (e: unknown) => void; from: string };

/** Only the bundle calls of a ClusterPort, scripted by the test. */
function scriptedPort(script: { listFailures: number; items: () => unknown[]; rv: () => string }) {
  const streams: Stream[] = [];
  let lists = 0;
  const port = {
    async listBundles() {
      lists++;
      if (lists <= script.listFailures) throw new ApiError(503, 'ServiceUnavailable', 'down');
      return { items: script.items(), resourceVersion: script.rv() };
    },
    async watchBundles(_ns: string | undefined, from: string, onEvent: Stream['onEvent'], onDone: Stream['onDone']) {
      streams.push({ onEvent, onDone, from });
      return { stop: () => undefined };
    },
  } as unknown as ClusterPort;
  return { port, streams, lists: () => lists };
}

const withRv = (b: ReturnType<typeof shopBundle>, rv: string) => ({ ...b, metadata: { ...b.metadata, resourceVersion: rv } });

describe('BundleWatcher', () => {
  it('retries a failed list with growing backoff on the injected clock', async () => {
    const clock = new ManualScheduler(0);
    const v1 = withRv(shopBundle({ namespace: 'shop', services: ['web'] }), '10');
    const { port, streams, lists } = scriptedPort({ listFailures: 2, items: () => [v1], rv: () => '10' });
    const watcher = new BundleWatcher(port, clock, { reconnectDelayMs: 1000 });
    await watcher.start();
    expect(lists()).toBe(1);
    await clock.advance(999);
    expect(lists()).toBe(1);
    await clock.advance(1);
    expect(lists()).toBe(2);
    // Second failure: the next try waits twice as long.
    await clock.advance(1999);
    expect(lists()).toBe(2);
    await clock.advance(1);
    expect(lists()).toBe(3);
    expect(watcher.goodBundles().map((b) => b.spec.version)).toEqual(['1.0.0']);
    expect(streams.map((s) => s.from)).toEqual(['10']);
    watcher.stop();
  });

  it('resumes from the last resourceVersion seen, and lists again after 410 Gone', async () => {
    const clock = new ManualScheduler(0);
    let items: unknown[] = [withRv(shopBundle({ namespace: 'shop', services: ['web'] }), '10')];
    const { port, streams, lists } = scriptedPort({ listFailures: 0, items: () => items, rv: () => '20' });
    const watcher = new BundleWatcher(port, clock, { reconnectDelayMs: 500 });
    await watcher.start();
    const v2 = withRv(shopBundle({ namespace: 'shop', services: ['web'], version: '1.1.0' }), '25');
    streams[0]!.onEvent('MODIFIED', v2);
    streams[0]!.onEvent('BOOKMARK', { metadata: { resourceVersion: '31' } });
    expect(watcher.goodBundles()[0]!.spec.version).toBe('1.1.0');
    streams[0]!.onDone(null);
    await clock.advance(500);
    expect(streams[1]!.from).toBe('31');
    expect(lists()).toBe(1);

    items = [withRv(shopBundle({ namespace: 'shop', services: ['web'], version: '1.2.0' }), '40')];
    streams[1]!.onEvent('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });
    streams[1]!.onDone(null);
    await clock.advance(500);
    expect(lists()).toBe(2);
    expect(watcher.goodBundles()[0]!.spec.version).toBe('1.2.0');
    expect(streams[2]!.from).toBe('20');
    watcher.stop();
  });

  it('keeps the last good version when a changed one fails its digest, and drops a deleted bundle', async () => {
    const clock = new ManualScheduler(0);
    const good = withRv(shopBundle({ namespace: 'shop', services: ['web'] }), '10');
    const refusals: string[][] = [];
    const { port, streams } = scriptedPort({ listFailures: 0, items: () => [good], rv: () => '10' });
    const watcher = new BundleWatcher(port, clock, { onRefuse: (_k, errors) => refusals.push(errors) });
    await watcher.start();
    const bad = structuredClone(good);
    bad.spec.guards.maxStep = 3;
    streams[0]!.onEvent('MODIFIED', bad);
    expect(watcher.goodBundles()[0]!.spec.guards.maxStep).toBe(2);
    expect(watcher.entries.get('shop/shop-policy')?.refused?.errors[0]).toMatch(/^\/spec\/digest: does not match the content/);
    expect(refusals).toHaveLength(1);
    streams[0]!.onEvent('DELETED', good);
    expect(watcher.goodBundles()).toEqual([]);
    watcher.stop();
  });

  it('takes a status written on the bundle as status, not as a new version: no re-validation, no second refusal', async () => {
    const clock = new ManualScheduler(0);
    const at = (b: ReturnType<typeof shopBundle>, rv: string, generation: number, status?: Record<string, unknown>) =>
      ({ ...b, metadata: { ...b.metadata, resourceVersion: rv, generation }, ...(status ? { status } : {}) });
    const good = shopBundle({ namespace: 'shop', services: ['web'] });
    const loads: string[] = [];
    const refusals: string[][] = [];
    const { port, streams } = scriptedPort({ listFailures: 0, items: () => [at(good, '10', 1)], rv: () => '10' });
    const watcher = new BundleWatcher(port, clock, { onLoad: (k) => loads.push(k), onRefuse: (_k, e) => refusals.push(e) });
    await watcher.start();
    // Fields the bundle schema does not know, as the sidecar writes them: the bundle stays good.
    streams[0]!.onEvent('MODIFIED', at(good, '11', 1, { governedHpas: 1, fallbacks: 0, conditions: [{ type: 'Accepted', status: 'True' }] }));
    expect(watcher.goodBundles()).toHaveLength(1);
    expect(watcher.entries.get('shop/shop-policy')?.observed).toEqual({ generation: 1, resourceVersion: '11', status: { governedHpas: 1, fallbacks: 0, conditions: [{ type: 'Accepted', status: 'True' }] } });
    // A tampered generation is refused once; the status written about it afterwards refuses nothing more.
    const bad = structuredClone(good);
    bad.spec.guards.maxStep = 3;
    streams[0]!.onEvent('MODIFIED', at(bad, '12', 2));
    streams[0]!.onEvent('MODIFIED', at(bad, '13', 2, { conditions: [{ type: 'Accepted', status: 'False', reason: 'DigestMismatch' }] }));
    expect(refusals).toHaveLength(1);
    expect(loads).toEqual(['shop/shop-policy']);
    expect(watcher.entries.get('shop/shop-policy')).toMatchObject({ refused: { resourceVersion: '12' }, observed: { generation: 2, resourceVersion: '13' } });
    // Another object under the same name (deleted and created again, unseen) is judged afresh despite its generation.
    const recreated = { ...at(good, '20', 2), metadata: { ...at(good, '20', 2).metadata, uid: 'other-uid' } };
    streams[0]!.onEvent('MODIFIED', recreated);
    expect(watcher.entries.get('shop/shop-policy')?.refused).toBeUndefined();
    watcher.stop();
  });
});
