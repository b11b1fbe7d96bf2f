import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHostCluster, type ClusterHost, type HostCluster } from '../helpers/cluster.ts';
import { metric, waitFor, hostFetch } from '../helpers/platform.ts';

async function post<T>(url: string, path: string, body: unknown): Promise<{ status: number; body: T; host: string | null }> {
  const res = await hostFetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.status, body: (await res.json()) as T, host: res.headers.get('x-cloudburst-host') };
}

/** Starts an async call on the host at `url`; the returned function waits for its result. */
async function start(url: string, fn: string, args: unknown[]): Promise<() => Promise<unknown>> {
  const { body } = await post<{ future: string }>(url, `/v1/functions/${fn}/call`, { args, async: true });
  return async () => {
    const r = (await (await hostFetch(`${url}/v1/futures/${body.future}?wait=30000`)).json()) as { status: string; result?: unknown };
    if (r.status !== 'done') throw new Error(`future ${body.future}: ${JSON.stringify(r)}`);
    return r.result;
  };
}

describe('messaging across hosts (real processes)', () => {
  let cluster: HostCluster;
  let hosts: ClusterHost[];

  beforeAll(async () => {
    // Calls stay where they are sent; 10 gossipers at once need a worker each.
    cluster = await startHostCluster({ prefix: 'cb-msg-cluster-', hosts: 3, hostArgs: ['--explore', '0', '--workers', '6'], modules: ['kitchen', 'gossip'] });
    hosts = cluster.hosts;
  }, 120_000);
  afterAll(() => cluster.stop());

  it('a function on host A sends to a function on host B directly, in order', async () => {
    const [a, b] = hosts;
    const n = 200;
    const receiver = await start(b!.url, 'kitchen.announce', ['across', n, 5000]);
    const sent = await post<{ result: string }>(a!.url, '/v1/functions/kitchen.sendTo/call', { args: ['across', 'a', n, 5000] });
    expect(sent.host).toBe(a!.id);
    expect(sent.body.result.startsWith(`${b!.id}.`)).toBe(true);
    const [id, list] = ((await receiver()) as string).split('|');
    expect(id).toBe(sent.body.result);
    expect(list!.split(',')).toEqual(Array.from({ length: n }, (_, i) => `a${i}`));
    expect(await metric(a!.url, 'cloudburst_messages_direct_total')).toBeGreaterThanOrEqual(n);
    expect(await metric(a!.url, 'cloudburst_messages_fallback_total')).toBe(0);
  });

  it('a message to a host that does not answer goes to the KV inbox, and its function reads it there', async () => {
    const [a, , c] = hosts;
    const receiver = await start(c!.url, 'kitchen.announce', ['stopped', 2, 15_000]);
    await waitFor(async () => (await hostFetch(`${a!.url}/v1/kv/stopped`)).status, (s) => s === 200, 10_000, 'the receiver to publish its id');
    const before = await metric(a!.url, 'cloudburst_messages_fallback_total');
    process.kill(c!.pid, 'SIGSTOP');
    let sent: string;
    try {
      // The first direct delivery times out (2 s), the host is marked unreachable, and both
      // messages go to the inbox.
      sent = (await post<{ result: string }>(a!.url, '/v1/functions/kitchen.sendTo/call', { args: ['stopped', 's', 2, 5000] })).body.result;
    } finally {
      process.kill(c!.pid, 'SIGCONT');
    }
    expect(await receiver()).toBe(`${sent}|s0,s1`);
    expect(await metric(a!.url, 'cloudburst_messages_fallback_total')).toBe(before + 2);
  }, 30_000);

  it('the paper\'s gossip experiment: 10 functions on 3 hosts agree on the average within 5%; gather is exact', async () => {
    const values = Array.from({ length: 10 }, (_, i) => (i + 1) * 10 + (i % 3) * 7);
    const truth = values.reduce((x, y) => x + y, 0) / values.length;
    const run = `t${Date.now()}`;
    const waits = await Promise.all(values.map((v, i) => start(hosts[i % hosts.length]!.url, 'gossip.gossip', [run, i, values.length, v, 20_000])));
    const estimates = (await Promise.all(waits.map((w) => w()))) as number[];
    for (const e of estimates) expect(Math.abs(e - truth) / truth).toBeLessThan(0.05);
    const gathers = await Promise.all(values.map((v, i) => start(hosts[i % hosts.length]!.url, 'gossip.gather', [run, i, values.length, v, 20_000])));
    for (const g of await Promise.all(gathers.map((w) => w()))) expect(g).toBeCloseTo(truth, 9);
    // The gossip went host to host directly.
    const direct = await Promise.all(hosts.map((h) => metric(h.url, 'cloudburst_messages_direct_total')));
    expect(direct.every((d) => d > 0)).toBe(true);
  }, 60_000);
});
