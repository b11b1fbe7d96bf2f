import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSession, encodeSession, SESSION_HEADER, SESSION_MAX_KEYS, advance, versionOfValue } from '../../host/consistency/client-session.ts';
import { startHost, type Host } from '../../host/index.ts';
import { checkKeyName } from '../../host/keys.ts';
import { counter, gset, lww, max, startKvNode, type KvNode } from '../../kvs/index.ts';
import { guestBytes, tempDir, hostFetch, clusterAuth, adminToken, registerToken } from '../helpers/platform.ts';

interface Answer {
  status: number;
  body: { result?: unknown; error?: { code: string } };
  session: string | null;
  host: string | null;
}

/**
 * A client's calls alternate between two hosts. Each host writes behind to the KV tier, and
 * these write behind slowly (flushDelayMs), so the other host's cache is behind for a while:
 * without a session a read-modify-write on the second host reads a copy without the first
 * host's write and overwrites it. With the token of each answer passed to the next call, the
 * host that runs it brings its cache up to what the client saw first.
 */
describe('client sessions: read-your-writes and monotonic reads across calls and hosts', () => {
  let dir: string;
  let kv: KvNode;
  let hosts: Host[];

  beforeAll(async () => {
    dir = await tempDir('cb-session-');
    const auth = clusterAuth(dir);
    kv = await startKvNode({ dataDir: join(dir, 'kv'), port: 0, ...auth });
    const token = await adminToken(kv.url, auth.clusterSecret, dir);
    hosts = await Promise.all(['a', 'b'].map((h) => startHost({
      ...auth, dataDir: join(dir, h), kvsUrl: kv.url, port: 0, workers: 2, flushDelayMs: 300, onGuestLog: () => undefined,
    })));
    for (const h of hosts) registerToken(h.url, token);
    for (const m of ['notes', 'counter']) {
      const res = await hostFetch(`${hosts[0]!.url}/v1/modules/${m}`, { method: 'PUT', body: new Uint8Array(guestBytes(m)) });
      expect(res.status).toBe(200);
    }
  }, 120_000);
  afterAll(async () => {
    for (const h of hosts ?? []) await h.close();
    await kv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A call run on the host it is sent to (as a forwarded call is), with a session token or none. */
  const call = async (host: Host, fn: string, args: unknown[], session?: string | null, extra: Record<string, unknown> = {}): Promise<Answer> => {
    const res = await hostFetch(`${host.url}/v1/functions/${fn}/call`, {
      method: 'POST',
      body: JSON.stringify({ args, ...extra }),
      headers: { 'x-cloudburst-forwarded': 'test', ...(session ? { [SESSION_HEADER]: session } : {}) },
    });
    return { status: res.status, body: (await res.json()) as Answer['body'], session: res.headers.get(SESSION_HEADER), host: res.headers.get('x-cloudburst-host') };
  };

  it('a client appending through calls that alternate hosts loses none of its appends, and every answer sees all the earlier ones', async () => {
    let session: string | null = null;
    const lines: string[] = [];
    for (let i = 0; i < 30; i++) {
      const host = hosts[i % 2]!;
      const got = await call(host, 'notes.append', ['log', `line ${i}`], session);
      expect(got.status, JSON.stringify(got.body)).toBe(200);
      expect(got.host).toBe(host.id);
      lines.push(`line ${i}`);
      expect(got.body.result, `call ${i} on host ${i % 2}`).toBe(lines.join('\n'));
      session = got.session;
      expect(session).toBeTruthy();
    }
    // Reads on either host, with the session, see every append.
    for (const host of hosts) expect((await call(host, 'notes.read', ['log'], session)).body.result).toBe(lines.join('\n'));
  });

  it('counters: a read on the other host sees the client\'s increments; reads never go back', async () => {
    let session: string | null = null;
    let last = 0;
    for (let i = 0; i < 20; i++) {
      const incr = await call(hosts[i % 2]!, 'counter.incr', ['hits', 1], session);
      session = incr.session;
      const read = await call(hosts[(i + 1) % 2]!, 'counter.get', ['hits'], session);
      session = read.session;
      expect(read.body.result, `read ${i}`).toBe(i + 1);
      expect(read.body.result as number).toBeGreaterThanOrEqual(last);
      last = read.body.result as number;
    }
  });

  it('DAG calls: each step\'s host catches up with the session, and the answer carries the session on', async () => {
    const reg = await hostFetch(`${hosts[0]!.url}/v1/dags/appender`, { method: 'PUT', body: JSON.stringify({ functions: ['notes.append'] }) });
    expect(reg.status).toBe(200);
    let session: string | null = null;
    const lines: string[] = [];
    for (let i = 0; i < 10; i++) {
      const host = hosts[i % 2]!;
      const res: Response = await hostFetch(`${host.url}/v1/dags/appender/call`, {
        method: 'POST',
        body: JSON.stringify({ args: { 'notes.append': ['dag-log', `line ${i}`] }, placement: { 'notes.append': host.id } }),
        headers: session ? { [SESSION_HEADER]: session } : {},
      });
      const body = (await res.json()) as { result: string; hosts: Record<string, string> };
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body.hosts['notes.append']).toBe(host.id);
      lines.push(`line ${i}`);
      expect(body.result, `DAG call ${i}`).toBe(lines.join('\n'));
      session = res.headers.get(SESSION_HEADER);
      expect(session).toBeTruthy();
    }
  });

  it('the session also travels in the body, and a malformed token is a 400 that runs nothing', async () => {
    const first = await call(hosts[0]!, 'notes.append', ['body-log', 'x']);
    expect(first.status).toBe(200);
    const second = await call(hosts[1]!, 'notes.append', ['body-log', 'y'], null, { session: first.session });
    expect(second.body.result).toBe('x\ny');
    for (const bad of ['not base64!', Buffer.from('{"v":2}').toString('base64url'), Buffer.from('{"v":1,"u":["http://h:1"],"k":[["a",3,{"t":"r","d":["c1.0.w"]}]]}').toString('base64url')]) {
      const got = await call(hosts[1]!, 'notes.append', ['body-log', 'z'], bad);
      expect(got, bad).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST' } } });
    }
    expect((await call(hosts[0]!, 'notes.read', ['body-log'], second.session)).body.result).toBe('x\ny');
  });

  it('a token keeps the keys used last, at most SESSION_MAX_KEYS, and round-trips', () => {
    let s = advance([], 'http://127.0.0.1:1', [['a', { kind: 'max', epoch: '0.0.', value: '3' }]]);
    for (let i = 0; i < SESSION_MAX_KEYS + 10; i++) s = advance(s, 'http://127.0.0.1:2', [[`k${i}`, { kind: 'max', epoch: '0.0.', value: String(i) }]]);
    expect(s).toHaveLength(SESSION_MAX_KEYS);
    expect(s[0]).toMatchObject({ key: `k${SESSION_MAX_KEYS + 9}`, url: 'http://127.0.0.1:2' });
    expect(decodeSession(encodeSession(s), checkKeyName)).toEqual(s);
  });

  it('a token keeps its one-letter names on the wire; in memory every kind of version is spelled out', () => {
    const writer = 'h-1/w0';
    const session = advance([], 'http://127.0.0.1:1', [
      ['r', versionOfValue('r', lww.write(Buffer.from('x'), { ms: 5, c: 1, writer }))!],
      ['c', versionOfValue('c', counter.add(counter.add(undefined, writer, 3n), writer, -2n))!],
      ['m', versionOfValue('m', max.put(undefined, 7n))!],
      ['s', versionOfValue('s', gset.add(undefined, Buffer.from('a')))!],
    ]);
    const hash = session[3]!.version.kind === 'set' ? session[3]!.version.hash : '';
    expect(hash).toMatch(/^[\w-]{12}$/);
    expect(session.map((e) => e.version)).toEqual([
      { kind: 'register', deps: [`p5.1.${writer}`] },
      { kind: 'counter', epoch: '0.0.', totals: { [writer]: ['3', '2'] } },
      { kind: 'max', epoch: '0.0.', value: '7' },
      { kind: 'set', epoch: '0.0.', size: 1, hash },
    ]);
    const token = encodeSession(session);
    expect(Buffer.from(token, 'base64url').toString('utf8')).toBe(JSON.stringify({
      v: 1,
      u: ['http://127.0.0.1:1'],
      k: [
        ['r', 0, { t: 'r', d: [`p5.1.${writer}`] }],
        ['c', 0, { t: 'c', e: '0.0.', w: { [writer]: ['3', '2'] } }],
        ['m', 0, { t: 'm', e: '0.0.', v: '7' }],
        ['s', 0, { t: 's', e: '0.0.', n: 1, h: hash }],
      ],
    }));
    expect(decodeSession(token, checkKeyName)).toEqual(session);
  });
});
