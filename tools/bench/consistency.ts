// The paper's consistency experiment (Cloudburst, VLDB 2020, Table 2 / Figure 8), scaled to this
// machine: random chains of 2-5 functions (tools/workload/guests/chain.ts), each step reading two
// keys drawn Zipf 1.0 over a preloaded key space, the sink also writing one, every step placed on
// a random one of 3 host processes, run by 8 concurrent clients, under each consistency mode
// (lww, rr, causal) on the same keys. The modes run in alternating rounds over the same
// requests (same chains, keys read and placements; the key written is drawn per mode from the
// same distribution), so machine noise hits them alike; lww is the baseline of the ratios. Then:
//  - a second run with `?history=1` on every request counts the requests that violated
//    repeatable read and causal order (tools/workload/history.ts) under each mode;
//  - every written key's lattice is read back from the KV tier: the bytes of metadata per key
//    (encoded size minus the value bytes of all its versions), its number of concurrent
//    versions, vector entries and dependencies, grouped by the mode that wrote it last and for
//    keys only ever written in one mode, against keys only preloaded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { Hlc, KvClient, lww, type Lattice } from '../../kvs/index.ts';
import { checkCausal, checkRepeatableRead, countAnomalies, type HistoryEvent } from '../workload/history.ts';
import { rng, zipf } from '../workload/random.ts';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { startLocalCluster } from '../cli/cluster.ts';
import { cpuMs, drainOutboxes, httpServed, keyStats, metricSum, type KeyStats } from './consistency-measures.ts';
import { summarize, type Summary } from './stats.ts';
import { post } from './util.ts';

const HOSTS = 3;
const CLIENTS = 8;
const MODES = ['lww', 'rr', 'causal'] as const;
type Mode = (typeof MODES)[number];
const STEPS = ['chain.s1', 'chain.s2', 'chain.s3', 'chain.s4'];
const SINK = 'chain.sink';

/** The functions of chainL, in order (s1 -> ... -> sink). */
const chainFns = (len: number): string[] => [...STEPS.slice(0, len - 1), SINK];

const keyName = (rank: number): string => `k${rank}`;
const storageKey = (name: string): string => `default/k/${name}`;

/** One request of the workload: a chain, its keys and its placement (the same for every mode). */
interface Spec {
  len: number;
  /** Per function of the chain, the two keys it reads. */
  reads: [string, string][];
  /**
   * The key the sink writes, per mode: drawn alike but separately, so that the tail keys a mode
   * writes are its own (the metadata of keys only ever written in one mode).
   */
  write: Record<Mode, string>;
  placement: Record<string, string>;
  /** Index of the host that receives the call (the coordinator). */
  entry: number;
}

function makeSpecs(count: number, seed: number, pick: (u: number) => number, hostIds: string[]): Spec[] {
  const rand = rng(seed);
  const key = (): string => keyName(pick(rand()));
  const writeRand = MODES.map((_, i) => rng(seed * 7919 + i + 1));
  return Array.from({ length: count }, () => {
    const len = 2 + Math.floor(rand() * 4);
    const fns = chainFns(len);
    const reads = fns.map((): [string, string] => [key(), key()]);
    const placement = Object.fromEntries(fns.map((f) => [f, hostIds[Math.floor(rand() * hostIds.length)]!]));
    const write = Object.fromEntries(MODES.map((m, i) => [m, keyName(pick(writeRand[i]!()))])) as Record<Mode, string>;
    return { len, reads, write, placement, entry: Math.floor(rand() * hostIds.length) };
  });
}

function body(spec: Spec, mode: Mode, value: string): string {
  const fns = chainFns(spec.len);
  const args: Record<string, string[]> = {};
  fns.forEach((f, i) => {
    const [a, b] = spec.reads[i]!;
    args[f] = f === SINK ? [a, b, spec.write[mode], value] : [a, b];
  });
  return JSON.stringify({ args, placement: spec.placement, consistency: mode });
}

interface Sample {
  mode: Mode;
  len: number;
  us: number;
}

interface ModeRun {
  samples: Sample[];
  errors: Map<string, number>;
  firstErrors: string[];
  reruns: number;
  history: HistoryEvent[];
  /** Wall time of the rounds, for the throughput. */
  wallMs: number;
}

const newRun = (): ModeRun => ({ samples: [], errors: new Map(), firstErrors: [], reruns: 0, history: [], wallMs: 0 });

/** Runs `specs` under `mode` with CLIENTS concurrent clients. Records latencies, errors and histories. */
async function runRound(pools: Pool[], specs: Spec[], mode: Mode, run: ModeRun, opts: { history: boolean; record: boolean; writtenBy: Map<string, Mode[]>; seq: { n: number } }): Promise<void> {
  let next = 0;
  const path = `/v1/dags/chain{L}/call${opts.history ? '?history=1' : ''}`;
  const client = async (): Promise<void> => {
    for (let i = next++; i < specs.length; i = next++) {
      const spec = specs[i]!;
      const value = `${mode[0]}${(opts.seq.n++).toString(36).padStart(7, '0')}`;
      const t = process.hrtime.bigint();
      let r: { status: number; text: string };
      try {
        r = await post(pools[spec.entry]!, path.replace('{L}', String(spec.len)), body(spec, mode, value));
      } catch (err) {
        r = { status: 0, text: String(err) };
      }
      const us = Number(process.hrtime.bigint() - t) / 1000;
      let ok = false;
      if (r.status === 200) {
        const out = JSON.parse(r.text) as { result: string; runs: number; history?: HistoryEvent[] };
        // Every step appends `|x,y`: the result shows the request ran the whole chain.
        ok = out.result.split('|').length === spec.len + 1;
        if (!ok) r = { status: 200, text: `unexpected result ${JSON.stringify(out.result)} for chain${spec.len}` };
        else {
          if (out.runs > 1) run.reruns++;
          if (out.history) run.history.push(...out.history);
          const w = opts.writtenBy.get(spec.write[mode]);
          if (w) w.push(mode);
          else opts.writtenBy.set(spec.write[mode], [mode]);
        }
      }
      if (!opts.record) continue;
      if (ok) run.samples.push({ mode, len: spec.len, us });
      else {
        let code = `HTTP ${r.status}`;
        try {
          code = (JSON.parse(r.text) as { error: { code: string } }).error.code;
        } catch { /* not an error body */ }
        run.errors.set(code, (run.errors.get(code) ?? 0) + 1);
        if (run.firstErrors.length < 3) run.firstErrors.push(`${r.status} ${r.text.slice(0, 300)}\n      request: POST ${path.replace('{L}', String(spec.len))} to host ${spec.entry} ${body(spec, mode, value)}`);
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  run.wallMs += performance.now() - t0;
}

/** The modes this cluster accepts: a probe call of chain2 in each. */
async function availableModes(pool: Pool, spec: Spec): Promise<{ modes: Mode[]; refused: Record<string, string> }> {
  const modes: Mode[] = [];
  const refused: Record<string, string> = {};
  for (const mode of MODES) {
    const r = await post(pool, '/v1/dags/chain2/call', body(spec, mode, 'probe000'));
    if (r.status === 200) modes.push(mode);
    else refused[mode] = `${r.status} ${r.text.slice(0, 200)}`;
  }
  return { modes, refused };
}

const fmt = (us: number): string => (us / 1000).toFixed(2).padStart(7);

export async function consistencyBench(quick: boolean): Promise<Record<string, unknown>> {
  const nKeys = quick ? 10_000 : 100_000;
  const perMode = quick ? 100 : 2000;
  const round = quick ? 50 : 200;
  const historyPerMode = quick ? 100 : 600;
  const warm = quick ? 30 : 150;
  const dir = mkdtempSync(join(tmpdir(), 'cb-bench-consistency-'));
  let cluster: { stop(): Promise<void> } | undefined;
  const pools: Pool[] = [];
  let kv: KvClient | undefined;
  try {
    const { wasm } = await buildGuest({ entry: join(PACKAGE_ROOT, 'tools', 'workload', 'guests', 'chain.ts') });
    console.log(`starting a cluster of 1 KV node and ${HOSTS} hosts...`);
    const c = await startLocalCluster({ dataDir: dir, kvsNodes: 1, hosts: HOSTS, hostPort: 0, supervise: false, hostArgs: ['--explore', '0'], log: () => undefined, insecure: true });
    cluster = c;
    const urls = c.file.processes.filter((p) => p.role === 'host').map((p) => p.url);
    const kvUrl = c.file.processes.find((p) => p.role === 'kvs')!.url;
    const hostIds: string[] = [];
    for (const url of urls) {
      for (const deadline = Date.now() + 15_000; ;) {
        const view = (await (await fetch(`${url}/v1/cluster`)).json()) as { host: { id: string }; peers: unknown[] };
        if (view.peers.length === HOSTS - 1) {
          hostIds.push(view.host.id);
          break;
        }
        if (Date.now() > deadline) throw new Error(`host ${url} never saw the others`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    for (const u of urls) pools.push(new Pool(u, { connections: CLIENTS }));
    await (await pools[0]!.request({ method: 'PUT', path: '/v1/modules/chain', body: wasm })).body.text();
    for (let len = 2; len <= 5; len++) {
      const fns = chainFns(len);
      const dag = JSON.stringify({ functions: fns, edges: fns.slice(1).map((f, i) => [fns[i]!, f]) });
      const r = await pools[0]!.request({ method: 'PUT', path: `/v1/dags/chain${len}`, body: dag, headers: { 'content-type': 'application/json' } });
      const text = await r.body.text();
      if (r.statusCode !== 200) throw new Error(`PUT /v1/dags/chain${len}: ${r.statusCode} ${text}`);
    }

    // --- Preload: small values under every key, straight into the KV tier -----------------
    kv = new KvClient({ url: kvUrl, timeoutMs: 60_000, clusterSecret: c.clusterSecret });
    const hlc = new Hlc('bench');
    const tLoad = performance.now();
    const BATCH = 5000;
    for (let from = 0; from < nKeys; from += BATCH * 4) {
      await Promise.all([0, 1, 2, 3].map(async (b) => {
        const start = from + b * BATCH;
        const entries: { key: string; value: Lattice }[] = [];
        for (let r = start; r < Math.min(nKeys, start + BATCH); r++) entries.push({ key: storageKey(keyName(r)), value: lww.write(Buffer.from(`i${r.toString(36).padStart(7, '0')}`), hlc.now()) });
        if (entries.length === 0) return;
        const errs = await kv!.mergeBatch(entries);
        const bad = errs.filter((e) => e !== null);
        if (bad.length > 0) throw new Error(`preload: ${bad.length} keys failed: ${String(bad[0])}`);
      }));
    }
    console.log(`preloaded ${nKeys} keys (8-byte values) in ${((performance.now() - tLoad) / 1000).toFixed(1)} s`);

    const pick = zipf(nKeys, 1.0);
    const probe = makeSpecs(50, 1, pick, hostIds).find((s) => s.len === 2)!;
    const { modes, refused } = await availableModes(pools[0]!, probe);
    for (const [m, why] of Object.entries(refused)) console.log(`mode ${m} is refused, left out: ${why}`);
    if (!modes.includes('lww')) throw new Error('lww calls fail: nothing to compare with');

    /** The modes of the requests that wrote each key, in the order they completed. */
    const writtenBy = new Map<string, Mode[]>();
    const seq = { n: 0 };
    // Warm up: every host compiles, caches the hottest keys, opens its connections.
    const warmRun = newRun();
    for (const mode of modes) await runRound(pools, makeSpecs(warm, 7, pick, hostIds), mode, warmRun, { history: false, record: false, writtenBy, seq });

    // --- Latency: alternating rounds, the same requests under every mode -------------------
    const runs = Object.fromEntries(modes.map((m) => [m, newRun()])) as Record<Mode, ModeRun>;
    // CPU of every platform process (hosts, with their workers, and the KV node), per mode.
    const pids = c.file.processes.map((p) => p.pid);
    const cpu = Object.fromEntries(modes.map((m) => [m, 0])) as Record<Mode, number>;
    // HTTP requests served by the hosts per mode (the call itself, DAG steps, imports, pushes...).
    const served = Object.fromEntries(modes.map((m) => [m, 0])) as Record<Mode, number>;
    const rounds = Math.ceil(perMode / round);
    console.log(`latency: ${rounds} rounds of ${round} requests per mode (${modes.join(', ')}), ${CLIENTS} clients, chains of 2-5 steps over ${HOSTS} hosts, Zipf 1.0 over ${nKeys} keys`);
    const tLat = performance.now();
    for (let r = 0; r < rounds; r++) {
      const specs = makeSpecs(round, 1000 + r, pick, hostIds);
      const order = modes.map((_, i) => modes[(i + r) % modes.length]!);
      for (const mode of order) {
        const servedBefore = await httpServed(urls);
        const before = cpuMs(pids);
        await runRound(pools, specs, mode, runs[mode], { history: false, record: true, writtenBy, seq });
        const after = cpuMs(pids);
        // The metrics reads themselves (one per host) are not the mode's.
        served[mode] += (await httpServed(urls)) - servedBefore - urls.length;
        if (before !== undefined && after !== undefined) cpu[mode] += after - before;
      }
    }
    console.log(`  (${((performance.now() - tLat) / 1000).toFixed(1)} s)`);
    // The causal cut's work over the latency runs, summed over the hosts.
    const cutWork = {
      held: await metricSum(urls, 'cloudburst_causal_held_total'),
      fetches: await metricSum(urls, 'cloudburst_causal_fetches_total'),
      causalRequests: runs.causal?.samples.length ?? 0,
    };

    // --- Anomalies: the same workload, every request recording its history -----------------
    const hist = Object.fromEntries(modes.map((m) => [m, newRun()])) as Record<Mode, ModeRun>;
    const hRounds = Math.ceil(historyPerMode / round);
    for (let r = 0; r < hRounds; r++) {
      const specs = makeSpecs(round, 5000 + r, pick, hostIds);
      const order = modes.map((_, i) => modes[(i + r) % modes.length]!);
      for (const mode of order) await runRound(pools, specs, mode, hist[mode], { history: true, record: true, writtenBy, seq });
    }

    // --- Report ----------------------------------------------------------------------------
    const report: Record<string, unknown> = {
      setup: { keys: nKeys, hosts: HOSTS, clients: CLIENTS, requestsPerMode: rounds * round, roundSize: round, historyRequestsPerMode: hRounds * round, zipf: 1.0, chainLengths: [2, 3, 4, 5] },
      refusedModes: refused,
    };
    const perStep = (s: Sample[]): Summary => summarize(s.map((x) => x.us / x.len));
    const base = perStep(runs.lww.samples);
    console.log('\nlatency per DAG step (request latency / chain length), ms');
    console.log(`${'mode'.padEnd(8)} ${'p50'.padStart(7)} ${'p99'.padStart(7)}   p50/lww  p99/lww     n  errors  re-runs   req/s  cpu ms/req  http/req`);
    const latency: Record<string, unknown> = {};
    for (const mode of modes) {
      const run = runs[mode];
      const s = perStep(run.samples);
      const errs = [...run.errors.values()].reduce((a, b) => a + b, 0);
      const cpuPerRequest = cpu[mode] / Math.max(1, s.n);
      console.log(`${mode.padEnd(8)} ${fmt(s.p50)} ${fmt(s.p99)}   ${(s.p50 / base.p50).toFixed(2).padStart(6)}x ${(s.p99 / base.p99).toFixed(2).padStart(7)}x ${String(s.n).padStart(5)} ${String(errs).padStart(7)} ${String(run.reruns).padStart(8)} ${(s.n / (run.wallMs / 1000)).toFixed(0).padStart(7)} ${cpuPerRequest.toFixed(2).padStart(11)} ${(served[mode] / Math.max(1, s.n)).toFixed(1).padStart(9)}`);
      const byLength: Record<string, Summary> = {};
      for (let len = 2; len <= 5; len++) byLength[`chain${len}`] = summarize(run.samples.filter((x) => x.len === len).map((x) => x.us));
      latency[mode] = { perStep: s, ratioP50: s.p50 / base.p50, ratioP99: s.p99 / base.p99, byLength, errors: Object.fromEntries(run.errors), firstErrors: run.firstErrors, reruns: run.reruns, requestsPerSecond: s.n / (run.wallMs / 1000), cpuMsPerRequest: cpuPerRequest, hostHttpRequestsPerRequest: served[mode] / Math.max(1, s.n) };
    }
    console.log('\nrequest latency by chain length, ms (p50 / p99, ratio to lww at p50)');
    console.log(`${'mode'.padEnd(8)} ${[2, 3, 4, 5].map((l) => `chain${l}`.padEnd(26)).join('')}`);
    for (const mode of modes) {
      const by = (latency[mode] as { byLength: Record<string, Summary> }).byLength;
      const lw = (latency.lww as { byLength: Record<string, Summary> }).byLength;
      console.log(`${mode.padEnd(8)} ${[2, 3, 4, 5].map((l) => {
        const s = by[`chain${l}`]!;
        return `${fmt(s.p50)} /${fmt(s.p99)} ${(s.p50 / lw[`chain${l}`]!.p50).toFixed(2)}x`.padEnd(26);
      }).join('')}`);
    }
    report.latency = latency;
    report.cutWork = cutWork;
    console.log(`\nthe causal cut over the latency runs (all hosts): ${cutWork.held} values held until their dependencies were visible, ${cutWork.fetches} dependency fetches (${(cutWork.fetches / Math.max(1, cutWork.causalRequests)).toFixed(2)} per causal request)`);

    // Causal order is checked twice: on each mode's requests alone (a version written by a
    // request of another mode then has no known dependencies), and on the whole history, the
    // modes' requests together as they ran on the same keys (a violation is the reading
    // request's, counted under its mode).
    const all = modes.flatMap((m) => hist[m].history);
    const modeOf = new Map<string, Mode>();
    for (const m of modes) for (const e of hist[m].history) modeOf.set(e.rid, m);
    const together = checkCausal(all);
    console.log('\nanomalies: requests recorded with ?history=1 that violated repeatable read / causal order');
    console.log(`${'mode'.padEnd(8)} requests   rr violations   causal (own mode's history)   causal (all modes' history)   errors`);
    const anomalies: Record<string, unknown> = {};
    for (const mode of modes) {
      const run = hist[mode];
      const a = countAnomalies(run.history);
      const mixed = new Set(together.filter((v) => modeOf.get(v.rid) === mode).map((v) => v.rid)).size;
      const rrExample = checkRepeatableRead(run.history)[0];
      const causalExample = checkCausal(run.history)[0] ?? together.find((v) => modeOf.get(v.rid) === mode);
      const errs = [...run.errors.values()].reduce((x, y) => x + y, 0);
      const pct = (n: number): string => `${String(n).padStart(4)} (${((100 * n) / Math.max(1, a.requests)).toFixed(1).padStart(4)}%)`;
      console.log(`${mode.padEnd(8)} ${String(a.requests).padStart(8)}   ${pct(a.rr).padEnd(13)}   ${pct(a.causal).padEnd(27)}   ${pct(mixed).padEnd(27)}   ${errs}`);
      anomalies[mode] = {
        requests: a.requests, rrViolating: a.rr, causalViolating: a.causal, causalViolatingAllModes: mixed,
        errors: Object.fromEntries(run.errors), firstErrors: run.firstErrors,
        ...(rrExample ? { rrExample } : {}), ...(causalExample ? { causalExample } : {}),
      };
      if ((mode !== 'lww' && a.rr > 0) || (mode === 'causal' && (a.causal > 0 || mixed > 0))) {
        console.log(`  ${mode} requests violated ${a.rr > 0 ? 'repeatable read' : 'causal order'}; the first: ${JSON.stringify(a.rr > 0 ? rrExample : causalExample)}`);
      }
    }
    report.anomalies = anomalies;

    // --- Metadata per key: every written key's lattice, from the KV tier --------------------
    const left = await drainOutboxes(urls, 20_000);
    if (left > 0) console.log(`warning: ${left} writes still in the hosts' outboxes after 20 s`);
    // Keys by the mode of their last write, then keys only ever written in one mode.
    const groups: Record<string, string[]> = {};
    const add = (g: string, k: string): void => void (groups[g] ??= []).push(k);
    for (const m of modes) groups[`last ${m}`] = [];
    for (const [k, ms] of writtenBy) add(`last ${ms[ms.length - 1]!}`, k);
    for (const m of modes) groups[`only ${m}`] = [];
    for (const [k, ms] of writtenBy) if (ms.every((x) => x === ms[0])) add(`only ${ms[0]!}`, k);
    // Baseline: keys never written by the workload (only preloaded), up to 2000 of them.
    const unwritten: string[] = [];
    for (let r = nKeys - 1; r >= 0 && unwritten.length < 2000; r--) if (!writtenBy.has(keyName(r))) unwritten.push(keyName(r));
    groups['preloaded only'] = unwritten;
    console.log('\nmetadata per key in the KV tier (encoded lattice minus the value bytes of its versions), by the mode that wrote it last ("last") and for keys only ever written in one mode ("only")');
    console.log(`${'written by'.padEnd(16)} ${'keys'.padStart(6)}  meta p50  meta p99  meta max   versions p50  max  with siblings   causal keys  vc entries p50/max  deps p50/max`);
    const metadata: Record<string, KeyStats> = {};
    for (const [group, keys] of Object.entries(groups)) {
      const lattices: Lattice[] = [];
      for (let i = 0; i < keys.length; i += 1000) {
        const got = await kv.getBatch(keys.slice(i, i + 1000).map(storageKey));
        for (const l of got) if (l !== undefined) lattices.push(l);
      }
      if (lattices.length === 0) continue;
      const st = keyStats(lattices);
      metadata[group] = st;
      console.log(`${group.padEnd(16)} ${String(st.keys).padStart(6)} ${String(st.metaBytes.p50).padStart(8)}B ${String(st.metaBytes.p99).padStart(8)}B ${String(st.metaBytes.max).padStart(8)}B   ${String(st.versions.p50).padStart(12)} ${String(st.versions.max).padStart(4)}  ${String(st.versions.withSiblings).padStart(13)}   ${String(st.causalKeys).padStart(11)}  ${`${st.vcEntries.p50}/${st.vcEntries.max}`.padStart(18)}  ${`${st.deps.p50}/${st.deps.max}`.padStart(12)}`);
    }
    report.metadata = metadata;
    return report;
  } finally {
    await kv?.close();
    for (const p of pools) await p.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
