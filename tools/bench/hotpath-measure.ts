// The measures of `npm run bench -- hotpath`, each taken of several "sides" (ours and its
// baselines) in interleaved rounds: round r runs every side in turn (the order reversed every
// other round), so that the shared machine's noise hits all sides alike.
//  - sequential: one request at a time, latencies in microseconds;
//  - load: a fixed count of requests with `concurrency` in flight, giving throughput, the
//    latencies under load, and the server CPU per request (utime + stime of the processes
//    serving that side, from /proc, before and after).
import type { Pool } from 'undici';
import { cpuMicros } from './proc-cpu.ts';
import { summarize, type Summary } from './stats.ts';
import { post } from './util.ts';

/** One side: a request (throws on a wrong answer) and the processes that serve it. */
export interface Side {
  call(i: number): Promise<void>;
  /** The pids whose CPU (with their descendants') this side's requests cost. */
  pids: number[];
}

/**
 * A POST of `body(i)` to `path` that must answer 200 and, if given, `expected(i)` as its
 * result; `onAnswer` sees each answer's headers.
 */
export function httpCall(pool: Pool, path: string, body: (i: number) => string, expected?: (i: number) => unknown, onAnswer?: (headers: Record<string, unknown>) => void): (i: number) => Promise<void> {
  return async (i) => {
    const r = await post(pool, path, body(i));
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text.slice(0, 300)}`);
    onAnswer?.(r.headers);
    if (expected !== undefined) {
      const want = expected(i);
      const got = (JSON.parse(r.text) as { result: unknown }).result;
      if (got !== want) throw new Error(`${path}: answered ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  };
}

/** The order of the sides in round `round`: reversed every other round. */
function order<T>(names: T[], round: number): T[] {
  return round % 2 === 0 ? names : [...names].reverse();
}

/** `warm` calls of every side, then `n` sequential calls of each in `rounds` interleaved rounds. */
export async function sequentialRounds(sides: Record<string, Side>, n: number, rounds: number, warm: number): Promise<Record<string, Summary>> {
  const names = Object.keys(sides);
  for (const name of names) for (let i = 0; i < warm; i++) await sides[name]!.call(i);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  const perRound = Math.ceil(n / rounds);
  for (let round = 0; round < rounds; round++) {
    for (const name of order(names, round)) {
      const side = sides[name]!;
      for (let j = 0; j < perRound; j++) {
        const t = process.hrtime.bigint();
        await side.call(round * perRound + j);
        samples[name]!.push(Number(process.hrtime.bigint() - t) / 1000);
      }
    }
  }
  return Object.fromEntries(names.map((k) => [k, summarize(samples[k]!)]));
}

export interface LoadFigures {
  concurrency: number;
  requests: number;
  /** Requests per second over the rounds' summed wall time. */
  rps: number;
  /** Server CPU (the side's processes) per request, microseconds. */
  cpuUsPerRequest: number;
  latency: Summary;
}

/**
 * `count` requests of each side (or `count[side]`: a side many times slower than its baseline
 * gets fewer, so that the run stays short) with `concurrency` in flight, in `rounds`
 * interleaved rounds (count / rounds each); throughput over the summed wall time, CPU over
 * the summed CPU.
 */
export async function loadRounds(sides: Record<string, Side>, concurrency: number, count: number | Record<string, number>, rounds: number): Promise<Record<string, LoadFigures>> {
  const names = Object.keys(sides);
  const acc = Object.fromEntries(names.map((k) => [k, { ms: 0, cpu: 0, done: 0, lat: [] as number[] }]));
  for (let round = 0; round < rounds; round++) {
    for (const name of order(names, round)) {
      const side = sides[name]!;
      const a = acc[name]!;
      const perRound = Math.ceil((typeof count === 'number' ? count : count[name]!) / rounds);
      let next = 0;
      const cpu0 = cpuMicros(side.pids);
      const t0 = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < perRound) {
          const i = next++;
          const t = process.hrtime.bigint();
          await side.call(round * perRound + i);
          a.lat.push(Number(process.hrtime.bigint() - t) / 1000);
        }
      }));
      a.ms += performance.now() - t0;
      a.cpu += cpuMicros(side.pids) - cpu0;
      a.done += perRound;
    }
  }
  return Object.fromEntries(names.map((k) => {
    const a = acc[k]!;
    return [k, { concurrency, requests: a.done, rps: a.done / (a.ms / 1000), cpuUsPerRequest: a.cpu / a.done, latency: summarize(a.lat) }];
  }));
}

/**
 * CPU the processes use per second while nobody calls them (timers, spinning workers): what
 * the CPU per request under load also contains, shown beside it.
 */
export async function idleCpuPerSecond(pids: number[], ms: number): Promise<number> {
  const cpu0 = cpuMicros(pids);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return (cpuMicros(pids) - cpu0) / ((performance.now() - t0) / 1000);
}
