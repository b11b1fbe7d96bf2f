/**
 * When to add a host and when to drain one: the local provider's policy (`cloudburst up
 * --autoscale`, tools/cli/autoscaler.ts). Pure: it is given the time and what each host
 * reported, and answers out / in / hold with the reason; it starts and stops nothing.
 */

/** One host as the provider sees it at one sample. */
export interface HostSample {
  /** The name `up` gave it (host1, host2, ...). */
  name: string;
  url: string;
  /**
   * `ready`: serving (its /readyz said 200 and its directory record is fresh): counted.
   * `starting`: added, not ready yet; `draining`: told to stop: neither is counted, and the
   * policy waits for them (an action is still under way).
   */
  state: 'ready' | 'starting' | 'draining';
  /** Its smoothed (busy + queued) / workers, as its directory record says (0 when it has none). */
  utilization: number;
  /** Calls waiting for a worker on it. */
  queued: number;
  /** May be drained: every host but the first (the one the user's URL points to). */
  removable: boolean;
  /** When it was started (ms): scale-in drains the newest removable host. */
  startedAt: number;
}

export interface PolicyOptions {
  minHosts: number;
  maxHosts: number;
  /** Scale out when the mean utilization stays above this (the scheduler's threshold). */
  high: number;
  /** Scale in when it stays below this. */
  low: number;
  /** How long the mean must stay above `high` before a host is added. */
  outWindowMs: number;
  /** How long it must stay below `low` before a host is drained. */
  inWindowMs: number;
  /** After a scale-out, no other scale-out for this long. */
  outCooldownMs: number;
  /** After any action, no scale-in for this long (a new host gets time to take load). */
  inCooldownMs: number;
}

export const DEFAULT_POLICY: Omit<PolicyOptions, 'minHosts' | 'maxHosts'> = {
  high: 0.7,
  low: 0.3,
  outWindowMs: 1000,
  inWindowMs: 5000,
  outCooldownMs: 3000,
  inCooldownMs: 10_000,
};

export type Decision =
  | { action: 'out'; reason: string; mean: number; hosts: number }
  | { action: 'in'; host: string; url: string; reason: string; mean: number; hosts: number }
  | { action: 'hold'; reason: string; mean: number; hosts: number };

const pct = (x: number): string => `${Math.round(x * 100)}%`;
const secs = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

/**
 * The policy's memory: since when the mean has been above `high` (below `low`), and when the
 * last actions were. Call `decide` at every sample, `acted` once the provider took an action
 * it returned.
 */
export class AutoscalePolicy {
  readonly opts: PolicyOptions;
  #aboveSince: number | undefined;
  #belowSince: number | undefined;
  #lastOut = -Infinity;
  #lastAction = -Infinity;

  constructor(opts: PolicyOptions) {
    if (!(opts.minHosts >= 1 && opts.minHosts <= opts.maxHosts)) throw new RangeError(`min hosts (${opts.minHosts}) must be at least 1 and at most max hosts (${opts.maxHosts})`);
    if (!(opts.low < opts.high)) throw new RangeError(`the low threshold (${opts.low}) must be under the high one (${opts.high})`);
    this.opts = opts;
  }

  decide(now: number, hosts: readonly HostSample[]): Decision {
    const o = this.opts;
    const ready = hosts.filter((h) => h.state === 'ready');
    const n = ready.length;
    const mean = n === 0 ? 0 : ready.reduce((s, h) => s + h.utilization, 0) / n;
    const hold = (reason: string): Decision => ({ action: 'hold', reason, mean, hosts: n });
    // An action under way: its host is not counted, and nothing else happens until it is done.
    const busy = hosts.find((h) => h.state !== 'ready');
    if (busy) {
      this.#aboveSince = this.#belowSince = undefined;
      return hold(`${busy.name} is ${busy.state}`);
    }
    if (n === 0) return hold('no host is ready');
    this.#aboveSince = mean > o.high ? this.#aboveSince ?? now : undefined;
    this.#belowSince = mean < o.low ? this.#belowSince ?? now : undefined;

    if (this.#aboveSince !== undefined) {
      const held = now - this.#aboveSince;
      if (held < o.outWindowMs) return hold(`mean ${pct(mean)} over ${pct(o.high)} for ${secs(held)} of ${secs(o.outWindowMs)}`);
      if (n >= o.maxHosts) return hold(`mean ${pct(mean)} over ${pct(o.high)}, but at max hosts (${o.maxHosts})`);
      if (now - this.#lastOut < o.outCooldownMs) return hold(`mean ${pct(mean)} over ${pct(o.high)}, cooling down after the last scale-out`);
      return { action: 'out', reason: `mean utilization ${pct(mean)} over ${pct(o.high)} for ${secs(held)} on ${n} host${n === 1 ? '' : 's'}`, mean, hosts: n };
    }
    if (this.#belowSince !== undefined) {
      const held = now - this.#belowSince;
      if (held < o.inWindowMs) return hold(`mean ${pct(mean)} under ${pct(o.low)} for ${secs(held)} of ${secs(o.inWindowMs)}`);
      if (n <= o.minHosts) return hold(`mean ${pct(mean)} under ${pct(o.low)}, at min hosts (${o.minHosts})`);
      // Hysteresis: the hosts left must not be pushed back over the scale-out threshold.
      const after = (mean * n) / (n - 1);
      if (after >= o.high) return hold(`mean ${pct(mean)} under ${pct(o.low)}, but ${pct(after)} on one host fewer`);
      if (now - this.#lastAction < o.inCooldownMs) return hold(`mean ${pct(mean)} under ${pct(o.low)}, cooling down after the last action`);
      const victim = ready.filter((h) => h.removable).sort((a, b) => b.startedAt - a.startedAt)[0];
      if (!victim) return hold(`mean ${pct(mean)} under ${pct(o.low)}, but no host may be drained (the first host stays)`);
      return { action: 'in', host: victim.name, url: victim.url, reason: `mean utilization ${pct(mean)} under ${pct(o.low)} for ${secs(held)} on ${n} hosts (${pct(after)} on ${n - 1})`, mean, hosts: n };
    }
    return hold(`mean ${pct(mean)} between ${pct(o.low)} and ${pct(o.high)}`);
  }

  /** The provider took `action` at `now`: cool-downs start, and the windows start again. */
  acted(action: 'out' | 'in', now: number): void {
    if (action === 'out') this.#lastOut = now;
    this.#lastAction = now;
    this.#aboveSince = this.#belowSince = undefined;
  }
}
