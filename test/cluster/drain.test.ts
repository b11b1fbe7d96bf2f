// SIGTERM of a host under load (host/README.md, "Readiness and draining"), with real processes:
// the host drains (its /readyz says so, its peers stop placing work on it, its calls finish,
// its outbox reaches the tier) and a client going through another host sees no failure; and a
// call still running at --drain-timeout is cut with an answer, not left hanging.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostCache } from '../../host/cache/cache.ts';
import { startLocalCluster } from '../../tools/cli/cluster.ts';
import { json, localClusterAuth, registerHosts } from '../helpers/cluster.ts';
import { alive, bearer, guestBytes, metric, tempDir, waitFor } from '../helpers/platform.ts';

async function startCluster(prefix: string, hosts: number, hostArgs: string[]) {
  const dir = await tempDir(prefix);
  const log: string[] = [];
  const cluster = await startLocalCluster({ dataDir: dir, kvsNodes: 1, hosts, hostPort: 0, supervise: false, hostArgs, log: (l) => log.push(l), ...localClusterAuth(dir) });
  const unregister = registerHosts(cluster);
  const stop = async (): Promise<void> => {
    unregister();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const put = await fetch(`${cluster.file.processes.find((p) => p.role === 'host')!.url}/v1/modules/kitchen`, { method: 'PUT', body: new Uint8Array(guestBytes('kitchen')), headers: bearer(cluster.token) });
    if (put.status !== 200) throw new Error(`deploying kitchen: ${put.status} ${await put.text()}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { cluster, log, stop, host: (name: string) => cluster.file.processes.find((p) => p.name === name)! };
}

describe('a host drains on SIGTERM (real processes)', () => {
  it('under a closed-loop load through another host: zero failed calls, /readyz 503 during the drain, exit 0, nothing left in its outbox', { timeout: 120_000 }, async () => {
    // Half the calls placed at random, so that host A forwards many of them to B.
    const { cluster, log, stop, host } = await startCluster('cb-drain-', 2, ['--explore', '0.5', '--drain-timeout', '20s']);
    try {
      const a = host('host1');
      const b = host('host2');
      const bId = (await json<{ host: { id: string } }>(`${b.url}/v1/cluster`)).body.host.id;
      await waitFor(async () => (await json<{ peers: { id: string }[] }>(`${a.url}/v1/cluster`)).body.peers.map((p) => p.id), (ids) => ids.includes(bId), 10_000, 'A to see B');
      await waitFor(async () => (await fetch(`${b.url}/readyz`)).status, (s) => s === 200, 10_000, 'B ready');

      // The client: one call at a time through A, each a counter write (so B's outbox gets
      // writes), until told to stop. Every answer is kept.
      const answers: { status: number; host: string | null; code?: string }[] = [];
      let acked = 0n;
      let running = true;
      const client = (async () => {
        while (running) {
          const out = await json<{ result?: number; error?: { code: string } }>(`${a.url}/v1/functions/kitchen.counterAdd/call`, 'POST', { args: ['drain-hits', 1] });
          answers.push({ status: out.status, host: out.host, ...(out.body.error ? { code: out.body.error.code } : {}) });
          if (out.status === 200) acked++;
        }
      })();
      await waitFor(() => answers.filter((x) => x.host === bId).length, (n) => n >= 20, 30_000, 'calls placed on B');
      const termAt = performance.now();

      // SIGTERM B, and watch its /readyz while it drains. The signal is delivered and handled
      // asynchronously: a probe sent before B said 'stopping...' (its handler, which starts
      // the drain at once, prints it) may still be answered 200; one sent after, never.
      const stopping = (): boolean => log.includes('[host2] stopping...');
      const readyDuring: number[] = [];
      const readyBeforeStopping: number[] = [];
      const exited = new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (!alive(b.pid)) {
            clearInterval(t);
            resolve();
          }
        }, 20);
      });
      process.kill(b.pid, 'SIGTERM');
      let bGone = false;
      void exited.then(() => (bGone = true));
      while (!bGone) {
        const afterStopping = stopping();
        const status = await fetch(`${b.url}/readyz`).then((r) => r.status, () => undefined);
        if (status !== undefined) (afterStopping ? readyDuring : readyBeforeStopping).push(status);
        await new Promise((r) => setTimeout(r, 20));
      }
      await exited;
      const drainMs = performance.now() - termAt;
      const beforeExit = answers.length;
      const afterExit = answers.length;
      // The load goes on through A alone for a while.
      await waitFor(() => answers.length, (n) => n >= afterExit + 50, 30_000, 'calls after B left');
      running = false;
      await client;
      const onB = answers.filter((x) => x.host === bId).length;
      console.log(`drain of B: ${Math.round(drainMs)} ms from SIGTERM to exit; ${answers.length} calls in all (${onB} ran on B, ${beforeExit} before B exited), `
        + `${answers.filter((x) => x.status !== 200).length} failed; B's /readyz answered ${readyDuring.length} probes during the drain: ${[...new Set(readyDuring)].join(', ')} `
        + `(and ${readyBeforeStopping.length} between the SIGTERM and its handler)`);

      expect(answers.filter((x) => x.status !== 200)).toEqual([]);
      expect(readyDuring.length).toBeGreaterThan(0);
      expect(new Set(readyDuring)).toEqual(new Set([503]));
      expect(log.some((l) => l.startsWith('host2 ') && l.includes('exited (0)'))).toBe(true);
      // B's outbox is empty: every write it acknowledged reached the tier...
      const cache = HostCache.open({ path: join(b.dataDir, 'cache'), fsync: 'batch' });
      try {
        expect(cache.outboxSize()).toBe(0);
      } finally {
        await cache.close();
      }
      // ...and the tier has every acknowledged increment, no more.
      const total = await json<{ value: number }>(`${a.url}/v1/kv/drain-hits?fresh=1`);
      expect(BigInt(total.body.value)).toBe(acked);
    } finally {
      await stop();
    }
  });

  it('a call still running at --drain-timeout is cut: answered 503 SHUTTING_DOWN, and the host exits 0 without waiting for it', { timeout: 90_000 }, async () => {
    const { log, stop, host } = await startCluster('cb-drain-cut-', 1, ['--drain-timeout', '1500ms']);
    try {
      const h = host('host1');
      // 60 s of busy waiting, its deadline further still.
      const call = json<{ error?: { code: string } }>(`${h.url}/v1/functions/kitchen.delayI64/call`, 'POST', { args: [60_000, 1], timeoutMs: 120_000 });
      await waitFor(() => metric(h.url, 'cloudburst_workers_busy'), (n) => n >= 1, 10_000, 'the call running');
      process.kill(h.pid, 'SIGTERM');
      const out = await call;
      expect(out.status).toBe(503);
      expect(out.body.error?.code).toBe('SHUTTING_DOWN');
      await waitFor(() => alive(h.pid), (up) => !up, 20_000, 'the host to exit');
      expect(log.some((l) => l.startsWith('host1 ') && l.includes('exited (0)'))).toBe(true);
      expect(log.some((l) => l.includes('drain timeout') && l.includes('cut'))).toBe(true);
    } finally {
      await stop();
    }
  });
});
