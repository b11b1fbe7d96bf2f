/**
 * The binary wire against one real node (kvs/wire/): the same answers as HTTP for every op
 * (values, absences, per-entry errors, refusals), hostile frames on a raw upgraded socket,
 * a refused upgrade, and the fallback to HTTP for a node that does not take the upgrade.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { counter, encode, gset, KV_LIMITS, KvClient, lww, startKvNode, type KvNode } from '../../kvs/index.ts';
import { requestHead, WIRE_OPS, WIRE_PATH, WIRE_PROTOCOL } from '../../kvs/wire/frame.ts';
import { signedHeaders, signedFetch, testSecret } from '../helpers/cluster-secret.ts';

const clusterSecret = testSecret();
const s = (ms: number) => ({ ms, c: 0, writer: 'w' });
let dir: string;
let node: KvNode;
let binary: KvClient;
let http: KvClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudburst-kv-wire-'));
  node = await startKvNode({ dataDir: join(dir, 'a'), port: 0, nodeId: 'kv-wire', clusterSecret });
  binary = new KvClient({ url: node.url, clusterSecret, wire: 'binary' });
  http = new KvClient({ url: node.url, clusterSecret, wire: 'http' });
});

afterAll(async () => {
  await binary?.close();
  await http?.close();
  await node?.close();
  await rm(dir, { recursive: true, force: true });
});

async function stats(n: KvNode): Promise<{ wire: { sockets: number; upgrades: number }; requests: Record<string, number> }> {
  return (await signedFetch(clusterSecret, n.url, '/kv/v1/stats')).json() as never;
}

/** What an operation gives: its value, or its error's code (so two clients' outcomes compare). */
async function outcome<T>(p: Promise<T>): Promise<T | { code: string }> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof CloudburstError) return { code: err.code };
    throw err;
  }
}

describe('KV binary wire: same answers as HTTP', () => {
  it('get, merge, batch merge and batch get answer the same over the wire and over HTTP, and the wire carried them', async () => {
    const before = (await stats(node)).wire.upgrades;
    for (const [tag, kv] of [['b', binary], ['h', http]] as const) {
      expect(await outcome(kv.get(`${tag}/absent`))).toBeUndefined();
      expect(await outcome(kv.merge(`${tag}/r`, lww.write(Buffer.from('one'), s(1))))).toEqual(lww.write(Buffer.from('one'), s(1)));
      // An older write loses: the merge answers the stored value.
      expect(await outcome(kv.merge(`${tag}/r`, lww.write(Buffer.from('zero'), s(0))))).toEqual(lww.write(Buffer.from('one'), s(1)));
      expect(await outcome(kv.get(`${tag}/r`))).toEqual(lww.write(Buffer.from('one'), s(1)));
      await kv.merge(`${tag}/c`, counter.add(undefined, 'w', 5n));
      expect(await outcome(kv.merge(`${tag}/c`, gset.add(undefined, Buffer.from('x'))))).toEqual({ code: 'KV_TYPE_MISMATCH' });
      const errors = await kv.mergeBatch([
        { key: `${tag}/b1`, value: counter.add(undefined, 'w', 1n) },
        { key: `${tag}/c`, value: gset.add(undefined, Buffer.from('y')) },
        { key: `${tag}/b2`, bytes: Buffer.from([1, 99, 0]) },
      ]);
      expect(errors.map((e) => e?.code ?? null)).toEqual([null, 'KV_TYPE_MISMATCH', 'KV_UNKNOWN_TYPE']);
      const got = await kv.getBatch([`${tag}/b1`, `${tag}/nothing`, `${tag}/c`]);
      expect(got).toEqual([counter.add(undefined, 'w', 1n), undefined, counter.add(undefined, 'w', 5n)]);
      expect(await outcome(kv.merge(`${tag}/bad`, lww.write(Buffer.alloc(0), s(1))).then(() => kv.getFresh(`${tag}/bad`)))).toEqual(lww.write(Buffer.alloc(0), s(1)));
    }
    // Both clients read what the other wrote.
    expect(await binary.get('h/r')).toEqual(await http.get('b/r'));
    const after = await stats(node);
    expect(after.wire.upgrades).toBeGreaterThan(before);
    expect(after.wire.sockets).toBeGreaterThan(0);
  });
});

/** A raw upgraded socket: signed (or not) upgrade, then frames by hand. */
function upgrade(n: KvNode, headers: Record<string, string>): Promise<{ status: number; socket?: Socket; body?: string }> {
  const url = new URL(n.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: WIRE_PATH, method: 'GET', agent: false, headers: { connection: 'Upgrade', upgrade: WIRE_PROTOCOL, ...headers } });
    req.on('upgrade', (res, socket) => resolve({ status: res.statusCode!, socket }));
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads answers off a raw socket until it closes or `count` arrived: [id, status, body]. */
function answers(socket: Socket, count: number): Promise<{ got: [number, number, string][]; closed: boolean }> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const got: [number, number, string][] = [];
    const finish = (closed: boolean) => resolve({ got, closed });
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
        const len = buf.readUInt32LE(0);
        const ring = buf[10]!;
        got.push([buf.readUInt32LE(4), buf.readUInt16LE(8), buf.toString('utf8', 11 + ring, 4 + len)]);
        buf = buf.subarray(4 + len);
      }
      if (got.length >= count) finish(false);
    });
    socket.on('close', () => finish(true));
  });
}

const codeOf = (body: string): string => (JSON.parse(body) as { error: { code: string } }).error.code;

describe('KV binary wire: hostile input', () => {
  it('an upgrade without a good signature is refused with 401 UNAUTHENTICATED, and one to another path with UNKNOWN_ROUTE', async () => {
    const unsigned = await upgrade(node, {});
    expect(unsigned.status).toBe(401);
    expect(codeOf(unsigned.body!)).toBe('UNAUTHENTICATED');
    const forged = await upgrade(node, signedHeaders(testSecret(), 'GET', WIRE_PATH));
    expect(forged.status).toBe(401);
    const wrongPath = await upgrade(node, { ...signedHeaders(clusterSecret, 'GET', WIRE_PATH), upgrade: 'websocket' });
    expect(wrongPath.status).toBe(404);
    expect(codeOf(wrongPath.body!)).toBe('UNKNOWN_ROUTE');
  });

  it('a bad key is answered with INVALID_KEY and the socket goes on; a following get is answered', async () => {
    const { socket } = await upgrade(node, signedHeaders(clusterSecret, 'GET', WIRE_PATH));
    const reading = answers(socket!, 2);
    socket!.write(requestHead(1, WIRE_OPS.get, '%E0%A4%A', 0));
    socket!.write(requestHead(2, WIRE_OPS.get, 'b%2Fr', 0));
    const { got, closed } = await reading;
    expect(closed).toBe(false);
    expect(got.map(([id, status]) => [id, status])).toEqual([[1, 400], [2, 200]]);
    expect(codeOf(got[0]![2])).toBe('INVALID_KEY');
    socket!.destroy();
  });

  it('an unknown op gets UNKNOWN_ROUTE and the socket is closed', async () => {
    const { socket } = await upgrade(node, signedHeaders(clusterSecret, 'GET', WIRE_PATH));
    const reading = answers(socket!, 2);
    const head = requestHead(9, WIRE_OPS.get, 'k', 0);
    head[8] = 77;
    socket!.write(head);
    const { got, closed } = await reading;
    expect(closed).toBe(true);
    expect(got.length).toBe(1);
    expect([got[0]![0], got[0]![1], codeOf(got[0]![2])]).toEqual([9, 404, 'UNKNOWN_ROUTE']);
  });

  it('a length over the op\'s limit is refused with the HTTP route\'s code before any body is sent, then the socket is closed', async () => {
    for (const [op, code, status] of [[WIRE_OPS.merge, 'KV_VALUE_TOO_LARGE', 413], [WIRE_OPS.batchMerge, 'BODY_TOO_LARGE', 413]] as const) {
      const { socket } = await upgrade(node, signedHeaders(clusterSecret, 'GET', WIRE_PATH));
      const reading = answers(socket!, 2);
      // Only the head: a forged length of more than the limit, and no body at all.
      socket!.write(requestHead(3, op, op === WIRE_OPS.merge ? 'k' : '', (op === WIRE_OPS.merge ? KV_LIMITS.maxValueBytes : KV_LIMITS.maxBodyBytes) + 1));
      const { got, closed } = await reading;
      expect(closed).toBe(true);
      expect([got[0]![0], got[0]![1], codeOf(got[0]![2])]).toEqual([3, status, code]);
    }
  });

  it('a frame shorter than its head closes the socket without an answer; an arg longer than the frame gets INVALID_REQUEST; the node serves on', async () => {
    const a = await upgrade(node, signedHeaders(clusterSecret, 'GET', WIRE_PATH));
    const readingA = answers(a.socket!, 1);
    const short = Buffer.alloc(12);
    short.writeUInt32LE(3, 0);
    a.socket!.write(short);
    expect(await readingA).toEqual({ got: [], closed: true });

    const b = await upgrade(node, signedHeaders(clusterSecret, 'GET', WIRE_PATH));
    const readingB = answers(b.socket!, 2);
    const head = requestHead(4, WIRE_OPS.get, 'k', 0);
    head.writeUInt16LE(500, 10); // an arg of 500 bytes in a frame of 9
    b.socket!.write(head);
    const { got, closed } = await readingB;
    expect(closed).toBe(true);
    expect([got[0]![0], got[0]![1], codeOf(got[0]![2])]).toEqual([4, 400, 'INVALID_REQUEST']);

    // A truncated frame (its head promises more than ever comes) only holds its own socket.
    const c = await upgrade(node, signedHeaders(clusterSecret, 'GET', WIRE_PATH));
    c.socket!.write(requestHead(5, WIRE_OPS.merge, 'k', 100).subarray(0, 10));
    expect(await binary.get('b/r')).toEqual(lww.write(Buffer.from('one'), s(1)));
    c.socket!.destroy();
  });
});

describe('KV binary wire: fallback', () => {
  it('a node that does not take the upgrade (wire: http) is spoken to over HTTP with the same answers', async () => {
    const old = await startKvNode({ dataDir: join(dir, 'old'), port: 0, nodeId: 'kv-old', clusterSecret, wire: 'http' });
    const kv = new KvClient({ url: old.url, clusterSecret, wire: 'binary' });
    try {
      expect(await kv.get('x')).toBeUndefined();
      await kv.merge('x', lww.write(Buffer.from('v'), s(2)));
      expect(await kv.get('x')).toEqual(lww.write(Buffer.from('v'), s(2)));
      expect((await kv.mergeBatch([{ key: 'y', bytes: encode(counter.add(undefined, 'w', 2n)) }]))).toEqual([null]);
      const st = await stats(old);
      expect(st.wire).toEqual({ sockets: 0, upgrades: 0 });
      expect(st.requests['getKey']).toBe(2);
    } finally {
      await kv.close();
      await old.close();
    }
  });
});
