import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import {
  counter,
  equals,
  gset,
  KvClient,
  KV_LIMITS,
  lww,
  max,
  startKvNode,
  type Counter,
  type GSet,
  type KvNode,
  type Lattice,
} from '../../kvs/index.ts';
import { storeContract } from '../helpers/store-contract.ts';
import { testSecret } from '../helpers/cluster-secret.ts';

const te = new TextEncoder();

async function failure(p: Promise<unknown>): Promise<CloudburstError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CloudburstError);
  return err as CloudburstError;
}

let dir: string;
let node: KvNode;
let kv: KvClient;
const clusterSecret = testSecret();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-client-'));
  node = await startKvNode({ dataDir: dir, clusterSecret });
  kv = new KvClient({ url: node.url, clusterSecret });
});

afterAll(async () => {
  await kv?.close();
  await node?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('KvClient', () => {
  it('KvClient: merge, get and getEncoded round trip', async () => {
    const merged = await kv.merge('c/1', counter.add(undefined, 'a', 4n));
    expect(counter.total(merged as Counter)).toBe(4n);
    expect(counter.total((await kv.merge('c/1', counter.add(undefined, 'b', 1n))) as Counter)).toBe(5n);
    expect(counter.total((await kv.get('c/1')) as Counter)).toBe(5n);
    expect(await kv.get('c/absent')).toBeUndefined();
    expect(await kv.getEncoded('c/absent')).toBeUndefined();
  });

  it('KvClient: error responses become the node\'s CloudburstError', async () => {
    await kv.merge('c/typed', max.put(undefined, 1n));
    const err = await failure(kv.merge('c/typed', gset.add(undefined, te.encode('x'))));
    expect(err.code).toBe('KV_TYPE_MISMATCH');
    expect(err.status).toBe(409);
  });

  it('KvClient: invalid keys fail locally with INVALID_KEY', async () => {
    expect((await failure(kv.get(''))).code).toBe('INVALID_KEY');
    expect((await failure(kv.merge('\ud800', max.put(undefined, 1n)))).code).toBe('INVALID_KEY');
    expect((await failure(kv.getBatch(['ok', 'x'.repeat(2000)]))).code).toBe('INVALID_KEY');
  });

  it('KvClient: mergeBatch reports per entry, aligned with the input', async () => {
    await kv.merge('mb/typed', max.put(undefined, 1n));
    const entries: { key: string; value: Lattice }[] = [
      { key: 'mb/1', value: gset.add(undefined, te.encode('a')) },
      { key: 'mb/typed', value: lww.write(te.encode('x'), { ms: 1, c: 0, writer: 'w' }) },
      { key: '', value: max.put(undefined, 1n) },
      { key: 'mb/2', value: { type: 'set', epoch: { ms: 0, c: 0, writer: '' }, members: [Uint8Array.of(2), Uint8Array.of(1)] } },
      { key: 'mb/1', value: gset.add(undefined, te.encode('b')) },
    ];
    const results = await kv.mergeBatch(entries);
    expect(results.map((r) => r?.code ?? null)).toEqual([null, 'KV_TYPE_MISMATCH', 'INVALID_KEY', 'KV_BAD_VALUE', null]);
    expect(results[1]).toBeInstanceOf(CloudburstError);
    expect(((await kv.get('mb/1')) as GSet).members).toHaveLength(2);
    expect(await kv.mergeBatch([])).toEqual([]);
  });

  it('KvClient: getBatch returns values aligned with keys', async () => {
    const v = lww.write(te.encode('v'), { ms: 5, c: 0, writer: 'w' });
    await kv.merge('gb/1', v);
    const [missing, got, again] = await kv.getBatch(['gb/none', 'gb/1', 'gb/1']);
    expect(missing).toBeUndefined();
    expect(equals(got!, v) && equals(again!, v)).toBe(true);
    expect(await kv.getBatch([])).toEqual([]);
  });
});

// The client and the node behind it hold to the store contract: every handle is a node on the
// folder and a client of it, so reopening restarts the node on what the last one wrote.
storeContract({
  name: 'KvClient',
  maxValueBytes: KV_LIMITS.maxValueBytes,
  open: async (dataDir) => {
    const node = await startKvNode({ dataDir, clusterSecret });
    const client = new KvClient({ url: node.url, clusterSecret });
    return {
      merge: (key, value) => client.merge(key, value),
      get: (key) => client.get(key),
      getEncoded: (key) => client.getEncoded(key),
      close: async () => {
        await client.close();
        await node.close();
      },
    };
  },
});

describe('KvClient failures', () => {
  let silent: Server;
  let silentUrl: string;
  beforeAll(async () => {
    // Accepts requests and never answers: the client's deadline must fire.
    silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('KvClient: an unreachable node is KV_UNAVAILABLE', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const client = new KvClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 1000 });
    try {
      const err = await failure(client.get('k'));
      expect(err.code).toBe('KV_UNAVAILABLE');
      expect(err.cause).toBeDefined();
    } finally {
      await client.close();
    }
  });

  it('KvClient: a node that does not answer in time is KV_UNAVAILABLE', async () => {
    const client = new KvClient({ url: silentUrl, timeoutMs: 150 });
    try {
      // The silent node never answers: only the client's own timeout ends the merge, and
      // its message names that timeout (a hang would fail the test at vitest's limit).
      const err = await failure(client.merge('k', max.put(undefined, 1n)));
      expect(err.code).toBe('KV_UNAVAILABLE');
      expect(err.message).toMatch(/did not answer within 150 ms/);
    } finally {
      await client.close();
    }
  });

  it('KvClient: a non-JSON error response still becomes a CloudburstError', async () => {
    const odd = createServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway');
    });
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    const client = new KvClient({ url: `http://127.0.0.1:${(odd.address() as AddressInfo).port}` });
    try {
      expect((await failure(client.get('k'))).code).toBe('KV_UNAVAILABLE');
    } finally {
      await client.close();
      odd.closeAllConnections();
      await new Promise((resolve) => odd.close(resolve));
    }
  });
});
