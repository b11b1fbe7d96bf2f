import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KV_PATHS, keyPath } from '../../kvs/index.ts';
import { startEmbedded } from '../../tools/cli/embedded.ts';
import { freePort, guestBytes, metric, runCli, startUpProcess, tempDir } from '../helpers/platform.ts';

/** A bound on waits that should end much sooner: only a broken build reaches it. */
const GIVE_UP_MS = 30_000;

/**
 * A separate process that asks `url` until it gets an answer and writes the status to `file`
 * (whole: written aside, then renamed, so that the file never exists empty): the asker must not
 * live on the thread the test blocks.
 */
function askUntilAnswered(url: string, file: string): ReturnType<typeof spawn> {
  const script = `
    const { renameSync, writeFileSync } = require('node:fs');
    (async () => {
      for (;;) {
        try { const r = await fetch(${JSON.stringify(url)}); await r.arrayBuffer(); writeFileSync(${JSON.stringify(`${file}.part`)}, String(r.status)); renameSync(${JSON.stringify(`${file}.part`)}, ${JSON.stringify(file)}); return; }
        catch { await new Promise((r) => setTimeout(r, 20)); }
      }
    })();`;
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
}

describe('cloudburst up (one process): the KV node runs on a thread of its own', () => {
  it('while the host\'s main thread is blocked in a busy loop, the KV node still answers a key read over HTTP', async () => {
    const dir = await tempDir('cb-kv-thread-');
    const up = await startEmbedded({ dataDir: join(dir, 'data'), port: 0, kvsPort: 0, insecure: true, deployExamples: false, workers: 1, log: () => {} });
    const answered = join(dir, 'answered');
    const asker = askUntilAnswered(`${up.kv.url}${keyPath('default/k/nothing-here')}`, answered);
    try {
      // The loop never yields: nothing on this thread (the host, and the KV node if it lived
      // here) runs until it ends. It ends when the other process has its answer.
      const until = Date.now() + GIVE_UP_MS;
      let seen = false;
      while (!seen && Date.now() < until) seen = existsSync(answered);
      expect(seen).toBe(true);
      // Read from the store on the KV node's thread: the key is absent.
      expect(readFileSync(answered, 'utf8')).toBe('404');
    } finally {
      asker.kill('SIGKILL');
      await up.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('on SIGTERM the host drains while the KV node still serves, then the KV node stops and the process exits 0', async () => {
    const dir = await tempDir('cb-kv-thread-');
    const up = await startUpProcess(['--insecure', '--no-examples', '--workers', '1', '--port', '0', '--data', join(dir, 'data')]);
    const exited = new Promise<number | null>((resolve) => up.child.once('exit', (code) => resolve(code)));
    try {
      const hostUrl = /host API (http:\/\/[\d.:]+)/.exec(up.output())![1]!;
      const kvUrl = /KV node (http:\/\/[\d.:]+)/.exec(up.output())![1]!;
      // A call that runs until its deadline holds the drain open for that long (the drain waits
      // for calls in flight), so that the moment looked for below lasts seconds, not however long
      // an idle host takes to drain: a loaded machine may not look in time otherwise.
      const deployed = await fetch(`${hostUrl}/v1/modules/hostile`, { method: 'PUT', body: new Uint8Array(guestBytes('hostile')) });
      expect(deployed.status).toBe(200);
      const spinning = fetch(`${hostUrl}/v1/functions/hostile.spin/call`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ args: [], timeoutMs: 5000 }),
      }).then((r) => r.status, () => 'down');
      await expect.poll(() => metric(hostUrl, 'cloudburst_workers_busy'), { interval: 20 }).toBe(1);
      up.child.kill('SIGTERM');
      // The host says it is draining (readyz 503) at a moment the KV node answers.
      const both = async (): Promise<string> => {
        const host = await fetch(`${hostUrl}/readyz`).then(async (r) => `${r.status} ${((await r.json()) as { error?: { code?: string } }).error?.code}`, () => 'down');
        const kv = await fetch(`${kvUrl}${KV_PATHS.healthz}`).then(async (r) => (await r.arrayBuffer(), String(r.status)), () => 'down');
        return `host ${host}, kv ${kv}`;
      };
      await expect.poll(both, { interval: 10 }).toBe('host 503 SHUTTING_DOWN, kv 200');
      // The spinning call was let run to its deadline (504), not cut (503).
      expect(await spinning).toBe(504);
      expect(await exited).toBe(0);
      // The host's last flush found its KV node up.
      expect(up.output()).not.toContain('stay in the outbox');
      await expect(fetch(`${kvUrl}${KV_PATHS.healthz}`)).rejects.toThrow();
    } finally {
      if (up.child.exitCode === null && up.child.signalCode === null) up.child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a KV port in use fails `cloudburst up` with the port\'s error (exit 1), as when the node ran on the main thread', async () => {
    const dir = await tempDir('cb-kv-thread-');
    const busy = createServer();
    const kvsPort = await freePort();
    await new Promise<void>((resolve) => busy.listen(kvsPort, '127.0.0.1', resolve));
    try {
      const out = await runCli(['up', '--insecure', '--no-examples', '--port', '0', '--kvs-port', String(kvsPort), '--data', join(dir, 'data')]);
      expect(out.stderr).toContain(`EADDRINUSE: address already in use 127.0.0.1:${kvsPort}`);
      expect(out.code).toBe(1);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
