// Placement under load (host/cluster/scheduler.ts, cluster/load.ts), on real host processes:
// calls that all arrive at one host spread over the hosts by their load, so that throughput
// rises with the hosts there are. Where each call ran is read from its answer's
// x-cloudburst-host and checked against each host's own count in /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startHostCluster, type HostCluster } from '../helpers/cluster.ts';
import { hostFetch, metric } from '../helpers/platform.ts';

const FN = 'kitchen.recvOne';
/** How long each call waits (a recv that gets no message): it holds its host's one worker meanwhile. */
const WAIT_MS = 40;
/** As many clients as the two hosts have workers: placed well, no call waits for a worker. */
const CLIENTS = 2;
const CALLS_PER_CLIENT = 60;
const WAITED = 'cloudburst_queue_wait_seconds_count';

/** How many calls of `fn` a host ran, from its /metrics (cloudburst_calls_total, every outcome). */
async function callsOf(url: string, fn: string): Promise<number> {
  const text = await (await hostFetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^cloudburst_calls_total\{([^}]*)\} (\S+)$/gm)) if (m[1]!.includes(`"${fn}"`)) n += Number(m[2]);
  return n;
}

describe('placement under load: calls through one host spread over the hosts (real processes)', () => {
  let cluster: HostCluster;

  beforeAll(async () => {
    // One worker per host, so that one call fills a host; no random placements, so that every
    // call placed elsewhere was placed there for load.
    cluster = await startHostCluster({ prefix: 'cb-place-', hosts: 2, hostArgs: ['--explore', '0', '--workers', '1', '--max-workers', '1'], modules: ['kitchen'] });
  });
  afterAll(() => cluster?.stop());

  it(`${CLIENTS} closed-loop clients through host 1 of a call that waits ${WAIT_MS} ms: both hosts run calls, host 2 at least a third, and few wait for a worker`, { timeout: 180_000 }, async () => {
    const [a, b] = cluster.hosts;
    // Each host compiles the module once, before the load (a first compile is not placement's to judge).
    for (const h of [a!, b!]) expect((await json(`${h.url}/v1/functions/${FN}/call`, 'POST', { args: [0] })).status).toBe(200);
    const before = { a: await callsOf(a!.url, FN), b: await callsOf(b!.url, FN), waited: (await metric(a!.url, WAITED)) + (await metric(b!.url, WAITED)) };

    const ranOn = new Map<string, number>();
    const failures: string[] = [];
    const started = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      for (let i = 0; i < CALLS_PER_CLIENT; i++) {
        const res = await json<{ result?: string }>(`${a!.url}/v1/functions/${FN}/call`, 'POST', { args: [WAIT_MS], timeoutMs: 120_000 });
        if (res.status !== 200 || res.body.result !== '<none>') failures.push(`${res.status} ${JSON.stringify(res.body)}`);
        else ranOn.set(res.host ?? '?', (ranOn.get(res.host ?? '?') ?? 0) + 1);
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    expect(failures).toEqual([]);
    const total = CLIENTS * CALLS_PER_CLIENT;
    const onA = ranOn.get(a!.id) ?? 0;
    const onB = ranOn.get(b!.id) ?? 0;
    // The figure (a timing, so printed, not asserted): one host does at most 1000 / WAIT_MS calls/s.
    console.log(`placement: ${total} calls in ${seconds.toFixed(1)} s = ${(total / seconds).toFixed(1)} calls/s (one host: at most ${1000 / WAIT_MS}/s); host 1 ran ${onA}, host 2 ran ${onB}`);
    expect(onA + onB).toBe(total);
    // Spread by load: the host they arrive at keeps its share and hands the rest on.
    expect(onB).toBeGreaterThanOrEqual(total / 3);
    expect(onA).toBeGreaterThanOrEqual(total / 3);
    // Both hosts ran calls at the same time, which is what doubles throughput: a call waits for a
    // worker only when it is placed on a host already running one, and with one client per
    // worker that happens only when placement misjudges (keeping calls here because every host
    // looked busy, or sending a burst to one peer on an old record: the placement before
    // cluster/load.ts made 76 of 120 wait). Measured since: 0 to 8 of 120; the bound leaves room
    // for a loaded machine, where a peer's record may come late enough to drop it for a while.
    const waited = (await metric(a!.url, WAITED)) + (await metric(b!.url, WAITED)) - before.waited;
    console.log(`placement: ${waited} of ${total} calls waited for a worker`);
    expect(waited).toBeLessThanOrEqual(total / 4);
    // The hosts' own counts agree with the answers.
    expect(await callsOf(a!.url, FN)).toBe(before.a + onA);
    expect(await callsOf(b!.url, FN)).toBe(before.b + onB);
  });
});
