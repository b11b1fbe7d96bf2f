// Issue 13's acceptance for executor scaling, on a real `cloudburst up` (host and KV node in one
// process, as users run it) started with --workers 2: two calls spinning to their deadline no longer hold up short
// calls, the gauges move, and the workers shrink back to --workers after the idle timeout.
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, guestBytes, hostFetch, metric, startUpProcess, tempDir } from '../helpers/platform.ts';

/**
 * The issue asks for p99 under 50 ms; the machine running the suite is shared and noisy (with a
 * load average of 15 on 2 cores this test measured p99 ~500 ms), so the test holds a generous
 * bound and prints what it measured (`tools/bench/micro/spin-square.ts` measures it on its
 * own). What it asserts strictly is the behaviour: every short call answers while both spinning
 * calls still run (a fixed pool of 2 made the first wait for their deadline).
 */
const P99_BOUND_MS = 2000;
// Long enough for 200 squares on a loaded machine, short enough that two spinning threads do not
// slow the rest of the suite for long.
const SPIN_DEADLINE_MS = 15_000;
const IDLE_TIMEOUT = '2s';

describe('host: executor scaling inside a host', () => {
  const started: ChildProcess[] = [];
  afterAll(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('with two calls spinning to their deadline, 200 sequential math.square calls answer while they spin (p99 printed, bounded); the gauges move; the workers shrink back to --workers after the idle timeout', async () => {
    const dir = await tempDir('cb-exec-scaling-');
    const port = await freePort();
    const { child, output } = await startUpProcess(['--data', dir, '--port', String(port), '--kvs-port', String(await freePort()), '--no-examples', '--workers', '2', '--idle-timeout', IDLE_TIMEOUT]);
    started.push(child);
    const url = `http://127.0.0.1:${port}`;
    try {
      for (const m of ['math', 'hostile']) {
        expect((await hostFetch(`${url}/v1/modules/${m}`, { method: 'PUT', body: new Uint8Array(guestBytes(m)) })).status).toBe(200);
      }
      const call = async (fn: string, args: unknown[], timeoutMs: number): Promise<{ status: number; result?: unknown; code?: string }> => {
        const res = await hostFetch(`${url}/v1/functions/${fn}/call`, { method: 'POST', body: JSON.stringify({ args, timeoutMs }), signal: AbortSignal.timeout(timeoutMs + 30_000) });
        const body = (await res.json()) as { result?: unknown; error?: { code: string } };
        return { status: res.status, ...(body.error ? { code: body.error.code } : { result: body.result }) };
      };
      expect(await call('math.square', [2], 10_000)).toEqual({ status: 200, result: 4 });
      expect(await metric(url, 'cloudburst_workers')).toBe(2);
      expect(await metric(url, 'cloudburst_workers_max')).toBe(Math.max(2, 4 * availableParallelism()));

      let spinning = 2;
      const spins = [0, 1].map(() => call('hostile.spin', [], SPIN_DEADLINE_MS).then((r) => r, (err: unknown) => ({ status: 0, code: String(err) })).finally(() => spinning--));
      await expect.poll(() => metric(url, 'cloudburst_workers_busy'), { interval: 10 }).toBeGreaterThanOrEqual(2);

      const times: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        expect(await call('math.square', [i], 10_000)).toEqual({ status: 200, result: i * i });
        times.push(performance.now() - t0);
      }
      // Every square answered while both spinning calls ran: none waited for their deadline.
      expect(spinning).toBe(2);
      const sorted = [...times].sort((a, b) => a - b);
      const p50 = sorted[99]!;
      const p99 = sorted[197]!;
      console.log(`200 squares beside 2 spinning calls: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, first ${times[0]!.toFixed(1)} ms`);
      expect(p99).toBeLessThan(P99_BOUND_MS);
      // Not even the first (it waited for a worker to start) came near the spinning calls' deadline.
      expect(sorted[199]!).toBeLessThan(SPIN_DEADLINE_MS / 2);

      // The gauges moved: a worker was added for the waiting square, and the load shows.
      expect(await metric(url, 'cloudburst_workers')).toBeGreaterThanOrEqual(3);
      expect(await metric(url, 'cloudburst_workers_added_total')).toBeGreaterThanOrEqual(1);
      expect(await metric(url, 'cloudburst_queue_wait_seconds_count')).toBeGreaterThanOrEqual(1);
      expect(await metric(url, 'cloudburst_utilization')).toBeGreaterThan(0);

      // The spinning calls end at their deadline (their workers replaced); then, idle, the pool
      // shrinks back to --workers.
      expect(await Promise.all(spins)).toEqual([{ status: 504, code: 'CALL_TIMEOUT' }, { status: 504, code: 'CALL_TIMEOUT' }]);
      await expect.poll(() => metric(url, 'cloudburst_workers'), { interval: 200 }).toBe(2);
      expect(await metric(url, 'cloudburst_workers_idle_stopped_total')).toBeGreaterThanOrEqual(1);
      await expect.poll(() => metric(url, 'cloudburst_utilization'), { interval: 200 }).toBeLessThan(0.01);
      // And it serves.
      expect(await call('math.square', [7], 10_000)).toEqual({ status: 200, result: 49 });

      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited, output()).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
