// A host's cache subscriptions survive a KV node that stops answering for longer than the
// lease: the host keeps retrying, and reads the keys once more when it is subscribed again.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { KvClient, lww } from '../../kvs/index.ts';
import { startLocalCluster } from '../../tools/cli/cluster.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { metric, tempDir, waitFor } from '../helpers/platform.ts';
import { testSecret } from '../helpers/cluster-secret.ts';

// The KV node's and the hosts' shared cluster secret.
const clusterSecret = testSecret();

describe('cache subscriptions across a KV node that stops answering', () => {
  let dir: string;
  let cluster: Awaited<ReturnType<typeof startLocalCluster>>;
  let host: Host;
  let client: HostClient;
  let kv: KvClient;
  let kvPid: number;

  beforeAll(async () => {
    dir = await tempDir('cb-subs-');
    cluster = await startLocalCluster({ dataDir: dir, kvsNodes: 1, hosts: 0, hostPort: 0, supervise: false, hostArgs: [], clusterSecret, log: () => undefined });
    const node = cluster.file.processes.find((p) => p.role === 'kvs')!;
    kvPid = node.pid;
    // A 3 s lease, renewed every second: a 6.5 s stop outlives the lease and a renewal's 5 s timeout.
    host = await startHost({ clusterSecret, workers: 1, dataDir: join(dir, 'host'), kvsUrl: node.url, port: 0, subscriptionTtlMs: 3000, onGuestLog: () => undefined });
    client = new HostClient(host.url, { token: cluster.token });
    kv = new KvClient({ url: node.url, clusterSecret });
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
