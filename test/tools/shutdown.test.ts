import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'undici';
import { describe, expect, it } from 'vitest';
import { freePort, guestBytes, startUpProcess, tempDir, waitFor } from '../helpers/platform.ts';

const CONNECTIONS = 32;

interface Tally {
  ok: number;
  shuttingDown: number;
  /** Answers after the signal was sent. */
  answeredAfterSignal: number;
  /** New connections the host did not take once it stopped listening (acceptable: nothing was sent). */
  refused: number;
  /** Requests written on an established connection that got no answer. */
  socketErrors: string[];
  otherAnswers: string[];
}

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
    const tally: Tally = { ok: 0, shuttingDown: 0, answeredAfterSignal: 0, refused: 0, socketErrors: [], otherAnswers: [] };
    let signalled = false;
    let stopLoad = false;
    try {
      const deploy = await clients[0]!.request({ method: 'PUT', path: '/v1/modules/math', body: guestBytes('math') });
      expect(deploy.statusCode, await deploy.body.text()).toBe(200);

      const requests = [
        (n: number) => ({ method: 'POST' as const, path: '/v1/functions/math.square/call', body: JSON.stringify({ args: [n % 1000] }), headers: { 'content-type': 'application/json' } }),
        () => ({ method: 'GET' as const, path: '/v1/functions/math.square' }),
        () => ({ method: 'GET' as const, path: '/healthz' }),
      ];
      const answers = new Array<number>(CONNECTIONS).fill(0);
      // Each connection sends requests back to back until its connection is gone for good.
      const load = async (client: Client, i: number): Promise<void> => {
        for (let n = i; !stopLoad; n++) {
          try {
            const res = await client.request(requests[n % requests.length]!(n));
            const text = await res.body.text();
            answers[i]!++;
            if (signalled) tally.answeredAfterSignal++;
            if (res.statusCode === 200) tally.ok++;
            else if (res.statusCode === 503 && text.includes('"SHUTTING_DOWN"')) tally.shuttingDown++;
            else tally.otherAnswers.push(`${res.statusCode} ${text}`);
          } catch (err) {
            const { code, syscall } = err as { code?: string; syscall?: string };
            // A new connection the host did not take (it stopped listening): nothing was sent.
            if (syscall === 'connect') tally.refused++;
            else tally.socketErrors.push(`${code}: ${(err as Error).message}`);
            return;
          }
        }
      };
      const loads = clients.map(load);
      // The fixed set of connections: every one established, accepted and answering.
      await waitFor(() => Math.min(...answers), (n) => n >= 3, 30_000, 'every connection to be busy');

      signalled = true;
      up.child.kill('SIGINT');
      // Each client ends with a refused new connection once the host has stopped listening.
      const stop = setTimeout(() => (stopLoad = true), 20_000);
      await Promise.all(loads);
      clearTimeout(stop);
      const exit = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running 15 s after the load ended'), 15_000).unref())]);

      const summary = JSON.stringify({ ...tally, socketErrors: tally.socketErrors.length, exit });
      expect(tally.socketErrors, summary).toEqual([]);
      expect(tally.otherAnswers, summary).toEqual([]);
      expect(tally.answeredAfterSignal, summary).toBeGreaterThan(0);
      expect(tally.refused, summary).toBe(CONNECTIONS);
      expect(exit, summary).toEqual({ code: 0, signal: null });
      expect(up.output()).toContain('stopping...');
    } finally {
      stopLoad = true;
      await Promise.all(clients.map((c) => c.destroy()));
      if (up.child.exitCode === null && up.child.signalCode === null) up.child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
