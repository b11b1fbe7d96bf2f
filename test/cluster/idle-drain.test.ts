// An idle host's drain ends as soon as there is nothing to wait for: it does not sit out its
// --drain-timeout (host/README.md, "Readiness and draining"). Real processes: 3 KV nodes and a
// host whose cache is subscribed to keys the KV nodes have pushed changes of, so that every
// part that keeps something open between the KV tier and the host (subscription leases and
// their renewals, the nodes' push connections to the host, the client's keep-alive
// connection, the directory's beat, the flusher) is running when the SIGTERM comes.
import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { KvClient, lww } from '../../kvs/index.ts';
import { startLocalCluster } from '../../tools/cli/cluster.ts';
import { json, localClusterAuth, registerHosts } from '../helpers/cluster.ts';
import { alive, bearer, metric, tempDir, tokenOf, waitFor } from '../helpers/platform.ts';

/** The drain timeout the host gets: far above anything an idle host's drain needs. */
const DRAIN_TIMEOUT_MS = 60_000;
/**
 * The bound on SIGTERM-to-exit. An idle host's drain takes about two directory beats, the idle
 * connections' grace and a flush (1.5 to 2 s on a quiet machine); this bound leaves a loaded
 * machine ten times that and is a third of the timeout: it fails only when the drain (or
 * something left running after it, like a timer armed for the deadline) waits for the timeout.
 */
const EXIT_BOUND_MS = 20_000;
const KEYS = ['idle-a', 'idle-b', 'idle-c', 'idle-d'];

describe('an idle host drains without waiting for --drain-timeout (real processes)', () => {
  it('3 KV nodes, subscriptions active and changes pushed: the idle host exits 0 after SIGTERM well before its 60 s drain timeout', { timeout: 180_000 }, async () => {
    const dir = await tempDir('cb-idle-drain-');
    const log: string[] = [];
    const { clusterSecret } = localClusterAuth(dir);
    const cluster = await startLocalCluster({
      dataDir: dir, kvsNodes: 3, hosts: 1, hostPort: 0, supervise: false,
      hostArgs: ['--drain-timeout', `${DRAIN_TIMEOUT_MS / 1000}s`], clusterSecret, log: (l) => log.push(l),
    });
    const unregister = registerHosts(cluster);
    const kvs = cluster.file.processes.filter((p) => p.role === 'kvs');
    const kv = new KvClient({ seeds: kvs.map((p) => p.url), clusterSecret });
    try {
      const host = cluster.file.processes.find((p) => p.role === 'host')!;
      await waitFor(async () => (await fetch(`${host.url}/readyz`)).status, (s) => s === 200, 30_000, 'the host ready');

      // The host writes the keys and reads them (it caches and subscribes to them)...
      for (const key of KEYS) {
        const put = await fetch(`${host.url}/v1/kv/${key}`, { method: 'PUT', headers: bearer(tokenOf(host.url)), body: 'v0' });
        expect(put.status, await put.text()).toBe(200);
        expect((await json<{ value: string }>(`${host.url}/v1/kv/${key}`)).body.value).toBe('v0');
      }
      await waitFor(() => metric(host.url, 'cloudburst_subscribed_keys'), (n) => n >= KEYS.length, 30_000, 'the keys subscribed');
      // ...then the tier changes them behind its back: the KV nodes push the changes to the
      // host, which serves them from its cache.
      const pushedBefore = await metric(host.url, 'cloudburst_pushed_changes_total');
      for (const key of KEYS) await kv.merge(`default/k/${key}`, lww.write(Buffer.from('v1'), { ms: Date.now() + 1000, c: 0, writer: 'idle-drain-test' }));
      for (const key of KEYS) await waitFor(async () => (await json<{ value: string }>(`${host.url}/v1/kv/${key}`)).body.value, (v) => v === 'v1', 30_000, `the change of ${key} pushed to the host`);
      expect(await metric(host.url, 'cloudburst_pushed_changes_total')).toBeGreaterThanOrEqual(pushedBefore + KEYS.length);

      // Idle: nothing in flight. SIGTERM, and the time until the process is gone.
      const termAt = performance.now();
      process.kill(host.pid, 'SIGTERM');
      await waitFor(() => alive(host.pid), (up) => !up, DRAIN_TIMEOUT_MS + 30_000, 'the host to exit');
      const exitMs = performance.now() - termAt;
      console.log(`idle host: ${Math.round(exitMs)} ms from SIGTERM to exit (--drain-timeout ${DRAIN_TIMEOUT_MS / 1000}s)`);

      expect(log.some((l) => l.startsWith('host1 ') && l.includes('exited (0)')), log.join('\n')).toBe(true);
      // Nothing was cut: the drain found nothing to wait for.
      expect(log.filter((l) => l.includes('drain timeout'))).toEqual([]);
      expect(exitMs).toBeLessThan(EXIT_BOUND_MS);
    } finally {
      unregister();
      await kv.close();
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
