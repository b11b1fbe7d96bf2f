import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric, startPlatform, type Platform } from '../helpers/platform.ts';

/**
 * Memory a worker cannot give back by itself is given back by replacing the worker: V8 frees a
 * discarded instance's linear memory only when its isolate collects garbage (an idle worker may
 * not for hours), and lmdb-js keeps a read buffer twice the size of the largest value read.
 * After runaway guests a host's memory used to stay hundreds of MiB up for good.
 */
describe('host: memory that a worker cannot give back', () => {
  let p: Platform;

  beforeAll(async () => {
    // A budget a 40 MB value in a guest's memory goes over.
    p = await startPlatform({ workers: 2, workerMemoryMiB: 96 });
    for (const m of ['hostile', 'writer', 'math']) await p.deploy(m);
  }, 120_000);
  afterAll(() => p.stop());

  it('a guest that ran out of memory: its worker is replaced, and the next calls run', async () => {
    const before = await metric(p.client, 'cloudburst_workers_retired_total');
    await expect(p.call('hostile.oom', [])).rejects.toMatchObject({ code: 'GUEST_OUT_OF_MEMORY' });
    expect(await metric(p.client, 'cloudburst_workers_retired_total')).toBe(before + 1);
    expect(await Promise.all([1, 2, 3, 4].map((x) => p.call('math.square', [x])))).toEqual([1, 4, 9, 16]);
  });

  it('a call that leaves its worker over the budget: the worker is replaced after answering', async () => {
    const before = await metric(p.client, 'cloudburst_workers_retired_total');
    expect(await p.call('writer.big', ['mem-big', 40_000_000, 1], { timeoutMs: 60_000 })).toBe(40_000_000);
    expect(await metric(p.client, 'cloudburst_workers_retired_total')).toBe(before + 1);
    expect(await p.call('math.square', [5])).toBe(25);
  });

  it('calls within the budget keep their worker (and their warm instances)', async () => {
    const before = await metric(p.client, 'cloudburst_workers_retired_total');
    for (let i = 0; i < 200; i++) expect(await p.call('math.square', [i])).toBe(i * i);
    expect(await p.call('writer.many', ['mem-small-', 100, 8])).toBe(100);
    expect(await metric(p.client, 'cloudburst_workers_retired_total')).toBe(before);
  });
});
