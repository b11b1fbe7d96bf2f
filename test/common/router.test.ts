import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest } from '../helpers/raw-http.ts';
import { ClientGone, CloudburstError, listen, readBody, Router, sendJson, serve, type RouteContext, type RouterOptions, type ServerDrain } from '../../common/index.ts';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

const drains: ServerDrain[] = [];

afterEach(async () => {
  for (const d of drains.splice(0)) await d.close({ idleGraceMs: 0, maxWaitMs: 1000 });
});

/** A server whose router echoes what each handler got: its route, its params and a query value. */
async function start(o: RouterOptions, more?: (router: Router) => void): Promise<{ port: number; router: Router }> {
  const router = new Router(o);
  const echo = (route: string) => ({ res, params, query }: RouteContext) =>
    sendJson(res, 200, { route, params, q: query.get('q') });
  router.on('GET', '/v1/things', echo('list'));
  router.on('GET', '/v1/things/special', echo('special'));
  router.on('GET', '/v1/things/:id', echo('one'));
  router.on('DELETE', '/v1/things/:id', echo('delete'));
  router.on('POST', '/v1/things/:id/call', echo('call'));
  router.on('GET', '/v1/kv/*key', echo('kv'));
  more?.(router);
  const server = createServer();
  drains.push(serve(server, router.handle));
  return { port: await listen(server, 0, '127.0.0.1'), router };
}

/** One request with the target exactly as given (node:http sends the path as is). */
function send(port: number, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

const code = (r: Reply): unknown => (r.body['error'] as { code?: unknown } | undefined)?.code;

describe('Router', () => {
  it('router (url paths): parameters are decoded, a path without parameters wins, the query is parsed', async () => {
    const { port } = await start({ paths: 'url' });
    expect((await send(port, 'GET', '/v1/things')).body).toEqual({ route: 'list', params: {}, q: null });
    expect((await send(port, 'GET', '/v1/things/special')).body).toMatchObject({ route: 'special' });
    expect((await send(port, 'GET', '/v1/things/a%20b?q=1')).body).toEqual({ route: 'one', params: { id: 'a b' }, q: '1' });
    expect((await send(port, 'POST', '/v1/things/x/call')).body).toMatchObject({ route: 'call', params: { id: 'x' } });
    expect((await send(port, 'GET', '/v1/kv/a%2F..%2Fb')).body).toMatchObject({ route: 'kv', params: { key: 'a/../b' } });
    expect((await send(port, 'GET', '/v1/kv/users/ada')).body).toMatchObject({ params: { key: 'users/ada' } });
  });

  it('router (url paths): dot segments are resolved and empty segments dropped before matching', async () => {
    const { port } = await start({ paths: 'url' });
    expect((await send(port, 'GET', '/v1//kv/a//b/')).body).toMatchObject({ route: 'kv', params: { key: 'a/b' } });
    expect((await send(port, 'GET', '/v1/kv/x/../y')).body).toMatchObject({ route: 'kv', params: { key: 'y' } });
    expect((await send(port, 'GET', '/v1/things/')).body).toMatchObject({ route: 'list' });
    // `*key` needs something after its slash.
    expect(code(await send(port, 'GET', '/v1/kv/'))).toBe('UNKNOWN_ROUTE');
  });

  it('router (url paths): a parameter that is not valid percent-encoding is 400 INVALID_NAME', async () => {
    const { port } = await start({ paths: 'url' });
    const r = await send(port, 'GET', '/v1/things/%E0%A4%A');
    expect([r.status, code(r)]).toEqual([400, 'INVALID_NAME']);
  });

  it('router (raw paths): the path is matched as sent, and parameters are handed over still encoded', async () => {
    const { port } = await start({ paths: 'raw' });
    expect((await send(port, 'GET', '/v1/kv/a%2Fb?q=2')).body).toEqual({ route: 'kv', params: { key: 'a%2Fb' }, q: '2' });
    expect((await send(port, 'GET', '/v1/kv/a//b/')).body).toMatchObject({ params: { key: 'a//b/' } });
    expect((await send(port, 'GET', '/v1/kv/x/../y')).body).toMatchObject({ params: { key: 'x/../y' } });
    expect((await send(port, 'GET', '/v1/kv/')).body).toMatchObject({ route: 'kv', params: { key: '' } });
    expect((await send(port, 'GET', '/v1/things/%E0%A4%A')).body).toMatchObject({ route: 'one', params: { id: '%E0%A4%A' } });
    expect(code(await send(port, 'GET', '/v1//things'))).toBe('UNKNOWN_ROUTE');
  });

  it('router: no route is 404 UNKNOWN_ROUTE; a route without the method is 405 with Allow, in the header and the body', async () => {
    for (const paths of ['url', 'raw'] as const) {
      const { port } = await start({ paths });
      const missing = await send(port, 'GET', '/v2/anything');
      expect([missing.status, code(missing)]).toEqual([404, 'UNKNOWN_ROUTE']);
      const wrong = await send(port, 'PUT', '/v1/things/x');
      expect([wrong.status, code(wrong)]).toEqual([405, 'METHOD_NOT_ALLOWED']);
      expect(wrong.headers['allow']).toBe('GET, DELETE');
      expect(wrong.body['error']).toMatchObject({ allow: 'GET, DELETE' });
      // The allowed methods of every route the path matches.
      expect((await send(port, 'POST', '/v1/things/special')).headers['allow']).toBe('GET, DELETE');
    }
  });

  it('router: a CloudburstError answers with its status and body; anything else is logged and is a bare 500 INTERNAL', async () => {
    const logged: string[] = [];
    const errors: unknown[] = [];
    const { port } = await start({ paths: 'url', log: (m) => logged.push(m), onError: (err) => errors.push(err) }, (router) => {
      router.on('GET', '/sync-fail', () => {
        throw new CloudburstError('UNKNOWN_DAG', 'no DAG named d');
      });
      router.on('GET', '/async-fail', async () => {
        await Promise.resolve();
        throw new Error('secret internals');
      });
    });
    const known = await send(port, 'GET', '/sync-fail');
    expect([known.status, known.body]).toEqual([404, { error: { code: 'UNKNOWN_DAG', message: 'no DAG named d' } }]);
    const unexpected = await send(port, 'GET', '/async-fail');
    expect([unexpected.status, code(unexpected)]).toEqual([500, 'INTERNAL']);
    expect(JSON.stringify(unexpected.body)).not.toContain('secret');
    expect(logged).toEqual(['GET /async-fail: unexpected error']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['no DAG named d', 'secret internals']);
  });

  it('router: a client that leaves mid-body gets its connection closed, and nothing is logged', async () => {
    const logged: string[] = [];
    const errors: unknown[] = [];
    const { port, router } = await start({ paths: 'url', log: (m) => logged.push(m), onError: (err) => errors.push(err) }, (r) => {
      r.on('PUT', '/upload', async ({ req, res }) => {
        sendJson(res, 200, { bytes: (await readBody(req, 1024)).length });
      });
    });
    const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/upload', agent: false, headers: { 'content-length': '100' } });
    req.on('error', () => undefined);
    req.write('only part of it');
    await expect.poll(() => router.inflight, { timeout: 10_000 }).toBe(1);
    req.destroy();
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBe(1);
    expect(errors[0]).toBeInstanceOf(ClientGone);
    expect(logged).toEqual([]);
    await expect.poll(() => router.inflight, { timeout: 10_000 }).toBe(0);
  });

  it('router: counts requests in flight and reports every response with its method and status', async () => {
    const seen: string[] = [];
    const { port, router } = await start({ paths: 'url', onResponse: (method, status) => seen.push(`${method} ${status}`) });
    await send(port, 'GET', '/v1/things');
    await send(port, 'DELETE', '/nowhere');
    await expect.poll(() => seen, { timeout: 10_000 }).toEqual(['GET 200', 'DELETE 404']);
    expect(router.inflight).toBe(0);
  });

  it('router: a route defined twice is refused when it is added', () => {
    const router = new Router({ paths: 'url' });
    router.on('GET', '/a', () => undefined).on('GET', '/b/:x', () => undefined);
    expect(() => router.on('GET', '/a', () => undefined)).toThrow(/defined twice/);
    expect(() => router.on('GET', '/b/:y', () => undefined)).toThrow(/defined twice/);
    expect(() => router.on('GET', '/c/*rest/d', () => undefined)).toThrow(/last segment/);
  });

  it('serve: a request the HTTP parser refuses is 400 INVALID_REQUEST in the error body, and the connection closes', async () => {
    const { port } = await start({ paths: 'url' });
    const url = `http://127.0.0.1:${port}`;
    const refused = [
      { method: 'BREW', path: '/v1/things' },
      { method: 'GET', path: '/v1/kv/a b' },
      { method: 'GET', path: '/v1/kv/\0' },
      { method: 'GET', path: '/v1/things', headers: { 'x-a': 'b\u0000c' } },
      { method: 'GET', path: '/v1/things', headers: { 'bad header': 'x' } },
      { method: 'GET', path: '/v1/things', headers: { 'x-big': 'x'.repeat(20_000) } },
    ];
    for (const { method, path, headers } of refused) {
      const r = await rawRequest(url, method, path, Buffer.alloc(0), { headers: headers ?? {} });
      const what = `${method} ${JSON.stringify(path)} ${JSON.stringify(headers ?? {}).slice(0, 40)}`;
      expect({ status: r.status, connection: r.headers['connection'], error: r.error }, what).toEqual({ status: 400, connection: 'close', error: undefined });
      expect(JSON.parse(r.body.toString()), what).toEqual({ error: { code: 'INVALID_REQUEST', message: expect.stringMatching(/not valid HTTP\/1\.1|headers are too large/) } });
    }
    // The server goes on serving.
    expect((await send(port, 'GET', '/v1/things')).status).toBe(200);
  });
});
