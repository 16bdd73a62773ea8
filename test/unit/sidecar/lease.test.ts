import { describe, expect, it } from 'vitest';
import { leaseDecision, observeLease, type LeaseRecord } from '../../../webhook/sidecar/lease.ts';

const config = { identity: 'me', leaseDurationSeconds: 15 };
const T = Date.parse('2026-01-01T00:00:00Z');
const held = (holder: string | null, extra: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity: holder, leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:00.000000Z', leaseTransitions: 3, ...extra,
});

describe('leaseDecision', () => {
  const cases: [string, LeaseRecord | undefined, number | undefined, number, string][] = [
    // name, lease as read, when we first saw this record (ms after T), now (ms after T), expected action
    ['no lease yet: create it', undefined, undefined, 0, 'create'],
    ['our own lease: renew', held('me'), 0, 5_000, 'renew'],
    ['our own lease even past its duration: renew', held('me'), 0, 60_000, 'renew'],
    ['nobody holds it (released): take over at once', held(null), 0, 0, 'takeover'],
    ['empty holder string: take over', held(''), 0, 0, 'takeover'],
    ['another holder, fresh: follow', held('other'), 0, 14_999, 'follow'],
    ['another holder, unchanged for the full duration: take over', held('other'), 0, 15_000, 'takeover'],
    ['another holder, seen only now (clock skew cannot expire it early)', held('other'), 60_000, 60_000, 'follow'],
  ];
  it.each(cases)('%s', (_name, lease, seenAt, now, expected) => {
    const observation = lease && seenAt !== undefined ? { record: lease, observedAtMs: T + seenAt } : undefined;
    expect(leaseDecision(lease, observation, T + now, config).kind).toBe(expected);
  });

  it('counts transitions and stamps MicroTime on takeover', () => {
    const action = leaseDecision(held('other'), { record: held('other'), observedAtMs: T }, T + 20_000, config);
    expect(action).toEqual({ kind: 'takeover', spec: {
      holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: '2026-01-01T00:00:20.000000Z', renewTime: '2026-01-01T00:00:20.000000Z', leaseTransitions: 4,
    } });
  });

  it('follows with the time the lease will expire', () => {
    expect(leaseDecision(held('other', { leaseDurationSeconds: 30 }), { record: held('other'), observedAtMs: T }, T + 1_000, config))
      .toEqual({ kind: 'follow', holder: 'other', expiresAtMs: T + 30_000 });
  });
});

describe('observeLease', () => {
  it('keeps the first sighting while the record is unchanged and restarts it on a renew', () => {
    const first = observeLease(undefined, held('other'), T);
    expect(observeLease(first, held('other'), T + 10_000)).toBe(first);
    const renewed = observeLease(first, held('other', { renewTime: '2026-01-01T00:00:10.000000Z' }), T + 10_000);
    expect(renewed.observedAtMs).toBe(T + 10_000);
  });
});
