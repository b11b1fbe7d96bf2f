// A host's cache subscriptions survive a KV node that stops answering for longer than the
// lease: the host keeps retrying, and reads the keys once more when it is subscribed again.
// A node that is down delays only its own keys: the keys of the nodes that answer are
// subscribed and read again without waiting for it.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { Membership, parseMembers } from '../../kvs/cluster/membership.ts';
import { KvClient, lww } from '../../kvs/index.ts';
import { startLocalCluster } from '../../tools/cli/cluster.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { json } from '../helpers/cluster.ts';
import { tempDir, waitFor } from '../helpers/platform.ts';

const metric = async (c: HostClient, name: string): Promise<number> => {
  const text = (await c.request('GET', '/metrics')).body.toString();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
};

describe('cache subscriptions across a KV node that stops answering', () => {
  let dir: string;
  let cluster: Awaited<ReturnType<typeof startLocalCluster>>;
  let host: Host;
  let client: HostClient;
  let kv: KvClient;
  let kvPid: number;

  beforeAll(async () => {
    dir = await tempDir('cb-subs-');
    cluster = await startLocalCluster({ dataDir: dir, kvsNodes: 1, hosts: 0, hostPort: 0, supervise: false, hostArgs: [], log: () => undefined });
    const node = cluster.file.processes.find((p) => p.role === 'kvs')!;
    kvPid = node.pid;
    // A 3 s lease, renewed every second: a 6.5 s stop outlives the lease and a renewal's 5 s timeout.
    host = await startHost({ workers: 1, dataDir: join(dir, 'host'), kvsUrl: node.url, port: 0, subscriptionTtlMs: 3000, onGuestLog: () => undefined });
    client = new HostClient(host.url);
    kv = new KvClient({ url: node.url });
  });
  afterAll(async () => {
    process.kill(kvPid, 'SIGCONT');
    await kv.close();
    await client.close();
    await host.close();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a failed renewal is retried, and the key read again: later changes still reach the host', async () => {
    await client.request('PUT', '/v1/kv/s-key', 'v0');
    await waitFor(() => metric(client, 'cloudburst_subscribed_keys'), (n) => n >= 1, 5000, 'the key subscribed');
    process.kill(kvPid, 'SIGSTOP');
    await waitFor(() => metric(client, 'cloudburst_subscription_failures_total'), (n) => n >= 1, 15_000, 'a renewal failed');
    process.kill(kvPid, 'SIGCONT');
    // The node forgot the lapsed subscription; the host subscribes again and re-reads.
    await waitFor(() => metric(client, 'cloudburst_subscriptions_lapsed'), (n) => n === 0, 15_000, 'subscribed again');
    // The change comes after a whole lease: only a host that kept renewing still gets it pushed.
    await new Promise((r) => setTimeout(r, 4000));
    await kv.merge('default/k/s-key', lww.write(Buffer.from('v1'), { ms: Date.now(), c: 0, writer: 'test' }));
    const seen = await waitFor(() => client.json<{ value: string }>('GET', '/v1/kv/s-key'), (v) => v.value === 'v1', 10_000, 'the change reached the host');
    expect(seen.value).toBe('v1');
  });
});

describe('cache subscriptions with one of two KV nodes down', () => {
  let dir: string;
  let cluster: Awaited<ReturnType<typeof startLocalCluster>>;
  let host: Host;
  let client: HostClient;
  let kv: KvClient;
  let nodes: { pid: number; url: string; id: string }[];
  const stopped = new Set<number>();

  beforeAll(async () => {
    dir = await tempDir('cb-subs2-');
    cluster = await startLocalCluster({ dataDir: dir, kvsNodes: 2, replication: 1, hosts: 0, hostPort: 0, supervise: false, hostArgs: [], log: () => undefined });
    const procs = cluster.file.processes.filter((p) => p.role === 'kvs');
    nodes = await Promise.all(procs.map(async (p) => ({ pid: p.pid, url: p.url, id: (await json<{ node: string }>(`${p.url}/kv/v1/healthz`)).body.node })));
    for (const n of nodes) {
      await waitFor(async () => (await json<{ members: { state: string }[] }>(`${n.url}/kv/v1/ring`)).body.members.filter((m) => m.state === 'up').length, (c) => c === 2, 15_000, 'both KV nodes up');
    }
    host = await startHost({ workers: 1, dataDir: join(dir, 'host'), kvsUrl: nodes[0]!.url, kvsSeeds: [nodes[1]!.url], port: 0, subscriptionTtlMs: 3000, onGuestLog: () => undefined });
    client = new HostClient(host.url);
    kv = new KvClient({ url: nodes[0]!.url, seeds: [nodes[1]!.url] });
  });
  afterAll(async () => {
    for (const pid of stopped) process.kill(pid, 'SIGCONT');
    await kv?.close();
    await client?.close();
    await host?.close();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A key name whose only replica (replication 1) is `node`. */
  async function keyOn(node: { url: string; id: string }, base: string): Promise<string> {
    const ring = (await json<{ members: { id: string; state: string }[] }>(`${node.url}/kv/v1/ring`)).body;
    const placement = Membership.of(parseMembers(ring.members as never)).placement;
    for (let i = 0; i < 256; i++) {
      if (placement.replicasFor(`default/k/${base}-${i}`)[0]?.id === node.id) return `${base}-${i}`;
    }
    throw new Error(`no key on ${node.id}`);
  }

  it('keys on the node that answers are subscribed and read again; only the down node\'s keys lapse', async () => {
    const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const x = await keyOn(n1, 'x');
    const y = await keyOn(n2, 'y');
    for (const k of [x, y]) await client.request('PUT', `/v1/kv/${k}`, 'v0');
    await waitFor(() => metric(client, 'cloudburst_subscribed_keys'), (n) => n >= 2, 5000, 'both keys subscribed');
    // Both nodes stop: a renewal times out after 5 s, so when both keys have lapsed the 3 s
    // leases have run out too, and the nodes forget the host.
    for (const n of [n1, n2]) {
      stopped.add(n.pid);
      process.kill(n.pid, 'SIGSTOP');
    }
    await waitFor(() => metric(client, 'cloudburst_subscriptions_lapsed'), (n) => n === 2, 15_000, 'both keys lapsed');
    process.kill(n1.pid, 'SIGCONT');
    stopped.delete(n1.pid);
    // x's node answers: x is subscribed again (and read again) while y's node is still down.
    await waitFor(() => metric(client, 'cloudburst_subscriptions_lapsed'), (n) => n === 1, 15_000, 'x subscribed again while y\'s node is down');
    await kv.merge(`default/k/${x}`, lww.write(Buffer.from('v1'), { ms: Date.now(), c: 0, writer: 'test' }));
    await waitFor(() => client.json<{ value: string }>('GET', `/v1/kv/${x}`), (v) => v.value === 'v1', 10_000, 'the change of x reached the host');

    process.kill(n2.pid, 'SIGCONT');
    stopped.delete(n2.pid);
    await waitFor(() => metric(client, 'cloudburst_subscriptions_lapsed'), (n) => n === 0, 15_000, 'y subscribed again');
    await kv.merge(`default/k/${y}`, lww.write(Buffer.from('v1'), { ms: Date.now(), c: 0, writer: 'test' }));
    const seen = await waitFor(() => client.json<{ value: string }>('GET', `/v1/kv/${y}`), (v) => v.value === 'v1', 10_000, 'the change of y reached the host');
    expect(seen.value).toBe('v1');
  });
});
