import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestBytes, startPlatform, type Platform } from '../helpers/platform.ts';
import { rawRequest, type RawReply } from '../helpers/raw-http.ts';

const MODULE_LIMIT = 8 * 1024 * 1024; // the default
const CALL_LIMIT = 8 * 1024 * 1024;
const TRIES = 8;

/** What a try came to: the status and error code the client could read, and any socket error. */
const outcome = (r: RawReply) => ({
  status: r.status,
  code: r.status === undefined ? undefined : (JSON.parse(r.body.toString()) as { error?: { code?: string } }).error?.code,
  error: r.error,
});

describe('host: bodies over the limit', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform({ maxBodyBytes: CALL_LIMIT });
    await p.deploy('math');
  });
  afterAll(() => p.stop());

  it(`413: a client that writes a whole 8 MiB + 1 byte upload before reading gets the 413 and its body, ${TRIES} times in a row`, async () => {
    const body = Buffer.alloc(MODULE_LIMIT + 1, 7);
    const outcomes = [];
    for (let i = 0; i < TRIES; i++) {
      const r = await rawRequest(p.host.url, 'PUT', '/v1/modules/huge', body);
      outcomes.push(outcome(r));
      expect(r.headers['connection']).toBe('close');
    }
    expect(outcomes).toEqual(Array(TRIES).fill({ status: 413, code: 'BODY_TOO_LARGE', error: undefined }));
    await expect(p.client.json('GET', '/v1/modules/huge')).rejects.toMatchObject({ code: 'UNKNOWN_MODULE' });
  });

  it(`413: a call body over the limit, declared or streamed (chunked), gets the 413 and its body, ${TRIES} times each`, async () => {
    const body = Buffer.from(JSON.stringify({ args: [3], pad: 'x'.repeat(CALL_LIMIT) }));
    const outcomes = [];
    for (let i = 0; i < TRIES; i++) {
      outcomes.push(outcome(await rawRequest(p.host.url, 'POST', '/v1/functions/math.square/call', body)));
      outcomes.push(outcome(await rawRequest(p.host.url, 'POST', '/v1/functions/math.square/call', body, { chunked: true })));
    }
    expect(outcomes).toEqual(Array(2 * TRIES).fill({ status: 413, code: 'BODY_TOO_LARGE', error: undefined }));
  });

  it('413 with Expect: 100-continue: refused before the body is sent; a body within the limit gets 100 and is served', async () => {
    for (let i = 0; i < TRIES; i++) {
      const r = await rawRequest(p.host.url, 'PUT', '/v1/modules/huge', Buffer.alloc(MODULE_LIMIT + 1), { expectContinue: true });
      expect({ ...outcome(r), continued: r.continued, bodySent: r.bodySent }).toEqual({ status: 413, code: 'BODY_TOO_LARGE', error: undefined, continued: false, bodySent: 0 });
    }
    const upload = await rawRequest(p.host.url, 'PUT', '/v1/modules/math2', guestBytes('math'), { expectContinue: true });
    expect({ status: upload.status, continued: upload.continued }).toEqual({ status: 200, continued: true });
    const call = await rawRequest(p.host.url, 'POST', '/v1/functions/math2.square/call', Buffer.from('{"args": [12]}'), { expectContinue: true });
    expect({ status: call.status, continued: call.continued, body: JSON.parse(call.body.toString()) }).toEqual({ status: 200, continued: true, body: { result: 144 } });
    // An error found before the body is needed: answered without 100, and the connection closed.
    const bad = await rawRequest(p.host.url, 'POST', '/v2/nothing', Buffer.from('{"args": []}'), { expectContinue: true });
    expect({ status: bad.status, continued: bad.continued, connection: bad.headers['connection'] }).toEqual({ status: 404, continued: false, connection: 'close' });
  });

  it('Expect: 100-continue on a route that does not read the body: answered without 100, then the connection is closed', async () => {
    const { hostname, port } = new URL(p.host.url);
    const socket = connect(Number(port), hostname);
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString()));
    const ended = new Promise<string>((resolve) => {
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      socket.once('end', () => resolve('closed by the host'));
    });
    try {
      // The client holds its body back until 100 Continue, which it must not get: the route does
      // not need the body. Keeping the connection would read the next request as that body.
      socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\nexpect: 100-continue\r\n\r\n');
      const outcome = await Promise.race([ended, new Promise<string>((resolve) => setTimeout(() => resolve('still open after 10 s'), 10_000))]);
      expect({ outcome, status: data.split('\r\n')[0] }).toEqual({ outcome: 'closed by the host', status: 'HTTP/1.1 200 OK' });
      expect(data).not.toContain('100 Continue');
    } finally {
      socket.destroy();
    }
  });

  it('413: the host goes on serving keep-alive requests afterwards', async () => {
    expect(await p.call('math.square', [9])).toBe(81);
    const r = await p.client.request('POST', '/v1/functions/math.square/call', JSON.stringify({ args: [2] }));
    expect(r.headers['connection']).not.toBe('close');
  });
});
