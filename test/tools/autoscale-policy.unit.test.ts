import { describe, expect, it } from 'vitest';
import { AutoscalePolicy, DEFAULT_POLICY, type HostSample, type PolicyOptions } from '../../tools/cli/autoscale-policy.ts';

const policy = (o: Partial<PolicyOptions> = {}): AutoscalePolicy => new AutoscalePolicy({ ...DEFAULT_POLICY, minHosts: 1, maxHosts: 4, ...o });

/** Hosts host1..hostN (host1 is the first: never removable), each at the given utilization. */
const hosts = (...load: number[]): HostSample[] =>
  load.map((u, i) => ({ name: `host${i + 1}`, url: `http://127.0.0.1:${7070 + i}`, state: 'ready', utilization: u, queued: 0, removable: i > 0, startedAt: i * 1000 }));

/** Feeds the same hosts every 100 ms from `from` to `to` (inclusive); the last decision. */
const feed = (p: AutoscalePolicy, from: number, to: number, sample: () => HostSample[]): ReturnType<AutoscalePolicy['decide']> => {
  let d = p.decide(from, sample());
  for (let t = from + 100; t <= to; t += 100) d = p.decide(t, sample());
  return d;
};

describe('autoscale policy: scale out', () => {
  it('adds a host only once the mean stays over 70% for the whole window', () => {
    const p = policy();
    expect(feed(p, 0, 900, () => hosts(0.9)).action).toBe('hold');
    const d = p.decide(1000, hosts(0.9));
    expect(d.action).toBe('out');
    expect(d.reason).toMatch(/90% over 70%/);
  });

  it('starts the window again when the mean dips under the threshold', () => {
    const p = policy();
    feed(p, 0, 800, () => hosts(0.9));
    expect(p.decide(900, hosts(0.5)).action).toBe('hold');
    expect(feed(p, 1000, 1900, () => hosts(0.9)).action).toBe('hold');
    expect(p.decide(2000, hosts(0.9)).action).toBe('out');
  });

  it('uses the mean of the hosts: one busy host among idle ones is no reason', () => {
    const p = policy();
    expect(feed(p, 0, 3000, () => hosts(1.5, 0, 0)).action).toBe('hold');
    expect(feed(p, 3100, 4100, () => hosts(1.5, 0.5, 0.4)).action).toBe('out');
  });

  it('never goes past max hosts', () => {
    const p = policy({ maxHosts: 2 });
    const d = feed(p, 0, 5000, () => hosts(1.2, 1.2));
    expect(d).toMatchObject({ action: 'hold' });
    expect(d.reason).toMatch(/max hosts \(2\)/);
  });

  it('cools down after a scale-out, and counts the window again from the new host being ready', () => {
    const p = policy({ outCooldownMs: 3000 });
    expect(feed(p, 0, 1000, () => hosts(0.9)).action).toBe('out');
    p.acted('out', 1000);
    // The new host starts: nothing happens meanwhile, whatever the load.
    const starting = (): HostSample[] => [...hosts(1.5), { ...hosts(0, 0)[1]!, state: 'starting' }];
    const d = feed(p, 1100, 1500, starting);
    expect(d).toMatchObject({ action: 'hold', reason: 'host2 is starting', hosts: 1 });
    // Ready at 1600 and still busy: the window runs again, then the cool-down holds it.
    expect(feed(p, 1600, 3900, () => hosts(0.9, 0.9)).reason).toMatch(/cooling down/);
    expect(p.decide(4000, hosts(0.9, 0.9)).action).toBe('out');
  });
});

describe('autoscale policy: scale in', () => {
  it('drains the newest removable host once the mean stays under 30% for the longer window', () => {
    const p = policy({ inWindowMs: 5000 });
    expect(feed(p, 0, 4900, () => hosts(0.1, 0.1, 0.1)).action).toBe('hold');
    expect(p.decide(5000, hosts(0.1, 0.1, 0.1))).toMatchObject({ action: 'in', host: 'host3', url: 'http://127.0.0.1:7072' });
  });

  it('never drains the first host nor goes under min hosts', () => {
    expect(feed(policy(), 0, 20_000, () => hosts(0)).reason).toMatch(/min hosts \(1\)/);
    expect(feed(policy({ minHosts: 2 }), 0, 20_000, () => hosts(0, 0)).reason).toMatch(/min hosts \(2\)/);
    // Only the first host may stay: a cluster of one removable host and the first drains that one.
    const first = hosts(0, 0).map((h, i) => ({ ...h, startedAt: i === 0 ? 9999 : 0 }));
    expect(feed(policy(), 0, 5000, () => first)).toMatchObject({ action: 'in', host: 'host2' });
  });

  it('holds when the hosts left would be over the scale-out threshold (hysteresis)', () => {
    // A low threshold this close to the high one: 2 hosts at 40% would be 80% on one.
    const p = policy({ low: 0.45 });
    const d = feed(p, 0, 10_000, () => hosts(0.4, 0.4));
    expect(d.action).toBe('hold');
    expect(d.reason).toMatch(/80% on one host fewer/);
    expect(feed(policy({ low: 0.45 }), 0, 5000, () => hosts(0.3, 0.3)).action).toBe('in');
  });

  it('cools down after any action before draining', () => {
    const p = policy({ inCooldownMs: 10_000, inWindowMs: 5000 });
    p.acted('out', 0);
    expect(feed(p, 100, 9900, () => hosts(0, 0)).reason).toMatch(/cooling down/);
    expect(p.decide(10_000, hosts(0, 0)).action).toBe('in');
    p.acted('in', 10_000);
    expect(feed(p, 10_100, 19_900, () => hosts(0, 0, 0)).action).toBe('hold');
    expect(p.decide(20_000, hosts(0, 0, 0))).toMatchObject({ action: 'in', host: 'host3' });
  });

  it('a draining host is not counted, and nothing else happens until it is gone', () => {
    const p = policy();
    const draining = (): HostSample[] => {
      const h = hosts(0.9, 0.9, 0);
      h[2] = { ...h[2]!, state: 'draining' };
      return h;
    };
    const d = feed(p, 0, 5000, draining);
    // The mean is the two serving hosts' (90%), not three's (60%); and no action while draining.
    expect(d).toMatchObject({ action: 'hold', reason: 'host3 is draining', hosts: 2, mean: 0.9 });
    // Once it is gone the window starts afresh.
    expect(feed(p, 5100, 6000, () => hosts(0.9, 0.9)).action).toBe('hold');
    expect(p.decide(6100, hosts(0.9, 0.9)).action).toBe('out');
  });

  it('refuses options that cannot work', () => {
    expect(() => policy({ minHosts: 0 })).toThrow(/min hosts/);
    expect(() => policy({ minHosts: 5, maxHosts: 4 })).toThrow(/min hosts/);
    expect(() => policy({ low: 0.8 })).toThrow(/low threshold/);
  });
});
