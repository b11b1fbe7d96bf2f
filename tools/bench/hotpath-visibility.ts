// The price of the host's adaptive group commit (host/cache/flush-policy.ts): how long after a
// counter.incr is acknowledged its value can be read at the KV tier (where other hosts see it).
// A probe caller increments one counter sequentially and notes when each total was
// acknowledged; a poller reads that counter from the KV node (a signed HTTP GET, as another
// host's read would be) as fast as it answers, and each total's visibility is the time from
// its acknowledgement to the first read that holds it (0 when a read held it first). With
// `concurrency` > 1, that many - 1 more callers keep the host busy with other counters, so the
// commit rate, and with it the window, is the loaded one. Resolution: one KV read (~0.3 ms).
// Each measure starts once the host's outbox is empty: the phases before it (the in-guest puts,
// 10,000 keys of 1 KiB per call) leave a backlog that the probe's increments would queue
// behind (1.7 s p50 at 1 connection in a full run, against 9 ms on an idle host).
import type { Pool } from 'undici';
import { counter, KvClient, type Counter } from '../../kvs/index.ts';
import { outboxDrained, post } from './util.ts';
import { summarize, type Summary } from './stats.ts';

const PROBE = 'visibility-probe';

/** Visibility delays (us) of `n` increments at each concurrency. */
export async function visibilityFigures(host: Pool, kvUrl: string, clusterSecret: Buffer, concurrencies: number[], n: number, loadKey: (i: number) => string): Promise<Record<number, Summary>> {
  const kv = new KvClient({ url: kvUrl, clusterSecret });
  try {
    const out: Record<number, Summary> = {};
    for (const c of concurrencies) {
      await outboxDrained(host);
      out[c] = await measure(host, kv, `${PROBE}-${c}`, c, n, loadKey);
    }
    return out;
  } finally {
    await kv.close();
  }
}

async function incr(host: Pool, key: string): Promise<bigint> {
  const r = await post(host, '/v1/functions/counter.incr/call', JSON.stringify({ args: [key, 1] }));
  if (r.status !== 200) throw new Error(`counter.incr: ${r.status} ${r.text.slice(0, 300)}`);
  return BigInt((JSON.parse(r.text) as { result: number | string }).result);
}

async function measure(host: Pool, kv: KvClient, key: string, concurrency: number, n: number, loadKey: (i: number) => string): Promise<Summary> {
  const storage = `default/k/${key}`;
  const acked = new Map<bigint, number>();
  const samples: number[] = [];
  let seen = 0n;
  let probing = true;
  const probe = async (): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const total = await incr(host, key);
      const now = performance.now();
      // A read already held it: visible before the caller heard of it.
      if (total <= seen) samples.push(0);
      else acked.set(total, now);
    }
    probing = false;
  };
  const load = async (): Promise<void> => {
    for (let i = 0; probing; i++) await incr(host, loadKey(i));
  };
  const poll = async (): Promise<void> => {
    while (probing || acked.size > 0) {
      const v = (await kv.get(storage)) as Counter | undefined;
      const now = performance.now();
      const total = v === undefined ? 0n : counter.total(v);
      if (total <= seen) continue;
      seen = total;
      for (const [t, at] of acked) {
        if (t > total) continue;
        samples.push((now - at) * 1000);
        acked.delete(t);
      }
    }
  };
  await Promise.all([probe(), poll(), ...Array.from({ length: concurrency - 1 }, load)]);
  return summarize(samples);
}
