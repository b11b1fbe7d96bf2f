// A host killed and restarted (supervised, at a new address) is a new incarnation with a new id:
// a failure of the previous incarnation does not take the new one out of the view.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startHostCluster, type HostCluster } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/platform.ts';

describe('a restarted host in the others\' view', () => {
  let cluster: HostCluster;
  beforeAll(async () => {
    cluster = await startHostCluster({ prefix: 'cb-restart-view-', hosts: 3, hostArgs: ['--explore', '0'], modules: ['math', 'kitchen'], supervise: true });
  });
  afterAll(() => cluster?.stop());

  it('a DAG run that timed out on the dead incarnation does not take the new one out of the view', async () => {
    const [a, , v] = cluster.hosts;
    const urlOf = (name: string): string => cluster.file.processes.find((p) => p.name === name)!.url;
    await json(`${a!.url}/v1/dags/slow`, 'PUT', { functions: ['math.increment', 'kitchen.delayI64', 'math.square'], edges: [['math.increment', 'kitchen.delayI64'], ['kitchen.delayI64', 'math.square']] });
    // A run whose middle step waits a second on V; V dies under it, so the coordinator (A)
    // times the run out, diagnoses the old address as unreachable, and re-runs.
    const pending = json<{ runs?: number; result?: unknown }>(`${a!.url}/v1/dags/slow/call`, 'POST', { args: { 'math.increment': [4], 'kitchen.delayI64': [1000] }, timeoutMs: 3000, placement: { 'kitchen.delayI64': v!.id } });
    await new Promise((r) => setTimeout(r, 300));
    const oldPid = v!.pid;
    process.kill(oldPid, 'SIGKILL');
    await waitFor(() => cluster.file.processes.find((p) => p.name === 'host3')!.pid, (pid) => pid !== oldPid, 20_000, 'V restarted');
    const newUrl = urlOf('host3');
    const newId = (await json<{ host: { id: string } }>(`${newUrl}/v1/cluster`)).body.host.id;
    expect(newId).not.toBe(v!.id);
    await waitFor(async () => (await json<{ peers: { id: string; url: string }[] }>(`${a!.url}/v1/cluster`)).body.peers, (ps) => ps.some((p) => p.id === newId && p.url === newUrl), 20_000, 'A sees the restarted V');
    // Watch A's view while the slow call ends: V must stay in it, and calls placed on V work.
    const problems: string[] = [];
    let done = false;
    const watcher = (async () => {
      while (!done) {
        const peers = (await json<{ peers: { id: string }[] }>(`${a!.url}/v1/cluster`)).body.peers;
        if (!peers.some((p) => p.id === newId)) {
          const probe = await json<{ error?: { code: string } }>(`${a!.url}/v1/dags/slow/call`, 'POST', { args: { 'math.increment': [1], 'kitchen.delayI64': [0] }, placement: { 'kitchen.delayI64': newId } });
          problems.push(`V left A's view; a call placed on it answered ${probe.status} ${probe.body.error?.code ?? ''}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const out = await pending;
    done = true;
    await watcher;
    expect(out.status).toBe(200);
    expect(out.body).toMatchObject({ result: 25 });
    expect(out.body.runs).toBeGreaterThan(1);
    expect(problems).toEqual([]);
  });
});
