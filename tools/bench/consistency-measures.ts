// What the consistency bench (consistency.ts) measures besides latency, read off the running
// platform: the CPU time of its processes, the hosts' metrics summed, and the metadata each
// key's lattice carries in the KV tier.
import { readFileSync } from 'node:fs';
import { encode, versionsOf, type Lattice } from '../../kvs/index.ts';
import { summarize, type Summary } from './stats.ts';

/** CPU time (user + system, ms) used so far by these processes, from /proc; undefined elsewhere. */
export function cpuMs(pids: readonly number[]): number | undefined {
  try {
    let ticks = 0;
    for (const pid of pids) {
      // Fields after the command name (which may contain spaces): utime and stime are the 12th and 13th.
      const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(rest[11]) + Number(rest[12]);
    }
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** A metric summed over the hosts' `/metrics`. */
export async function metricSum(urls: string[], name: string): Promise<number> {
  const values = await Promise.all(urls.map(async (u) => {
    const text = await (await fetch(`${u}/metrics`)).text();
    return Number(new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  }));
  return values.reduce((a, b) => a + b, 0);
}

/** HTTP requests the hosts have served so far (every method and status), summed. */
export async function httpServed(urls: string[]): Promise<number> {
  let n = 0;
  for (const u of urls) {
    const text = await (await fetch(`${u}/metrics`)).text();
    for (const m of text.matchAll(/^cloudburst_http_requests_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  }
  return n;
}

/** Waits until no host has writes left in its outbox (the KV tier then has every write). */
export async function drainOutboxes(urls: string[], timeoutMs: number): Promise<number> {
  const t = Date.now();
  for (;;) {
    const total = await metricSum(urls, 'cloudburst_outbox_keys');
    if (total === 0 || Date.now() - t > timeoutMs) return total;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The metadata of a group of keys' lattices, per key (lww keys only: the others carry none). */
export interface KeyStats {
  keys: number;
  metaBytes: Summary & { max: number };
  versions: { p50: number; max: number; withSiblings: number };
  /** Keys whose versions carry causal metadata; per such version, vector entries and dependencies. */
  causalKeys: number;
  vcEntries: { p50: number; max: number };
  deps: { p50: number; max: number };
}

export function keyStats(lattices: Lattice[]): KeyStats {
  const meta: number[] = [];
  const versions: number[] = [];
  const vc: number[] = [];
  const deps: number[] = [];
  let causalKeys = 0;
  for (const l of lattices) {
    if (l.type !== 'lww') continue;
    const vs = versionsOf(l);
    meta.push(encode(l).byteLength - vs.reduce((a, v) => a + v.value.byteLength, 0));
    versions.push(vs.length);
    if (vs.some((v) => v.causal)) causalKeys++;
    for (const v of vs) {
      if (!v.causal) continue;
      vc.push(v.causal.vc.length + 1);
      deps.push(v.causal.deps.length);
    }
  }
  const p50max = (xs: number[]): { p50: number; max: number } => ({ p50: xs.length ? summarize(xs).p50 : 0, max: Math.max(0, ...xs) });
  return {
    keys: meta.length, metaBytes: { ...summarize(meta), max: Math.max(0, ...meta) },
    versions: { ...p50max(versions), withSiblings: versions.filter((n) => n > 1).length },
    causalKeys, vcEntries: p50max(vc), deps: p50max(deps),
  };
}
