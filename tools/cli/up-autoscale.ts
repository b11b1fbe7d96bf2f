import { join } from 'node:path';
import { CloudburstError } from '../../common/index.ts';
import { readHostRecords } from '../../host/index.ts';
import { KvClient } from '../../kvs/index.ts';
import { AutoscalePolicy, DEFAULT_POLICY, type PolicyOptions } from './autoscale-policy.ts';
import { AUTOSCALE_FILE, Autoscaler } from './autoscaler.ts';
import type { LocalCluster } from './cluster.ts';

/** The tuning flags of `up --autoscale` (durations), with the policy field each sets. */
export const AUTOSCALE_TUNING_FLAGS = {
  'scale-out-window': 'outWindowMs',
  'scale-in-window': 'inWindowMs',
  'scale-out-cooldown': 'outCooldownMs',
  'scale-in-cooldown': 'inCooldownMs',
} as const;

/**
 * The policy `up` runs, from its flags; undefined without `--autoscale`. `flag` reads a flag's
 * value, `duration` parses one ("5s", "500ms"). Refuses (INVALID_REQUEST) bounds that cannot
 * hold: 1 <= --min-hosts <= --hosts <= --max-hosts.
 */
export function autoscaleFlags(
  flag: (name: string) => string | undefined,
  on: boolean,
  hosts: number,
  duration: (text: string) => number,
): PolicyOptions | undefined {
  const given = (name: string): number | undefined => {
    const v = flag(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new CloudburstError('INVALID_REQUEST', `--${name} must be a whole number, at least 1`);
    return n;
  };
  const maxHosts = given('max-hosts');
  const minHosts = given('min-hosts');
  if (!on) {
    const stray = ['max-hosts', 'min-hosts', ...Object.keys(AUTOSCALE_TUNING_FLAGS)].find((f) => flag(f) !== undefined);
    if (stray) throw new CloudburstError('INVALID_REQUEST', `--${stray} is for host autoscaling: add --autoscale`);
    return undefined;
  }
  if (maxHosts === undefined) throw new CloudburstError('INVALID_REQUEST', '--autoscale needs --max-hosts N (the most host processes it may run)');
  const min = minHosts ?? hosts;
  if (min > hosts) throw new CloudburstError('INVALID_REQUEST', `--min-hosts (${min}) must not be over --hosts (${hosts}): up starts --hosts hosts`);
  if (maxHosts < hosts) throw new CloudburstError('INVALID_REQUEST', `--max-hosts (${maxHosts}) must be at least --hosts (${hosts})`);
  const tuning: Partial<PolicyOptions> = {};
  for (const [name, field] of Object.entries(AUTOSCALE_TUNING_FLAGS)) {
    const v = flag(name);
    if (v !== undefined) tuning[field] = duration(v);
  }
  return { ...DEFAULT_POLICY, ...tuning, minHosts: min, maxHosts };
}

/**
 * Starts the local provider on a cluster `up` started: reads the hosts' utilization from the
 * directory in its KV tier (signed with the cluster secret), appends its decisions to
 * `<data>/autoscale.jsonl` and prints them. `stop()` before the cluster's.
 */
export function startAutoscaler(cluster: LocalCluster, policy: PolicyOptions, o: { dataDir: string; ca: Buffer | undefined; print: (line: string) => void }): { stop(): Promise<void> } {
  const seeds = cluster.file.processes.filter((p) => p.role === 'kvs').map((p) => p.url);
  const kv = new KvClient({ seeds, clusterSecret: cluster.clusterSecret, ca: o.ca, timeoutMs: 2000 });
  const autoscaler = new Autoscaler({
    cluster,
    policy: new AutoscalePolicy(policy),
    readRecords: () => readHostRecords(kv),
    file: join(o.dataDir, AUTOSCALE_FILE),
    ca: o.ca,
    print: o.print,
  });
  autoscaler.start();
  return {
    stop: async () => {
      await autoscaler.stop();
      await kv.close();
    },
  };
}

/** The executor flags `up` hands every host it starts (the first ones and those the autoscaler adds). */
const HOST_FLAGS = ['workers', 'max-workers', 'scale-up-wait', 'idle-timeout'];

export function hostFlagsOf(flag: (name: string) => string | undefined): string[] {
  return HOST_FLAGS.flatMap((name) => {
    const v = flag(name);
    return v === undefined ? [] : [`--${name}`, v];
  });
}
