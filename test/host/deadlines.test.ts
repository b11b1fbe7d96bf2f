import { rm } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, guestBytes, startUpProcess, tempDir, hostFetch } from '../helpers/platform.ts';

interface Outcome {
  status: number;
  code?: string;
}

/**
 * A call's deadline can land anywhere, also inside the commit of its writes. A worker thread
 * terminated inside an LMDB write transaction used to deadlock the whole process (every later
 * transaction waited for a lock the dead thread held), and one terminated inside a read made
 * lmdb-js abort the process. This runs a real `cloudburst up` (host and KV node in one process,
 * as users run it) and sweeps deadlines across calls that write thousands of keys, with
 * counter increments on 1-4 ms deadlines beside them.
 */
describe('host: deadlines that land inside a commit', () => {
  // Also after a test that timed out: a hung process must not outlive the run.
  const started: ChildProcess[] = [];
  afterAll(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('deadlines swept across writing calls: each call answers 200 with all its writes or 504 with none; the host still answers and stops on SIGTERM', async () => {
    const dir = await tempDir('cb-deadlines-');
    const port = await freePort();
    const { child, output } = await startUpProcess(['--data', dir, '--port', String(port), '--kvs-port', String(await freePort()), '--no-examples']);
    started.push(child);
    const url = `http://127.0.0.1:${port}`;
    const call = async (fn: string, args: unknown[], timeoutMs: number): Promise<Outcome & { result?: unknown }> => {
      // A host that stopped answering fails the test here, not at the test's own timeout.
      const res = await hostFetch(`${url}/v1/functions/${fn}/call`, { method: 'POST', body: JSON.stringify({ args, timeoutMs }), signal: AbortSignal.timeout(timeoutMs + 30_000) });
      const body = (await res.json()) as { result?: unknown; error?: { code: string } };
      return { status: res.status, ...(body.error ? { code: body.error.code } : { result: body.result }) };
    };
    const present = async (key: string): Promise<boolean> => {
      const res = await hostFetch(`${url}/v1/kv/${key}`, { signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      return res.status === 200;
    };
    try {
      for (const m of ['writer', 'counter']) {
        expect((await hostFetch(`${url}/v1/modules/${m}`, { method: 'PUT', body: new Uint8Array(guestBytes(m)) })).status).toBe(200);
      }
      const KEYS = 1000;
      await call('writer.many', ['warm-', KEYS, 8], 60_000);
      const t0 = performance.now();
      expect(await call('writer.many', ['warm-', KEYS, 8], 60_000)).toMatchObject({ status: 200, result: KEYS });
      const duration = performance.now() - t0;

      // Up to ROUNDS rounds within a time budget, so that a loaded machine does not stretch the
      // test: deadlines from 1 ms to 1.5 times a call's duration, in a different order each pass.
      const ROUNDS = 200;
      const budget = performance.now() + 15_000;
      const writes: { prefix: string; outcome: Outcome }[] = [];
      let increments = 0;
      for (let i = 0; i < ROUNDS && performance.now() < budget; i++) {
        const timeoutMs = 1 + Math.round((((i * 37) % ROUNDS) / ROUNDS) * duration * 1.5);
        const prefix = `s${i}-`;
        const [w, ...incs] = await Promise.all([
          call('writer.many', [prefix, KEYS, 8], timeoutMs),
          call('counter.incr', ['hits', 1], 1 + (i % 4)),
          call('counter.incr', ['hits', 1], 1 + ((i + 2) % 4)),
        ]);
        writes.push({ prefix, outcome: w });
        for (const o of [w, ...incs]) {
          if (o.status !== 200) expect(o, `round ${i}`).toMatchObject({ status: 504, code: 'CALL_TIMEOUT' });
        }
        increments += incs.filter((o) => o.status === 200).length;
      }

      // The host and its embedded KV node still answer (a deadlocked one never would: the
      // limit only keeps a failure from waiting for the test's own timeout).
      const health = await hostFetch(`${url}/healthz`, { signal: AbortSignal.timeout(30_000) });
      expect(health.status).toBe(200);
      await health.arrayBuffer();

      // A call acknowledged wrote everything; a call that timed out wrote nothing.
      for (const { prefix, outcome } of writes) {
        const expected = outcome.status === 200;
        expect([await present(`${prefix}0`), await present(`${prefix}${KEYS - 1}`)], `${prefix} answered ${outcome.status}`).toEqual([expected, expected]);
      }
      expect(await call('counter.get', ['hits'], 10_000)).toMatchObject({ status: 200, result: increments });
      expect(writes.filter((w) => w.outcome.status === 504).length).toBeGreaterThan(0);

      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited, output()).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
