import { describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { DEFAULT_POLICY } from '../../tools/cli/autoscale-policy.ts';
import { autoscaleFlags } from '../../tools/cli/up-autoscale.ts';

const ms = (t: string): number => Number(/^(\d+)/.exec(t)![1]) * (t.endsWith('ms') ? 1 : 1000);
const flags = (given: Record<string, string>) => (name: string): string | undefined => given[name];

describe('cloudburst up: the autoscaling flags', () => {
  it('--max-hosts bounds the policy; --min-hosts defaults to --hosts; durations tune it', () => {
    expect(autoscaleFlags(flags({ 'max-hosts': '4' }), true, 2, ms)).toEqual({ ...DEFAULT_POLICY, minHosts: 2, maxHosts: 4 });
    expect(autoscaleFlags(flags({ 'max-hosts': '3', 'min-hosts': '1', 'scale-in-window': '2s', 'scale-out-cooldown': '500ms' }), true, 1, ms))
      .toEqual({ ...DEFAULT_POLICY, minHosts: 1, maxHosts: 3, inWindowMs: 2000, outCooldownMs: 500 });
    expect(autoscaleFlags(flags({}), false, 1, ms)).toBeUndefined();
  });

  it('refuses, with the reason, what cannot hold', () => {
    const refused = (given: Record<string, string>, on: boolean, hosts: number): string => {
      try {
        autoscaleFlags(flags(given), on, hosts, ms);
      } catch (err) {
        expect(err).toBeInstanceOf(CloudburstError);
        expect((err as CloudburstError).code).toBe('INVALID_REQUEST');
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused({}, true, 1)).toMatch(/--autoscale needs --max-hosts/);
    expect(refused({ 'max-hosts': '3' }, false, 1)).toMatch(/--max-hosts is for host autoscaling: add --autoscale/);
    expect(refused({ 'scale-in-window': '1s' }, false, 1)).toMatch(/--scale-in-window is for host autoscaling/);
    expect(refused({ 'max-hosts': '1' }, true, 2)).toMatch(/--max-hosts \(1\) must be at least --hosts \(2\)/);
    expect(refused({ 'max-hosts': '4', 'min-hosts': '3' }, true, 2)).toMatch(/--min-hosts \(3\) must not be over --hosts \(2\)/);
    expect(refused({ 'max-hosts': '0' }, true, 1)).toMatch(/--max-hosts must be a whole number, at least 1/);
  });
});
