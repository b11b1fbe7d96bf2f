import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startHostCluster, type ClusterHost, type HostCluster } from '../helpers/cluster.ts';
import { metric, hostFetch } from '../helpers/platform.ts';

interface DagReply {
  result?: unknown;
  hosts?: Record<string, string>;
  runs?: number;
  future?: string;
  error?: { code: string; message: string };
}

const callDag = (url: string, name: string, body: unknown) => json<DagReply>(`${url}/v1/dags/${name}/call`, 'POST', body);
/** Resolves once a call runs on the host (the slow step placed there): the moment to kill it mid-run. */
const runningOn = (host: ClusterHost) =>
  expect.poll(() => metric(host.url, 'cloudburst_workers_busy'), { interval: 20 }).toBeGreaterThanOrEqual(1);

describe('DAGs across hosts (real processes)', () => {
  let cluster: HostCluster;
  let hosts: ClusterHost[];

  beforeAll(async () => {
    // No random placements: the tests assert where steps run.
    cluster = await startHostCluster({ prefix: 'cb-dag-', hosts: 3, hostArgs: ['--explore', '0'], modules: ['math', 'kitchen'] });
    hosts = cluster.hosts;
  });
  afterAll(() => cluster.stop());

  it('a DAG registered through one host warms up on every host and runs through every host', async () => {
    const [a] = hosts;
    const reg = await json<{ warmed: string[] }>(`${a!.url}/v1/dags/pipeline`, 'PUT', { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] });
    expect(reg.status).toBe(200);
    expect(reg.body.warmed.sort()).toEqual(hosts.map((h) => h.id).sort());
    for (const h of hosts) {
      for (let x = 0; x < 30; x++) {
        const out = await callDag(h.url, 'pipeline', { args: { 'math.increment': [x * 11 - 50] } });
        expect(out.body.result).toBe((x * 11 - 49) ** 2);
        // No references: every step stays where the call arrived.
        expect(out.body.hosts).toEqual({ 'math.increment': h.id, 'math.square': h.id });
      }
    }
  });

  it('forced placement: each step runs on its host, results pass host to host', async () => {
    const [a, b, c] = hosts;
    const out = await callDag(a!.url, 'pipeline', { args: { 'math.increment': [6] }, placement: { 'math.increment': b!.id, 'math.square': c!.id } });
    expect(out.body).toMatchObject({ result: 49, hosts: { 'math.increment': b!.id, 'math.square': c!.id }, runs: 1 });
    expect(out.host).toBe(c!.id);
    const many = await Promise.all(Array.from({ length: 20 }, (_, x) => callDag(a!.url, 'pipeline', { args: { 'math.increment': [x] }, placement: { 'math.increment': c!.id, 'math.square': b!.id } })));
    expect(many.map((r) => r.body.result)).toEqual(Array.from({ length: 20 }, (_, x) => (x + 1) ** 2));
  });

  it('diamond over three hosts: the sink gets its inputs in declared-edge order, whatever the timing', async () => {
    const [a, b, c] = hosts;
    const [fa, fb, fc, fd] = ['kitchen.echoString', 'kitchen.slowSuffix', 'kitchen.slowPrefix', 'kitchen.concat'];
    expect((await json(`${b!.url}/v1/dags/diamond`, 'PUT', { functions: [fa, fb, fc, fd], edges: [[fa, fb], [fa, fc], [fb, fd], [fc, fd]] })).status).toBe(200);
    const placement = { [fa]: a!.id, [fb]: b!.id, [fc]: c!.id, [fd]: a!.id };
    for (const [bMs, cMs] of [[250, 0], [0, 250]]) {
      const out = await callDag(c!.url, 'diamond', { args: { [fa]: ['x'], [fb]: [bMs, '-b'], [fc]: [cMs, 'c-'] }, placement });
      expect(out.body.result).toBe('x-bc-x');
      expect(out.body.hosts).toEqual(placement);
    }
  });

  it('a step with a reference argument runs on the host that caches the key', async () => {
    const [a, b] = hosts;
    await hostFetch(`${b!.url}/v1/kv/dag-suffix-on-b`, { method: 'PUT', body: '!' });
    await expect.poll(async () => (await json<{ peers: { id: string; keys: number }[] }>(`${a!.url}/v1/cluster`)).body.peers.find((p) => p.id === b!.id)?.keys ?? 0, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(1);
    await json(`${a!.url}/v1/dags/refs`, 'PUT', { functions: ['kitchen.echoString', 'kitchen.slowSuffix'], edges: [['kitchen.echoString', 'kitchen.slowSuffix']] });
    const out = await callDag(a!.url, 'refs', { args: { 'kitchen.echoString': ['hi'], 'kitchen.slowSuffix': [0, { ref: 'dag-suffix-on-b' }] } });
    expect(out.body).toMatchObject({ result: 'hi!', hosts: { 'kitchen.echoString': a!.id, 'kitchen.slowSuffix': b!.id } });
  });

  it('an async DAG call gives a future that any host can answer for', async () => {
    const [a, b, c] = hosts;
    const started = await callDag(a!.url, 'pipeline', { args: { 'math.increment': [9] }, async: true, placement: { 'math.square': b!.id } });
    expect(started.status).toBe(202);
    const record = await json<{ status: string; result: unknown }>(`${c!.url}/v1/futures/${started.body.future}?wait=10000`);
    expect(record.body).toMatchObject({ status: 'done', result: 100 });
  });

  // Last: they kill hosts.
  it('kill -9 of a host in the middle of a DAG: the call is re-run and returns the right result', async () => {
    const [a, , c] = hosts;
    await json(`${a!.url}/v1/dags/slow-chain`, 'PUT', {
      functions: ['math.increment', 'kitchen.delayI64', 'math.square'],
      edges: [['math.increment', 'kitchen.delayI64'], ['kitchen.delayI64', 'math.square']],
    });
    const pending = callDag(a!.url, 'slow-chain', { args: { 'math.increment': [4], 'kitchen.delayI64': [1000] }, timeoutMs: 2000, placement: { 'kitchen.delayI64': c!.id } });
    await runningOn(c!);
    process.kill(c!.pid, 'SIGKILL');
    const out = await pending;
    expect(out.status).toBe(200);
    expect(out.body.result).toBe(25);
    expect(out.body.runs).toBe(2);
    expect(out.body.hosts!['kitchen.delayI64']).not.toBe(c!.id);
  });

  it('kill -9 with a long deadline (60 s): the dead host leaves the directory and the run ends early', async () => {
    const [a, b] = hosts;
    const t0 = Date.now();
    const pending = callDag(a!.url, 'slow-chain', { args: { 'math.increment': [5], 'kitchen.delayI64': [1000] }, timeoutMs: 60_000, placement: { 'kitchen.delayI64': b!.id } });
    await runningOn(b!);
    process.kill(b!.pid, 'SIGKILL');
    const out = await pending;
    expect(out.body).toMatchObject({ result: 36, runs: 2, hosts: { 'kitchen.delayI64': a!.id } });
    // About 3 s for the record to go stale, then a run of about 1 s; a run that waited for
    // its deadline would take over a minute. The bound is a quarter of the deadline, far
    // above what a loaded machine adds.
    expect(Date.now() - t0).toBeLessThan(15_000);
  }, 120_000);
});
