import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'undici';
import { describe, expect, it } from 'vitest';
import { keepAliveLoad } from '../helpers/keep-alive-load.ts';
import { bearer, freePort, guestBytes, startUpProcess, tempDir } from '../helpers/platform.ts';

const CONNECTIONS = 32;

describe('cli: cloudburst up stops without dropping requests', () => {
  it('SIGINT under keep-alive load: every request sent on an open connection is answered (200 or 503 SHUTTING_DOWN), and the process exits 0', async () => {
    const dir = await tempDir('cb-shutdown-');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const up = await startUpProcess(['--data', join(dir, 'data'), '--port', String(port), '--no-examples', '--workers', '2']);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      up.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    // One connection each (pipelining 1: a request is written only once the previous answer is in).
    // A request left unanswered fails after 15 s instead of hanging the test.
    const clients = Array.from({ length: CONNECTIONS }, () => new Client(url, { pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 15_000, bodyTimeout: 15_000 }));
    let load: Awaited<ReturnType<typeof keepAliveLoad>> | undefined;
    try {
      const auth = bearer(up.token);
      const deploy = await clients[0]!.request({ method: 'PUT', path: '/v1/modules/math', body: guestBytes('math'), headers: auth });
      expect(deploy.statusCode, await deploy.body.text()).toBe(200);

      load = await keepAliveLoad(clients, [
        (n) => ({ method: 'POST', path: '/v1/functions/math.square/call', body: JSON.stringify({ args: [n % 1000] }), headers: { 'content-type': 'application/json', ...auth } }),
        () => ({ method: 'GET', path: '/v1/functions/math.square', headers: auth }),
        () => ({ method: 'GET', path: '/healthz' }),
      ]);
      const { tally } = load;
      load.mark();
      up.child.kill('SIGINT');
      // Each client ends with a refused new connection once the host has stopped listening.
      await load.finished(20_000);
      const exit = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running 15 s after the load ended'), 15_000).unref())]);

      const summary = JSON.stringify({ ...tally, socketErrors: tally.socketErrors.length, exit });
      expect(tally.socketErrors, summary).toEqual([]);
      expect(tally.otherAnswers, summary).toEqual([]);
      expect(tally.answeredAfterMark, summary).toBeGreaterThan(0);
      expect(tally.refused, summary).toBe(CONNECTIONS);
      expect(exit, summary).toEqual({ code: 0, signal: null });
      expect(up.output()).toContain('stopping...');
    } finally {
      load?.stop();
      await Promise.all(clients.map((c) => c.destroy()));
      if (up.child.exitCode === null && up.child.signalCode === null) up.child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
