// The directory of hosts (host/cluster/directory.ts) over a real KV node: which peers it takes
// for dead, and when it says so (`onLost`: the calls forwarded there are then cut and placed
// again, host/cluster/peer-link.ts). Each directory has its own clock, so that a record's age is
// the test's to choose.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hlc, KvClient, startKvNode, type KvNode } from '../../kvs/index.ts';
import { Directory, type HostRecord } from '../../host/cluster/directory.ts';
import { testSecret } from '../helpers/cluster-secret.ts';

const clusterSecret = testSecret();
let dir: string;
let node: KvNode;
let kv: KvClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cb-directory-'));
  node = await startKvNode({ dataDir: dir, clusterSecret, log: () => undefined });
  kv = new KvClient({ url: node.url, clusterSecret });
});
afterAll(async () => {
  await kv?.close();
  await node?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A directory of host `id` at `url` (not started: the test beats it), with a clock of its own. */
function host(id: string, url: string): { dir: Directory; clock: { now: number }; lost: string[] } {
  const clock = { now: Date.now() };
  const lost: string[] = [];
  const record = (): Omit<HostRecord, 'updatedAt'> => ({ id, url, utilization: 0, queued: 0, keys: 0, summary: '' });
  const d = new Directory({
    kv, hlc: new Hlc(`h-${id}/main`), self: record, staleMs: 3000, clock: () => clock.now,
    onLost: (peer, why) => lost.push(`${peer.id} ${peer.url}: ${why}`),
  });
  return { dir: d, clock, lost };
}

describe('directory: peers taken for dead', () => {
  it('a peer whose record goes stale is lost once, on the first beat that reads the directory after', async () => {
    const a = host('a00000000001', 'http://10.0.0.1:7070');
    const b = host('b00000000001', 'http://10.0.0.2:7070');
    await b.dir.refresh();
    await a.dir.refresh();
    expect(a.dir.peers().map((p) => p.id)).toContain('b00000000001');
    // B stops publishing (its link is cut); A's time runs on past the stale limit.
    a.clock.now += 3500;
    expect(a.lost).toEqual([]);
    await a.dir.refresh();
    expect(a.lost).toHaveLength(1);
    expect(a.lost[0]).toMatch(/^b00000000001 http:\/\/10\.0\.0\.2:7070: its last record is \d+ ms old/);
    await a.dir.refresh();
    expect(a.lost).toHaveLength(1);
    // B publishes again: live, and lost again only after going stale again.
    b.clock.now = a.clock.now;
    await b.dir.refresh();
    await a.dir.refresh();
    expect(a.dir.peers().map((p) => p.id)).toContain('b00000000001');
    expect(a.lost).toHaveLength(1);
  });

  it('a peer a request failed to reach is lost at once; one whose record says it stopped is not (it drains)', async () => {
    const a = host('a00000000002', 'http://10.0.0.3:7070');
    const b = host('b00000000002', 'http://10.0.0.4:7070');
    const c = host('c00000000002', 'http://10.0.0.5:7070');
    for (const h of [b, c, a]) await h.dir.refresh();
    expect(a.dir.peers().map((p) => p.id)).toEqual(expect.arrayContaining(['b00000000002', 'c00000000002']));
    // (The records of the other tests' hosts are in the same tier: only this test's are looked at.)
    const mine = (): string[] => a.lost.filter((l) => /^[bc]00000000002 /.test(l));
    a.dir.markUnreachable('b00000000002', 'http://10.0.0.4:7070');
    expect(mine()).toEqual(['b00000000002 http://10.0.0.4:7070: a request to it failed after its last record']);
    await c.dir.close();
    await a.dir.refresh();
    expect(a.dir.absence('c00000000002')).toBe('it stopped');
    expect(mine()).toHaveLength(1);
  });

  it('a peer whose URL a live peer took over (it restarted there) is not lost: requests to that URL reach the new one', async () => {
    const a = host('a00000000003', 'http://10.0.0.6:7070');
    const old = host('d00000000003', 'http://10.0.0.7:7070');
    await old.dir.refresh();
    await a.dir.refresh();
    const again = host('e00000000003', 'http://10.0.0.7:7070');
    again.clock.now = a.clock.now + 3500;
    await again.dir.refresh();
    a.clock.now += 3500;
    await a.dir.refresh();
    expect(a.dir.peers().map((p) => p.id)).toContain('e00000000003');
    expect(a.dir.absence('d00000000003')).toMatch(/old/);
    expect(a.lost.filter((l) => l.startsWith('d00000000003'))).toEqual([]);
  });
});
