/**
 * A host's flushed write is not pushed back to it: a batch merge that names its writer's
 * subscriber URL (KV_HEADERS.origin) skips the push to that subscriber when the committed value
 * is exactly what it sent, and only then. A real KV node, a real HTTP subscriber.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { counter, decode, decodeFrame, KvClient, merge, startKvNode, type Counter, type Lattice } from '../../../kvs/index.ts';
import { testSecret } from '../../helpers/cluster-secret.ts';

const clusterSecret = testSecret();
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

/** Pushes received, by subscriber path: key -> the values pushed, in order. */
async function subscriberServer(): Promise<{ url: string; pushes: Map<string, { key: string; value: Lattice }[]> }> {
  const pushes = new Map<string, { key: string; value: Lattice }[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const who = (req.url ?? '').split('/')[1]!;
      const list = pushes.get(who) ?? [];
      for (const { key, value } of decodeFrame(Buffer.concat(chunks))) list.push({ key, value: decode(value!) });
      pushes.set(who, list);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pushes };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Longer than the node's push batching (a few ms): a push that was due has arrived. */
const SETTLE_MS = 300;

describe('KV node: no echo of a subscriber own write', () => {
  it('a batch naming its origin is pushed to the other subscribers, not to the origin; a merge that changes what the origin sent is pushed to it', async () => {
    const d = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-echo-'));
    cleanup.push(() => rm(d, { recursive: true, force: true }));
    const n = await startKvNode({ dataDir: d, fsync: 'off', clusterSecret, log: () => undefined });
    cleanup.push(() => n.close());
    const kv = new KvClient({ url: n.url, clusterSecret });
    cleanup.push(() => kv.close());
    const { url, pushes } = await subscriberServer();
    const a = `${url}/a`;
    const b = `${url}/b`;
    await kv.subscribe(a, ['e/k'], 60_000);
    await kv.subscribe(b, ['e/k'], 60_000);

    // A flushes its write: B hears of it, A does not (it has it).
    const fromA = counter.add(undefined, 'host-a', 1n);
    expect(await kv.mergeBatch([{ key: 'e/k', value: fromA }], { origin: a })).toEqual([null]);
    await until(() => (pushes.get('b')?.length ?? 0) === 1);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    expect(pushes.get('a')).toBeUndefined();
    expect(counter.total(pushes.get('b')![0]!.value as Counter)).toBe(1n);

    // B writes its whole cached value (A's share and its own, naming itself): now A is pushed
    // B's change, B is not.
    const fromB = merge(fromA, counter.add(fromA, 'host-b', 1n));
    expect(await kv.mergeBatch([{ key: 'e/k', value: fromB }], { origin: b })).toEqual([null]);
    await until(() => (pushes.get('a')?.length ?? 0) === 1);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    expect(pushes.get('b')!.length).toBe(1);

    // A sends its value without B's share (as if it had not absorbed B's push yet): the merged
    // value holds B's share too, which is not what A sent, so A is pushed it (and so is B).
    const pushedA = pushes.get('a')!.length;
    expect(await kv.mergeBatch([{ key: 'e/k', value: counter.add(fromA, 'host-a', 1n) }], { origin: a })).toEqual([null]);
    await until(() => pushes.get('a')!.length === pushedA + 1 && pushes.get('b')!.length === 2);
    expect(counter.total(pushes.get('a')!.at(-1)!.value as Counter)).toBe(3n);

    // A writer that names no origin is pushed to every subscriber.
    const latest = pushes.get('a')!.at(-1)!.value as Counter;
    await kv.merge('e/k', counter.add(latest, 'other', 1n));
    await until(() => pushes.get('a')!.length === pushedA + 2 && pushes.get('b')!.length === 3);
  });
});
