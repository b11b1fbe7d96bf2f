// The KV tier's figures (issue: the replicated lattice KV tier), with Redis measured in the
// same run as the baseline a user would otherwise pick:
//  - put/get latency (p50/p99) and throughput of 1 KiB values: Redis, 1 node, 3 nodes N=3
//    with W=1 and W=2 (every node its own process, `cloudburst kvs`);
//  - replica convergence after writes stop; cache staleness through subscriptions (a client's
//    subscription on every replica, and one node's subscription to writes through another);
//  - the cost of a failure: throughput and errors through a kill -9 of one node.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hlc, KV_CONTENT_TYPES, KV_PATHS, KvClient, decode, decodeFrame, encode, keyPath, lww } from '../../kvs/index.ts';
// @ts-expect-error plain JS module without types (it also runs as a server for the locality bench)
import { Resp } from './redis-fn.mjs';
import { redisServer } from './locality.ts';
import { summarize, type Summary } from './stats.ts';
import { signRequest } from '../../common/index.ts';
import { benchClusterSecret } from './util.ts';
import { KV_VALUE, kvPut, latency, type RespClient, startKvNodes, throughput } from './kv-nodes.ts';
import { startHttpFloor } from './http-floor.ts';

/** p50s as multiples of Redis's (the goals of issue 14 are in these terms). */
const vsRedis = (fig: { put: Summary; get: Summary }, redis: { put: Summary; get: Summary }): string =>
  `p50 vs Redis: put ${(fig.put.p50 / redis.put.p50).toFixed(1)}x, get ${(fig.get.p50 / redis.get.p50).toFixed(1)}x`;

const fmt = (s: Summary): string => `p50 ${s.p50.toFixed(0).padStart(6)} us  p99 ${s.p99.toFixed(0).padStart(6)} us`;

// The nodes' cluster secret: every request to them is signed with it (kvs/README.md, "Authentication").
const SECRET = benchClusterSecret();

const startNodes = (dir: string, count: number, children: ChildProcess[], extra: string[] = []) => startKvNodes(dir, count, children, SECRET, extra);

export async function kvsBench(quick: boolean): Promise<Record<string, unknown>> {
  const n = quick ? 500 : 3000;
  const seconds = quick ? 1000 : 3000;
  const dir = mkdtempSync(join(tmpdir(), 'cb-kvsbench-'));
  const children: ChildProcess[] = [];
  const report: Record<string, unknown> = {};
  const hlc = new Hlc('bench');
  const put = (kv: KvClient, key: string) => kvPut(kv, hlc, key);
  try {
    // Redis (no persistence, as a cache would run it)
    const redisPort = 20000 + Math.floor(Math.random() * 20000);
    children.push(spawn(redisServer(), ['--port', String(redisPort), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 300));
    const redisConns = (await Promise.all(Array.from({ length: 16 }, () => Resp.open(redisPort)))) as RespClient[];
    const r0 = redisConns[0]!;
    const redis = {
      put: await latency(n, (i) => r0.send(['SET', `k${i % 1000}`, KV_VALUE])),
      get: await latency(n, (i) => r0.send(['GET', `k${i % 1000}`])),
      // Worker w (i / 1e6) uses connection w: 16 clients, like the pools below.
      putRps: await throughput(seconds, 16, (i) => redisConns[Math.floor(i / 1_000_000) % 16]!.send(['SET', `k${i % 1000}`, KV_VALUE])),
    };
    report.redis = redis;
    console.log(`redis               put ${fmt(redis.put)} | get ${fmt(redis.get)} | put ${redis.putRps.toFixed(0)} req/s at concurrency 16`);

    // The HTTP floor: what any KV node spoken to over HTTP (undici) pays before doing anything.
    const floorClient = await startHttpFloor(children, 16);
    const floor = {
      put: await latency(n, (i) => floorClient.put(`k${i % 1000}`, KV_VALUE)),
      get: await latency(n, (i) => floorClient.get(`k${i % 1000}`)),
      putRps: await throughput(seconds, 16, (i) => floorClient.put(`k${i % 1000}`, KV_VALUE)),
    };
    report.httpFloor = floor;
    console.log(`HTTP floor          put ${fmt(floor.put)} | get ${fmt(floor.get)} | put ${floor.putRps.toFixed(0)} req/s (${(floor.putRps / redis.putRps * 100).toFixed(0)}% of Redis; ${vsRedis(floor, redis)})`);
    await floorClient.close();

    // One node: with the default fsync (every acknowledged write is on disk) and without
    // (acknowledged writes survive kill -9, not a power cut: Redis here keeps nothing at all).
    for (const fsync of ['batch', 'off']) {
      const one = await startNodes(join(dir, `one-${fsync}`), 1, children, ['--fsync', fsync]);
      const c1 = new KvClient({ url: one.urls[0]!, connections: 16, clusterSecret: SECRET });
      await put(c1, 'warm');
      const single = {
        put: await latency(n, (i) => put(c1, `k${i % 1000}`)),
        get: await latency(n, (i) => c1.get(`k${i % 1000}`)),
        putRps: await throughput(seconds, 16, (i) => put(c1, `k${i % 1000}`)),
      };
      report[`oneNodeFsync${fsync}`] = single;
      console.log(`1 node, fsync ${fsync.padEnd(5)} put ${fmt(single.put)} | get ${fmt(single.get)} | put ${single.putRps.toFixed(0)} req/s (${(single.putRps / redis.putRps * 100).toFixed(0)}% of Redis; ${vsRedis(single, redis)})`);
      await c1.close();
    }

    // Three nodes, N=3
    const three = await startNodes(join(dir, 'three'), 3, children);
    for (const w of [1, 2]) {
      const c = new KvClient({ seeds: three.urls, connections: 16, writeQuorum: w, clusterSecret: SECRET });
      await put(c, 'warm');
      const fig = {
        put: await latency(n, (i) => put(c, `w${w}-${i % 1000}`)),
        get: await latency(n, (i) => c.get(`w${w}-${i % 1000}`)),
        putRps: await throughput(seconds, 16, (i) => put(c, `w${w}-${i % 1000}`)),
      };
      report[`threeNodesW${w}`] = fig;
      console.log(`3 nodes N=3 W=${w}    put ${fmt(fig.put)} | get ${fmt(fig.get)} | put ${fig.putRps.toFixed(0)} req/s (${(fig.putRps / redis.putRps * 100).toFixed(0)}% of Redis; ${vsRedis(fig, redis)})`);
      await c.close();
    }

    // Convergence: 2,000 keys written with W=1, then the time until every replica has all of them.
    const w1 = new KvClient({ seeds: three.urls, connections: 16, writeQuorum: 1, clusterSecret: SECRET });
    const keys = Array.from({ length: 2000 }, (_, i) => `conv-${i}`);
    for (let i = 0; i < keys.length; i += 100) await w1.mergeBatch(keys.slice(i, i + 100).map((key) => ({ key, value: lww.write(KV_VALUE, hlc.now()) })));
    const stopped = performance.now();
    const stats = async (url: string): Promise<number> => ((await (await fetch(`${url}${KV_PATHS.stats}`, { headers: signRequest(SECRET, 'GET', KV_PATHS.stats) })).json()) as { keys: number }).keys;
    const target = await Promise.all(three.urls.map(stats));
    let converged = Number.NaN;
    for (let t = 0; t < 10_000; t += 5) {
      const counts = await Promise.all(three.urls.map(stats));
      if (counts.every((c) => c === counts[0]) && counts[0]! >= Math.max(...target)) {
        converged = performance.now() - stopped;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    report.convergenceMs = converged;
    console.log(`replica convergence after 2,000 W=1 writes stop: ${converged.toFixed(0)} ms (every node holds every key)`);

    // Staleness: a subscriber (a host would be one) gets each change pushed.
    const arrivals = new Map<string, number>();
    const sub = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        for (const e of decodeFrame(Buffer.concat(chunks))) {
          if (e.value) {
            const v = decode(e.value);
            if (v.type === 'lww') arrivals.set(Buffer.from(v.value).toString(), performance.now());
          }
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => sub.listen(0, '127.0.0.1', () => r()));
    const subUrl = `http://127.0.0.1:${(sub.address() as { port: number }).port}`;
    await w1.subscribe(subUrl, ['fresh'], 60_000);
    const writer = new KvClient({ url: three.urls[2]!, writeQuorum: 2, clusterSecret: SECRET });
    const stale: number[] = [];
    for (let i = 0; i < (quick ? 50 : 200); i++) {
      const tag = `v${i}`;
      const t0 = performance.now();
      await writer.merge('fresh', lww.write(Buffer.from(tag), hlc.now()));
      while (!arrivals.has(tag) && performance.now() - t0 < 2000) await new Promise((r) => setImmediate(r));
      stale.push(((arrivals.get(tag) ?? Number.NaN) - t0) * 1000);
    }
    const staleness = summarize(stale);
    report.stalenessUs = staleness;
    console.log(`cache staleness through subscriptions (write -> push received): ${fmt(staleness)}`);
    await w1.unsubscribe(subUrl, ['fresh']);

    // The same, subscribed on one node only and written through another: the change reaches
    // the subscriber through replication, then the push (kvs/README.md "Subscriptions").
    const relayed: number[] = [];
    const subscriptions = async (body: Record<string, unknown>): Promise<void> => {
      const res = await fetch(`${three.urls[0]!}${KV_PATHS.subscriptions}`, { method: 'POST', headers: { 'content-type': 'application/json', ...signRequest(SECRET, 'POST', KV_PATHS.subscriptions) }, body: JSON.stringify({ subscriber: subUrl, keys: ['relayed'], ...body }) });
      if (res.status !== 200) throw new Error(`subscribe on one node: ${res.status} ${await res.text()}`);
    };
    await subscriptions({ ttlMs: 60_000 });
    for (let i = 0; i < (quick ? 50 : 200); i++) {
      const tag = `r${i}`;
      const t0 = performance.now();
      const res = await fetch(`${three.urls[1]!}${keyPath('relayed')}`, { method: 'PUT', headers: { 'content-type': KV_CONTENT_TYPES.lattice, ...signRequest(SECRET, 'PUT', keyPath('relayed')) }, body: Buffer.from(encode(lww.write(Buffer.from(tag), hlc.now()))) });
      if (res.status !== 200) throw new Error(`write through another node: ${res.status} ${await res.text()}`);
      while (!arrivals.has(tag) && performance.now() - t0 < 2000) await new Promise((r) => setImmediate(r));
      relayed.push(((arrivals.get(tag) ?? Number.NaN) - t0) * 1000);
    }
    const relayedStaleness = summarize(relayed);
    report.relayedStalenessUs = relayedStaleness;
    console.log(`push when subscribed on one node, written through another:     ${fmt(relayedStaleness)}`);
    await subscriptions({ unsubscribe: true });
    sub.close();
    await writer.close();

    // A failure: W=2 writes at concurrency 16 while one node is killed with -9.
    const w2 = new KvClient({ seeds: three.urls, connections: 16, writeQuorum: 2, timeoutMs: 2000, clusterSecret: SECRET });
    const windows: number[] = [];
    let errors = 0;
    let ok = 0;
    const start = performance.now();
    const ticker = setInterval(() => {
      windows.push(ok);
      ok = 0;
    }, 500);
    const killAt = setTimeout(() => process.kill(three.pids[1]!, 'SIGKILL'), 2000);
    await Promise.all(Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; performance.now() - start < 6000; i++) {
        try {
          await put(w2, `fail-${w}-${i % 200}`);
          ok++;
        } catch {
          errors++;
        }
      }
    }));
    clearInterval(ticker);
    clearTimeout(killAt);
    const rps = windows.map((x) => x * 2);
    report.failure = { rpsPerHalfSecond: rps, errors };
    console.log(`kill -9 of one of 3 nodes at t=2 s, W=2, concurrency 16: req/s per 0.5 s window ${rps.join(' ')}; errors ${errors}`);
    await w2.close();
    await w1.close();
    for (const r of redisConns) r.close();
    return report;
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
}
