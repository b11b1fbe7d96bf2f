// A host whose keys span two KV nodes (replication 1) while one node stops answering: only
// that node's keys are affected. Subscriptions of the other node's keys go on (and lapsed ones
// are read again at once), and a causal read never waits behind the fetches of another read
// that needs the stopped node.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { Membership, parseMembers } from '../../kvs/cluster/membership.ts';
import { causalMeta, KvClient, KV_PATHS, lww, type Lww } from '../../kvs/index.ts';
import { startLocalCluster } from '../../tools/cli/cluster.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { json, kvJson } from '../helpers/cluster.ts';
import { metric, tempDir, waitFor } from '../helpers/platform.ts';
import { testSecret } from '../helpers/cluster-secret.ts';

// The KV node's and the hosts' shared cluster secret.
const clusterSecret = testSecret();

describe('a host with one of two KV nodes down', () => {
  let dir: string;
  let cluster: Awaited<ReturnType<typeof startLocalCluster>>;
  let host: Host;
  let client: HostClient;
  let kv: KvClient;
  let nodes: { pid: number; url: string; id: string }[];
  const stopped = new Set<number>();

  beforeAll(async () => {
    dir = await tempDir('cb-kv-down-');
    cluster = await startLocalCluster({ dataDir: dir, kvsNodes: 2, replication: 1, hosts: 0, hostPort: 0, supervise: false, hostArgs: [], clusterSecret, log: () => undefined });
    const procs = cluster.file.processes.filter((p) => p.role === 'kvs');
    nodes = await Promise.all(procs.map(async (p) => ({ pid: p.pid, url: p.url, id: (await json<{ node: string }>(`${p.url}${KV_PATHS.healthz}`)).body.node })));
    for (const n of nodes) {
      await waitFor(async () => (await kvJson<{ members: { state: string }[] }>(clusterSecret, n.url, KV_PATHS.ring)).members.filter((m) => m.state === 'up').length, (c) => c === 2, 15_000, 'both KV nodes up');
    }
    host = await startHost({ clusterSecret, workers: 1, dataDir: join(dir, 'host'), kvsUrl: nodes[0]!.url, kvsSeeds: [nodes[1]!.url], port: 0, subscriptionTtlMs: 3000, onGuestLog: () => undefined });
    client = new HostClient(host.url, { token: cluster.token });
    kv = new KvClient({ url: nodes[0]!.url, seeds: [nodes[1]!.url], clusterSecret });
  });
  afterAll(async () => {
    for (const pid of stopped) process.kill(pid, 'SIGCONT');
    await kv?.close();
    await client?.close();
    await host?.close();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** The ring as `node` sees it. */
  async function placementAt(node: { url: string }) {
    const ring = await kvJson<{ members: { id: string; state: string }[] }>(clusterSecret, node.url, KV_PATHS.ring);
    return Membership.of(parseMembers(ring.members as never)).placement;
  }

  /** A key name whose only replica (replication 1) is `node`. */
  async function keyOn(node: { url: string; id: string }, base: string): Promise<string> {
    const placement = await placementAt(node);
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
    // The writes' commits also add to the tenant's state-bytes ledger (host/quotas), which
    // travels with them and is subscribed too: a third key, on one of the two nodes.
    const ledger = (await placementAt(n1)).replicasFor('default/sys/state-bytes')[0]!.id === n2.id ? 'n2' : 'n1';
    await waitFor(() => metric(client, 'cloudburst_subscribed_keys'), (n) => n === 3, 5000, 'both keys and the ledger subscribed');
    // Both nodes stop: a renewal times out after 5 s, so when every key has lapsed the 3 s
    // leases have run out too, and the nodes forget the host.
    for (const n of [n1, n2]) {
      stopped.add(n.pid);
      process.kill(n.pid, 'SIGSTOP');
    }
    await waitFor(() => metric(client, 'cloudburst_subscriptions_lapsed'), (n) => n === 3, 15_000, 'every key lapsed');
    process.kill(n1.pid, 'SIGCONT');
    stopped.delete(n1.pid);
    // x's node answers: x is subscribed again (and read again) while y's node is still down.
    await waitFor(() => metric(client, 'cloudburst_subscriptions_lapsed'), (n) => n === (ledger === 'n2' ? 2 : 1), 15_000, 'x subscribed again while y\'s node is down');
    await kv.merge(`default/k/${x}`, lww.write(Buffer.from('v1'), { ms: Date.now(), c: 0, writer: 'test' }));
    await waitFor(() => client.json<{ value: string }>('GET', `/v1/kv/${x}`), (v) => v.value === 'v1', 10_000, 'the change of x reached the host');

    process.kill(n2.pid, 'SIGCONT');
    stopped.delete(n2.pid);
    await waitFor(() => metric(client, 'cloudburst_subscriptions_lapsed'), (n) => n === 0, 15_000, 'y subscribed again');
    await kv.merge(`default/k/${y}`, lww.write(Buffer.from('v1'), { ms: Date.now(), c: 0, writer: 'test' }));
    const seen = await waitFor(() => client.json<{ value: string }>('GET', `/v1/kv/${y}`), (v) => v.value === 'v1', 10_000, 'the change of y reached the host');
    expect(seen.value).toBe('v1');
  });

  it('causal: a read whose dependencies the live node has is not held up by a read that needs the stopped node', async () => {
    const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    // A node that was stopped refuses reads until it caught up with its peer (replication 1:
    // no other replica could answer): start from a settled tier.
    for (const n of nodes) {
      await waitFor(async () => (await kvJson<{ catchingUp: boolean }>(clusterSecret, n.url, KV_PATHS.ring)).catchingUp, (c) => !c, 30_000, 'the KV nodes to catch up');
    }
    const stuckDep = await keyOn(n1, 'dep-stopped');
    const liveDep = await keyOn(n2, 'dep-live');
    const a = await keyOn(n2, 'reads-stopped');
    const b = await keyOn(n2, 'reads-live');
    const stamp = (ms: number, writer: string) => ({ ms, c: 0, writer });
    const zero = stamp(0, '');
    const dep = lww.write(Buffer.from('d'), stamp(Date.now(), 'test/d'));
    await kv.merge(`default/k/${stuckDep}`, dep);
    await kv.merge(`default/k/${liveDep}`, dep);
    process.kill(n1.pid, 'SIGSTOP');
    stopped.add(n1.pid);
    // Two causal versions the host has never seen: a's depends on a key of the stopped node,
    // b's on a key of the live one. Neither dependency is in the host's cache.
    const ta = stamp(Date.now(), 'test/a');
    const tb = stamp(Date.now(), 'test/b');
    await kv.merge(`default/k/${a}`, lww.write(Buffer.from('a1'), ta, causalMeta(ta, [], zero, [{ key: `default/k/${stuckDep}`, at: (dep as Lww).stamp, plain: true }])));
    await kv.merge(`default/k/${b}`, lww.write(Buffer.from('b1'), tb, causalMeta(tb, [], zero, [{ key: `default/k/${liveDep}`, at: (dep as Lww).stamp, plain: true }])));
    // The read of a is held: its dependency's fetch hangs on the stopped node (until the KV
    // client gives up on it, 1.7 s). The read of b, started while a's fetch hangs, brings its
    // own dependency from the live node and returns b's version first; it used to wait for
    // a's fetch to end, and return after a.
    const order: string[] = [];
    const readA = client.request('GET', `/v1/kv/${a}`).finally(() => order.push('a'));
    await waitFor(() => metric(client, 'cloudburst_causal_versions_held'), (n) => n >= 1, 5000, 'a\'s version held');
    const readB = await client.request('GET', `/v1/kv/${b}`).finally(() => order.push('b'));
    expect(readB.status).toBe(200);
    expect(JSON.parse(readB.body.toString()).value).toBe('b1');
    // a's version stays invisible while its dependency cannot be had.
    expect((await readA).status).toBe(404);
    expect(order).toEqual(['b', 'a']);
    process.kill(n1.pid, 'SIGCONT');
    stopped.delete(n1.pid);
    const seen = await waitFor(() => client.json<{ value: string }>('GET', `/v1/kv/${a}`).catch(() => ({ value: '' })), (v) => v.value === 'a1', 15_000, 'a\'s version admitted once the node answers');
    expect(seen.value).toBe('a1');
  });
});
