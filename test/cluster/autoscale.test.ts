import type { ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AutoscaleEvent } from '../../tools/cli/autoscaler.ts';
import type { ClusterFile } from '../../tools/cli/cluster.ts';
import { guestBytes, hostFetch, registerToken, runCli, startUpProcess, tempDir } from '../helpers/platform.ts';

const readCluster = async (data: string): Promise<ClusterFile> => JSON.parse(await readFile(join(data, 'cluster.json'), 'utf8')) as ClusterFile;
const hostsOf = (f: ClusterFile): ClusterFile['processes'] => f.processes.filter((p) => p.role === 'host');
const events = async (data: string): Promise<AutoscaleEvent[]> =>
  (await readFile(join(data, 'autoscale.jsonl'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as AutoscaleEvent);

/** How many calls of `fn` a host ran, from its /metrics (cloudburst_calls_total, every outcome). */
async function callsOf(url: string, fn: string): Promise<number> {
  const text = await (await hostFetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^cloudburst_calls_total\{([^}]*)\} (\S+)$/gm)) if (m[1]!.includes(`"${fn}"`)) n += Number(m[2]);
  return n;
}

/**
 * Closed-loop clients: each sends a call through `url`, waits for the answer, then sends the
 * next (after `pauseMs`), until stopped. Every answer's status is kept.
 */
function closedLoop(url: string, clients: number, body: unknown, fn: string, pauseMs = 0): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const res = await hostFetch(`${url}/v1/functions/${fn}/call`, { method: 'POST', body: JSON.stringify(body) }).catch(() => undefined);
      statuses.push(res?.status ?? 0);
      await res?.body?.cancel();
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return statuses;
    },
  };
}

describe('cloudburst up --autoscale: the local provider of host autoscaling', () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 60_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('adds hosts while calls queue, then drains them once the load is gone, with every call answered 200', { timeout: 240_000 }, async () => {
    dir = await tempDir('cb-autoscale-');
    const data = join(dir, 'data');
    // One worker per host, so that a few clients of a function that waits fill a host; short
    // windows and cool-downs so that the test takes seconds, not minutes.
    const up = await startUpProcess([
      '--kvs-nodes', '1', '--hosts', '1', '--max-hosts', '3', '--autoscale', '--workers', '1', '--max-workers', '1',
      '--scale-out-window', '500ms', '--scale-in-window', '2s', '--scale-out-cooldown', '1s', '--scale-in-cooldown', '3s',
      '--port', '0', '--data', data, '--no-examples',
    ], { env: { CLOUDBURST_CLUSTER_SECRET: '' } });
    child = up.child;
    expect(up.output()).toContain('autoscale: 1 to 3 hosts');
    const first = hostsOf(await readCluster(data))[0]!;
    expect((await hostFetch(`${first.url}/v1/modules/kitchen`, { method: 'PUT', body: new Uint8Array(guestBytes('kitchen')) })).status).toBe(200);

    // The load: 6 clients of a call that waits 40 ms in recv (no message comes), on one worker.
    const load = closedLoop(first.url, 6, { args: [40] }, 'kitchen.recvOne');
    let loadStatuses: number[] = [];
    try {
      await expect.poll(async () => hostsOf(await readCluster(data)).length, { timeout: 90_000, interval: 200 }).toBe(3);
      // Both added hosts are ready (their `added` event) and get calls.
      await expect.poll(async () => (await events(data)).filter((e) => e.action === 'added').length, { timeout: 60_000, interval: 200 }).toBe(2);
      const added = hostsOf(await readCluster(data)).filter((h) => h.autoscaled);
      expect(added.map((h) => h.name).sort()).toEqual(['host2', 'host3']);
      for (const h of added) registerToken(h.url, up.token);
      for (const h of added) await expect.poll(() => callsOf(h.url, 'kitchen.recvOne'), { timeout: 30_000, interval: 200 }).toBeGreaterThan(0);
      const status = await runCli(['cluster', 'status', '--data', data], { CLOUDBURST_CLUSTER_SECRET: '' });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain('hosts: 3 (autoscale: min 1, max 3)');
      expect(status.stdout).toMatch(/autoscale: scale out: mean utilization \d+% over 70%/);
    } finally {
      loadStatuses = await load.stop();
    }
    expect(loadStatuses.length).toBeGreaterThan(0);
    expect(loadStatuses.filter((s) => s !== 200)).toEqual([]);
    const outs = (await events(data)).filter((e) => e.action === 'out');
    expect(outs.length).toBe(2);
    for (const e of outs) expect(e.mean).toBeGreaterThan(0.7);

    // The load stops; one client keeps calling through the first host, slowly. The added hosts
    // are drained one at a time, newest first, and every call is answered.
    const trickle = closedLoop(first.url, 1, { args: [1, 2] }, 'kitchen.addI32', 50);
    let trickleStatuses: number[] = [];
    try {
      await expect.poll(async () => hostsOf(await readCluster(data)).length, { timeout: 90_000, interval: 200 }).toBe(1);
    } finally {
      trickleStatuses = await trickle.stop();
    }
    expect(trickleStatuses.length).toBeGreaterThan(0);
    expect(trickleStatuses.filter((s) => s !== 200)).toEqual([]);
    const all = await events(data);
    expect(all.filter((e) => e.action === 'in').map((e) => e.host)).toEqual(['host3', 'host2']);
    expect(all.filter((e) => e.action === 'removed').map((e) => e.host)).toEqual(['host3', 'host2']);
    expect(all.filter((e) => e.action === 'failed')).toEqual([]);
    expect(hostsOf(await readCluster(data)).map((h) => h.name)).toEqual(['host1']);
    // `up` printed the decisions as they happened.
    expect(up.output()).toMatch(/autoscale: scale in: draining host3/);
    const status = await runCli(['cluster', 'status', '--data', data], { CLOUDBURST_CLUSTER_SECRET: '' });
    expect(status.stdout).toContain('hosts: 1 (autoscale: min 1, max 3)');
    expect(status.stdout).toMatch(/removed host2/);
  });
});
