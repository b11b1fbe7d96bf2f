// The in-guest state figures (issue 14's "In-guest" goal): what `get` and `put` of a 1 KiB
// value cost inside a function, timed by the guest itself (tools/bench/guests/state-bench.ts,
// deployed as `statebench`), so that HTTP and scheduling are out of the figure. Shared by the
// host suite and the hotpath suite.
import type { Pool } from 'undici';
import { percentile } from './stats.ts';
import { post } from './util.ts';

export interface InGuestFigures {
  /** The same key again (read in place from LMDB, like any other get). */
  getSameKeyUs: number;
  /** Distinct cached keys: every get reads the value's bytes in place from LMDB. */
  getDistinctUs: number;
  /** One put, amortized with the call's commit. */
  putUs: number;
  getRuns: number[];
  distinctRuns: number[];
  putRuns: number[];
  loops: number;
  distinct: number;
  putCount: number;
}

const RUNS = 7;

/** Medians of 7 runs of each measure, on a host where `statebench` is deployed. */
export async function inGuestFigures(host: Pool, quick: boolean): Promise<InGuestFigures> {
  const call = async (fn: string, args: unknown[]) => {
    const r = await post(host, `/v1/functions/statebench.${fn}/call`, JSON.stringify({ args }));
    if (r.status !== 200) throw new Error(`statebench.${fn}: ${r.status} ${r.text}`);
    return r;
  };
  const value = Buffer.alloc(1024, 7);
  await (await host.request({ method: 'PUT', path: '/v1/kv/bench-1k', body: value })).body.text();
  const loops = quick ? 50_000 : 200_000;
  const getRuns: number[] = [];
  for (let i = 0; i < RUNS; i++) getRuns.push(((JSON.parse((await call('getLoop', ['bench-1k', loops])).text).result as number) * 1000) / loops);
  // Distinct keys: every get reads LMDB (the value's bytes in place, no decode).
  const distinct = quick ? 5000 : 20_000;
  await call('putLoop', ['g', distinct, 1024]);
  const distinctRuns: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const ms = JSON.parse((await call('getDistinct', ['g', distinct])).text).result as number;
    if (ms < 0) throw new Error('getDistinct read the wrong values');
    distinctRuns.push((ms * 1000) / distinct);
  }
  // A put is timed as the call's duration with n puts minus the same call with none: the
  // commit at the call's end is part of what a put costs.
  const putCount = quick ? 2000 : 10_000;
  const putRuns: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const base = await call('putLoop', [`p${i}-`, 0, 1024]);
    const full = await call('putLoop', [`p${i}-`, putCount, 1024]);
    const us = Number(full.headers['x-cloudburst-duration-us']) - Number(base.headers['x-cloudburst-duration-us']);
    putRuns.push(us / putCount);
  }
  return {
    getSameKeyUs: percentile(getRuns, 50), getDistinctUs: percentile(distinctRuns, 50), putUs: percentile(putRuns, 50),
    getRuns, distinctRuns, putRuns, loops, distinct, putCount,
  };
}
