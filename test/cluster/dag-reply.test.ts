import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startHostCluster, type ClusterHost, type HostCluster } from '../helpers/cluster.ts';
import { metric } from '../helpers/platform.ts';

interface DagReply {
  result?: unknown;
  hosts?: Record<string, string>;
  runs?: number;
  error?: { code: string; message: string };
}

const callDag = (url: string, name: string, body: unknown) => json<DagReply>(`${url}/v1/dags/${name}/call`, 'POST', body);
const replied = (h: ClusterHost) => metric(h.url, 'cloudburst_dag_reply_messages_total');

// host/dag/reply.ts: a host whose share of a run waits for nothing from other hosts answers
// the coordinator's schedule with its first messages for it, instead of sending each as a
// request of its own.
describe('DAG messages carried back on the schedule\'s reply (real processes)', () => {
  let cluster: HostCluster;
  let a: ClusterHost;
  let b: ClusterHost;

  beforeAll(async () => {
    cluster = await startHostCluster({ prefix: 'cb-dag-reply-', hosts: 2, hostArgs: ['--explore', '0'], modules: ['math', 'kitchen', 'traps'] });
    [a, b] = cluster.hosts as [ClusterHost, ClusterHost];
    expect((await json(`${a.url}/v1/dags/pipeline`, 'PUT', { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] })).status).toBe(200);
    expect((await json(`${a.url}/v1/dags/div-square`, 'PUT', { functions: ['traps.divide', 'math.square'], edges: [['traps.divide', 'math.square']] })).status).toBe(200);
    expect((await json(`${a.url}/v1/dags/slow-source`, 'PUT', { functions: ['kitchen.delayI64', 'math.square'], edges: [['kitchen.delayI64', 'math.square']] })).status).toBe(200);
  });
  afterAll(() => cluster.stop());

  it('a source on another host: its result comes back on the schedule\'s reply, one per call', async () => {
    const before = await replied(b);
    for (let x = 0; x < 10; x++) {
      const out = await callDag(a.url, 'pipeline', { args: { 'math.increment': [x] }, placement: { 'math.increment': b.id, 'math.square': a.id } });
      expect(out.body).toMatchObject({ result: (x + 1) ** 2, hosts: { 'math.increment': b.id, 'math.square': a.id }, runs: 1 });
    }
    expect(await replied(b)).toBe(before + 10);
  });

  it('the sink on the other host: its result (the report) comes back on the reply; concurrent calls each get their own', async () => {
    const before = await replied(b);
    const outs = await Promise.all(Array.from({ length: 20 }, (_, x) => callDag(a.url, 'pipeline', { args: { 'math.increment': [x] }, placement: { 'math.increment': b.id, 'math.square': b.id } })));
    expect(outs.map((o) => o.body.result)).toEqual(Array.from({ length: 20 }, (_, x) => (x + 1) ** 2));
    expect(await replied(b)).toBe(before + 20);
  });

  it('a share that waits for another host\'s result is not held: its messages go as requests', async () => {
    const before = await replied(b);
    // increment on the coordinator, square on b: b's share waits for a's trigger, so its
    // report goes to the coordinator as a request of its own.
    const out = await callDag(a.url, 'pipeline', { args: { 'math.increment': [2] }, placement: { 'math.increment': a.id, 'math.square': b.id } });
    expect(out.body).toMatchObject({ result: 9, hosts: { 'math.increment': a.id, 'math.square': b.id }, runs: 1 });
    expect(await replied(b)).toBe(before);
  });

  it('a step that fails on the other host: its failure comes back on the reply, as the step\'s error', async () => {
    const before = await replied(b);
    const out = await callDag(a.url, 'div-square', { args: { 'traps.divide': [7, 0] }, placement: { 'traps.divide': b.id, 'math.square': a.id } });
    expect(out.status).toBeGreaterThanOrEqual(400);
    expect(out.body.error?.message).toContain(`step traps.divide on host ${b.id} failed`);
    expect(await replied(b)).toBe(before + 1);
    // A user's fault is not re-run: once.
    const ok = await callDag(a.url, 'div-square', { args: { 'traps.divide': [14, 2] }, placement: { 'traps.divide': b.id, 'math.square': a.id } });
    expect(ok.body).toMatchObject({ result: 49, runs: 1 });
  });

  it('kill -9 of the host of a held share: the run fails at once and is re-run elsewhere', async () => {
    const t0 = Date.now();
    const pending = callDag(a.url, 'slow-source', { args: { 'kitchen.delayI64': [1500, 6] }, timeoutMs: 60_000, placement: { 'kitchen.delayI64': b.id, 'math.square': a.id } });
    await expect.poll(() => metric(b.url, 'cloudburst_workers_busy'), { interval: 20 }).toBeGreaterThanOrEqual(1);
    process.kill(b.pid, 'SIGKILL');
    const out = await pending;
    expect(out.body).toMatchObject({ result: 36, runs: 2, hosts: { 'kitchen.delayI64': a.id, 'math.square': a.id } });
    // A run that waited for its deadline would take a minute; the bound is far above what a loaded machine adds.
    expect(Date.now() - t0).toBeLessThan(15_000);
  }, 120_000);
});
