/**
 * Seeds given by name (kvs/seeds.ts), with real KV nodes on loopback addresses 127.0.0.1-3 (one
 * port, as the pods behind a headless Service): a resolver function stands for DNS (a seam of the
 * code, given a real function whose answers the test changes), and one test goes through the
 * system's resolver with `localhost`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KvClient, lww, Seeds, startKvNode, type KvNode, type KvNodeOptions, type Lookup } from '../../kvs/index.ts';
import { testSecret } from '../helpers/cluster-secret.ts';

const FAST = { heartbeatMs: 50, downAfterMs: 400, antiEntropyMs: 300, joinTimeoutMs: 2000, fsync: 'off' } as const;
const clusterSecret = testSecret();
const te = new TextEncoder();
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function node(opts: Partial<KvNodeOptions>): Promise<KvNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cb-seeds-'));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  const n = await startKvNode({ dataDir, ...FAST, clusterSecret, log: () => undefined, ...opts });
  cleanup.push(() => n.close());
  return n;
}

/** A port free on 127.0.0.1, .2 and .3 (every 127/8 address is this machine's loopback). */
async function portFreeOnAll(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      }).once('error', reject);
    });
    const free = await Promise.all(['127.0.0.2', '127.0.0.3'].map((host) => new Promise<boolean>((resolve) => {
      const s = createServer().once('error', () => resolve(false)).listen(port, host, () => s.close(() => resolve(true)));
    })));
    if (free.every(Boolean)) return port;
  }
  throw new Error('no port free on 127.0.0.1-3');
}

/** A resolver for the name `kv.test` whose answer the test sets; counts its lookups. */
function fakeDns(): { lookup: Lookup; set(addresses: string[]): void; lookups: () => number } {
  let answer: string[] = [];
  let count = 0;
  return {
    lookup: async (name) => {
      count++;
      if (name !== 'kv.test') throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
    set: (a) => (answer = a),
    lookups: () => count,
  };
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Seeds: names resolved to every address', () => {
  it('a name becomes one URL per address (port kept, IPv6 in brackets); literal IPs and https seeds pass through', async () => {
    const dns = fakeDns();
    dns.set(['10.0.0.7', '10.0.0.8', 'fd00::9']);
    const seeds = new Seeds(['http://kv.test:7100/', 'http://10.0.0.1:7100', 'https://kv.test:7443', 'http://[::1]:7100'], { lookup: dns.lookup });
    expect(await seeds.urls()).toEqual(['http://10.0.0.7:7100', 'http://10.0.0.8:7100', 'http://[fd00::9]:7100', 'http://10.0.0.1:7100', 'https://kv.test:7443', 'http://[::1]:7100']);
    expect(dns.lookups()).toBe(1); // the https seed is not looked up (its certificate names kv.test)
  });

  it('looks up again only when the last answer is older than maxAgeMs, or when asked; keeps the last answer when a lookup fails', async () => {
    const dns = fakeDns();
    dns.set(['10.0.0.7']);
    const seeds = new Seeds(['http://kv.test:7100'], { lookup: dns.lookup, maxAgeMs: 60_000 });
    await seeds.urls();
    dns.set(['10.0.0.7', '10.0.0.8']);
    expect(await seeds.urls()).toEqual(['http://10.0.0.7:7100']);
    expect(dns.lookups()).toBe(1);
    expect(await seeds.urls({ fresh: true })).toEqual(['http://10.0.0.7:7100', 'http://10.0.0.8:7100']);
    const broken = new Seeds(['http://kv.test:7100', 'http://gone.test:7100'], { lookup: dns.lookup });
    // A name that never resolved stays as given (its requests carry the resolver's error).
    expect(await broken.urls()).toEqual(['http://10.0.0.7:7100', 'http://10.0.0.8:7100', 'http://gone.test:7100']);
  });
});

describe('KV nodes and clients with a seed name resolving to several addresses', () => {
  it('nodes that started alone find each other when the name resolves to them, without a restart; a third joins by the name', async () => {
    const port = await portFreeOnAll();
    const dns = fakeDns();
    // Two nodes start "at the same time": each sees only itself behind the name, so each starts alone.
    dns.set(['127.0.0.1']);
    const a = await node({ nodeId: 'a', host: '127.0.0.1', port, seeds: [`http://kv.test:${port}`], lookup: dns.lookup, seedResolveMs: 200 });
    dns.set(['127.0.0.2']);
    const b = await node({ nodeId: 'b', host: '127.0.0.2', port, seeds: [`http://kv.test:${port}`], lookup: dns.lookup, seedResolveMs: 200 });
    expect(a.ring().members.map((m) => m.id)).toEqual(['a']);
    expect(b.ring().members.map((m) => m.id)).toEqual(['b']);
    // The name now resolves to both (the Service's endpoints caught up): each looks it up again and merges.
    dns.set(['127.0.0.1', '127.0.0.2']);
    const ids = (n: KvNode): string[] => n.ring().members.filter((m) => m.state === 'up').map((m) => m.id).sort();
    await until(() => ids(a).length === 2 && ids(b).length === 2, 10_000, 'a and b in one ring');
    // A third node given only the name joins the ring of all of them.
    dns.set(['127.0.0.1', '127.0.0.2']);
    const c = await node({ nodeId: 'c', host: '127.0.0.3', port, seeds: [`http://kv.test:${port}`], lookup: dns.lookup, seedResolveMs: 200 });
    await until(() => [a, b, c].every((n) => ids(n).join() === 'a,b,c'), 10_000, 'a, b and c in one ring');

    // A client given the name (resolving first to an address where nobody listens any more)
    // looks the name up again on failure and reaches the cluster.
    const clientDns = fakeDns();
    clientDns.set(['127.0.0.9']);
    const kv = new KvClient({ seeds: [`http://kv.test:${port}`], lookup: clientDns.lookup, clusterSecret, timeoutMs: 3000 });
    cleanup.push(() => kv.close());
    const first = kv.ring(); // the first lookup happens now (127.0.0.9), the retry's after the change
    clientDns.set(['127.0.0.9', '127.0.0.3']);
    const ring = await first;
    expect(ring.members.map((m) => m.id).sort()).toEqual(['a', 'b', 'c']);
    expect(clientDns.lookups()).toBe(2);
    await kv.merge('seed-key', lww.write(te.encode('v'), { ms: 1, c: 0, writer: 'w' }));
    expect(await kv.get('seed-key')).toBeDefined();
  });

  it('through the system resolver: a node seeded by `localhost` joins, and a client seeded by it works', async () => {
    const a = await node({ nodeId: 'la', port: 0 });
    const port = new URL(a.url).port;
    const seeds = await new Seeds([`http://localhost:${port}`]).urls();
    expect(seeds).toContain(`http://127.0.0.1:${port}`); // every address of localhost (::1 too, where the machine has it)
    const b = await node({ nodeId: 'lb', port: 0, seeds: [`http://localhost:${port}`] });
    expect(b.ring().members.map((m) => m.id).sort()).toEqual(['la', 'lb']);
    const kv = new KvClient({ seeds: [`http://localhost:${port}`], clusterSecret });
    cleanup.push(() => kv.close());
    expect((await kv.ring()).members.map((m) => m.id).sort()).toEqual(['la', 'lb']);
  });
});
