import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHost, HOST_ROUTES, type AuditEntry, type Host, type HostRoute } from '../../host/index.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { bearer, guestBytes, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';

const PIPE = { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] };

/** A request that would change something (or read something) if it were let through. */
function requestOf(r: HostRoute): { path: string; body?: string | Uint8Array } {
  const path = r.path
    .replace(':module', r.name === 'putModule' ? 'intruder' : 'math')
    .replace(':fn', 'math.square')
    .replace(':id', '0123456789abcdef0123456789abcdef')
    .replace('*key', r.name.endsWith('Rejected') ? 'default%2Fk%2Fk' : 'k')
    .replace(':rid', 'r1')
    .replace(':file', 'app.js')
    .replace(':name', r.path.startsWith('/v1/tenants') ? 'acme' : r.path.startsWith('/v1/tokens') ? 'victim' : r.name === 'dagPut' ? 'intruder' : 'pipe');
  const bodies: Partial<Record<HostRoute['name'], string | Uint8Array>> = {
    putModule: guestBytes('math'),
    callFunction: '{"args": [3]}',
    putKey: 'overwritten',
    dagPut: JSON.stringify(PIPE),
    dagCall: JSON.stringify({ args: { 'math.increment': [1] } }),
    tenantCreate: '{"name": "evil"}',
    tokenCreate: '{"tenant": "default", "scopes": ["admin"], "name": "evil"}',
  };
  const body = bodies[r.name];
  return body === undefined ? { path } : { path, body };
}

/** A scope a route does not accept (never admin). */
function missingScope(r: HostRoute): string {
  const access = r.access as readonly string[];
  return ['state', 'read', 'invoke', 'deploy'].find((s) => !access.includes(s))!;
}

describe('authentication: every route of HOST_ROUTES', () => {
  let p: Platform;
  const tokens: Record<string, string> = {};
  const audit: AuditEntry[] = [];
  let logged = '';
  /** A client without a token: each request sends only the headers it is given. */
  let bare: HostClient;

  const send = (r: HostRoute, headers: Record<string, string>) => {
    const { path, body } = requestOf(r);
    return bare.request(r.method as 'GET', path, body, { ...headers, 'content-type': 'application/json' }).then((res) => ({
      status: res.status, body: res.body.toString(),
    }));
  };
  /** Everything a refused request could have changed. */
  const state = async () => {
    const get = async (path: string) => (await p.client.request('GET', path)).body.toString();
    return {
      modules: await get('/v1/modules'), dags: await get('/v1/dags'), tenants: await get('/v1/tenants'),
      tokens: await get('/v1/tokens'), key: await get('/v1/kv/k'), fn: await get('/v1/functions/math.square'),
    };
  };

  beforeAll(async () => {
    for (const method of ['log', 'error', 'warn', 'info', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        logged += `${args.map(String).join(' ')}\n`;
      });
    }
    p = await startPlatform({ onAudit: (e) => audit.push(e) });
    bare = new HostClient(p.host.url);
    await p.deploy('math');
    await p.client.json('PUT', '/v1/dags/pipe', PIPE);
    await p.client.request('PUT', '/v1/kv/k', 'original');
    await p.client.json('POST', '/v1/tenants', { name: 'acme' });
    const create = async (name: string, scopes: string[], extra: Record<string, unknown> = {}) =>
      (tokens[name] = (await p.client.json<{ token: string }>('POST', '/v1/tokens', { tenant: 'default', scopes, name, ...extra })).token);
    for (const s of ['state', 'read', 'invoke', 'deploy']) await create(s, [s]);
    await create('victim', ['invoke']);
    await create('expiring', ['admin', 'deploy', 'invoke', 'state', 'read'], { expiresInSeconds: 1 });
    await create('revoked', ['admin', 'deploy', 'invoke', 'state', 'read']);
    await p.client.json('DELETE', '/v1/tokens/revoked');
    // The expiring token is past its expiry once it is refused anywhere.
    const probe = HOST_ROUTES.find((r) => r.name === 'listModules')!;
    await waitFor(async () => (await send(probe, bearer(tokens.expiring))).status, (s) => s === 401, 30_000, 'the 1 s token to expire');
  }, 120_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await bare?.close();
    await p?.stop();
  });

  it('open routes need nothing', async () => {
    for (const r of HOST_ROUTES.filter((x) => x.access === 'open')) expect((await send(r, {})).status, r.name).toBe(200);
  });

  it('no token, a token without the scope, an expired and a revoked one: 401/403 with a stable code, and nothing changed', async () => {
    const before = await state();
    for (const r of HOST_ROUTES.filter((x) => Array.isArray(x.access))) {
      const none = await send(r, {});
      expect({ route: r.name, status: none.status, body: JSON.parse(none.body) }).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
      const wrong = await send(r, bearer(tokens[missingScope(r)]));
      expect({ route: r.name, status: wrong.status, body: JSON.parse(wrong.body) }).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
      for (const dead of ['expiring', 'revoked']) {
        const res = await send(r, bearer(tokens[dead]));
        expect({ route: r.name, dead, status: res.status, body: JSON.parse(res.body) }).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
      }
      const bogus = await send(r, { authorization: 'Bearer cb_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
      expect({ route: r.name, status: bogus.status }).toEqual({ route: r.name, status: 401 });
    }
    expect(await state()).toEqual(before);
    expect(audit.filter((e) => e.outcome === 'ok' && ['intruder', 'evil'].includes(e.target))).toEqual([]);
  });

  it('internal routes: nothing is 401; a tenant token and an admin token are 403; nothing changed', async () => {
    const before = await state();
    for (const r of HOST_ROUTES.filter((x) => x.access === 'internal')) {
      expect({ route: r.name, status: (await send(r, {})).status }).toEqual({ route: r.name, status: 401 });
      for (const t of [tokens.invoke!, p.token!]) {
        const res = await send(r, bearer(t));
        expect({ route: r.name, status: res.status, code: JSON.parse(res.body).error.code }).toEqual({ route: r.name, status: 403, code: 'FORBIDDEN' });
      }
      // A forged signature is no better than none.
      const forged = await send(r, { 'x-cloudburst-cluster': `v1 ${Date.now()} ${'0'.repeat(64)}` });
      expect({ route: r.name, status: forged.status }).toEqual({ route: r.name, status: 401 });
    }
    expect(await state()).toEqual(before);
  });

  it('a token acts in its own tenant only; an admin may name another tenant that exists', async () => {
    const acme = (await p.client.json<{ token: string }>('POST', '/v1/tokens', { tenant: 'acme', scopes: ['read', 'deploy'], name: 'acme-ci' })).token;
    const own = await bare.request('GET', '/v1/modules', undefined, { ...bearer(acme), 'x-cloudburst-tenant': 'acme' });
    expect(own.status).toBe(200);
    const other = await bare.request('GET', '/v1/modules', undefined, { ...bearer(acme), 'x-cloudburst-tenant': 'default' });
    expect([other.status, JSON.parse(other.body.toString()).error.code]).toEqual([403, 'FORBIDDEN']);
    expect((await p.client.request('GET', '/v1/modules', undefined, { 'x-cloudburst-tenant': 'acme' })).status).toBe(200);
    const missing = await p.client.request('GET', '/v1/modules', undefined, { 'x-cloudburst-tenant': 'nobody' });
    expect([missing.status, JSON.parse(missing.body.toString()).error.code]).toEqual([404, 'UNKNOWN_TENANT']);
    // A deleted tenant's tokens stop working; its name is never reused.
    await p.client.json('POST', '/v1/tenants', { name: 'gone' });
    const goneToken = (await p.client.json<{ token: string }>('POST', '/v1/tokens', { tenant: 'gone', scopes: ['read'], name: 'gone-reader' })).token;
    expect((await bare.request('GET', '/v1/modules', undefined, bearer(goneToken))).status).toBe(200);
    expect(await p.client.json('DELETE', '/v1/tenants/gone')).toEqual({ deleted: 'gone', revokedTokens: ['gone-reader'] });
    expect((await bare.request('GET', '/v1/modules', undefined, bearer(goneToken))).status).toBe(401);
    await expect(p.client.json('POST', '/v1/tenants', { name: 'gone' })).rejects.toMatchObject({ code: 'NAME_TAKEN' });
  });

  it('no token appears in a log line, an error message, a listing or the audit log', async () => {
    const sent = [...Object.values(tokens), p.token!];
    const replies: string[] = [];
    for (const t of sent) replies.push((await bare.request('DELETE', '/v1/internal/dag/requests/r1', undefined, bearer(t))).body.toString());
    for (const t of sent) replies.push((await bare.request('PUT', '/v1/kv/k', 'x', bearer(`${t}x`))).body.toString());
    for (const t of sent) replies.push((await bare.request('PUT', '/v1/kv/k', 'x', bearer(t))).body.toString());
    replies.push((await p.client.request('GET', '/v1/tokens')).body.toString());
    const file = await readFile(join(p.dataDir, 'host', 'audit.jsonl'), 'utf8');
    for (const t of sent) {
      for (const text of [...replies, file, logged, JSON.stringify(audit)]) expect(text).not.toContain(t.slice(3));
    }
    expect(file.trim().split('\n').map((l) => JSON.parse(l) as AuditEntry)).toEqual(audit);
    expect(audit).toContainEqual(expect.objectContaining({ action: 'token.create', target: 'victim', token: 'admin', tenant: 'default', outcome: 'ok' }));
    expect(audit).toContainEqual(expect.objectContaining({ action: 'module.deploy', target: 'math', outcome: 'ok' }));
    expect((await stat(join(p.dataDir, 'admin-token'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(p.dataDir, 'host', 'audit.jsonl'))).mode & 0o777).toBe(0o600);
  });
});

describe('authentication: revocation reaches every host', () => {
  let p: Platform;
  let b: Host;
  let clientB: HostClient;

  beforeAll(async () => {
    p = await startPlatform();
    b = await startHost({ ...p.auth, workers: 1, dataDir: join(p.dataDir, 'host-b'), kvsUrl: p.kv.url, port: 0, onGuestLog: () => undefined });
    clientB = new HostClient(b.url);
  }, 60_000);
  afterAll(async () => {
    await clientB?.close();
    await b?.close();
    await p?.stop();
  });

  it('a token revoked through host A is refused by host B once 1 s has passed, though B had just accepted it', async () => {
    const { token } = await p.client.json<{ token: string }>('POST', '/v1/tokens', { tenant: 'default', scopes: ['read'], name: 'roaming' });
    expect((await clientB.request('GET', '/v1/modules', undefined, bearer(token))).status).toBe(200);
    await p.client.json('DELETE', '/v1/tokens/roaming');
    // The guarantee is logical: B reads a record again once its copy is 1 s old (AUTH_CACHE_MAX_AGE_MS).
    await new Promise((r) => setTimeout(r, 1100));
    const after = await clientB.request('GET', '/v1/modules', undefined, bearer(token));
    expect([after.status, JSON.parse(after.body.toString()).error.code]).toEqual([401, 'UNAUTHENTICATED']);
    // Host A refuses it at once (it forgets what it read of a token it revoked).
    expect((await p.client.request('GET', '/v1/modules', undefined, bearer(token))).status).toBe(401);
  });
});

describe('admin API: bad input gets its code and changes nothing', () => {
  let p: Platform;
  beforeAll(async () => {
    p = await startPlatform();
    await p.client.json('POST', '/v1/tenants', { name: 'acme', quotas: { concurrentCalls: 4 } });
    await p.client.json('POST', '/v1/tokens', { tenant: 'acme', scopes: ['invoke'], name: 'ci' });
  });
  afterAll(() => p?.stop());

  it('tenants and tokens', async () => {
    const lists = async () => [await p.client.json('GET', '/v1/tenants'), await p.client.json('GET', '/v1/tokens')];
    const before = await lists();
    expect(await p.client.json('GET', '/v1/tenants/acme')).toMatchObject({ name: 'acme', quotas: { concurrentCalls: 4 } });
    const cases: [string, string, unknown, string][] = [
      ['POST', '/v1/tenants', { name: 'Acme' }, 'INVALID_NAME'],
      ['POST', '/v1/tenants', { name: '_system' }, 'INVALID_NAME'],
      ['POST', '/v1/tenants', { name: 'x'.repeat(64) }, 'INVALID_NAME'],
      ['POST', '/v1/tenants', { name: 'acme' }, 'NAME_TAKEN'],
      ['POST', '/v1/tenants', { name: 'default' }, 'NAME_TAKEN'],
      ['POST', '/v1/tenants', { name: 'b', quotas: [1] }, 'INVALID_REQUEST'],
      ['POST', '/v1/tenants', { name: 'b', extra: 1 }, 'INVALID_REQUEST'],
      ['POST', '/v1/tenants', [], 'INVALID_REQUEST'],
      ['GET', '/v1/tenants/nobody', undefined, 'UNKNOWN_TENANT'],
      ['DELETE', '/v1/tenants/nobody', undefined, 'UNKNOWN_TENANT'],
      ['DELETE', '/v1/tenants/default', undefined, 'INVALID_REQUEST'],
      ['POST', '/v1/tokens', { tenant: 'nobody', scopes: ['read'], name: 'n1' }, 'UNKNOWN_TENANT'],
      ['POST', '/v1/tokens', { tenant: 'acme', scopes: ['read'], name: 'ci' }, 'NAME_TAKEN'],
      ['POST', '/v1/tokens', { tenant: 'acme', scopes: [], name: 'n2' }, 'INVALID_REQUEST'],
      ['POST', '/v1/tokens', { tenant: 'acme', scopes: ['root'], name: 'n3' }, 'INVALID_REQUEST'],
      ['POST', '/v1/tokens', { tenant: 'acme', scopes: ['read', 'read'], name: 'n4' }, 'INVALID_REQUEST'],
      ['POST', '/v1/tokens', { tenant: 'acme', scopes: ['read'], name: 'bad name' }, 'INVALID_NAME'],
      ['POST', '/v1/tokens', { tenant: 'acme', scopes: ['read'], name: 'n5', expiresInSeconds: 0 }, 'INVALID_REQUEST'],
      ['POST', '/v1/tokens', { tenant: 'acme', scopes: ['read'], name: 'n6', expiresInSeconds: 1.5 }, 'INVALID_REQUEST'],
      ['POST', '/v1/tokens', { tenant: 'acme', scopes: ['read'] }, 'INVALID_NAME'],
      ['DELETE', '/v1/tokens/nobody', undefined, 'UNKNOWN_TOKEN'],
      ['GET', '/v1/tokens?tenant=Bad', undefined, 'INVALID_NAME'],
    ];
    for (const [method, path, body, code] of cases) {
      await expect(p.client.json(method as 'POST', path, body), `${method} ${path} ${JSON.stringify(body)}`).rejects.toMatchObject({ code });
    }
    await expect(p.client.json('POST', '/v1/tenants', '{"name": ', true)).rejects.toMatchObject({ code: 'MALFORMED_JSON' });
    expect(await lists()).toEqual(before);
  });

  it('a token is shown once; listings hold neither it nor its hash; a revoked name can be used again', async () => {
    const created = await p.client.json<Record<string, unknown>>('POST', '/v1/tokens', { tenant: 'acme', scopes: ['read'], name: 'once', expiresInSeconds: 3600 });
    expect(created).toMatchObject({ name: 'once', tenant: 'acme', scopes: ['read'], status: 'active', token: expect.stringMatching(/^cb_[A-Za-z0-9_-]{43}$/) });
    expect(created).not.toHaveProperty('hash');
    const { tokens } = await p.client.json<{ tokens: Record<string, unknown>[] }>('GET', '/v1/tokens?tenant=acme');
    expect(tokens.map((t) => t.name)).toEqual(['ci', 'once']);
    for (const t of tokens) expect(Object.keys(t).sort()).toEqual(expect.not.arrayContaining(['token', 'hash']));
    await p.client.json('DELETE', '/v1/tokens/once');
    await expect(p.client.json('DELETE', '/v1/tokens/once')).rejects.toMatchObject({ code: 'UNKNOWN_TOKEN' });
    await p.client.json('POST', '/v1/tokens', { tenant: 'acme', scopes: ['read'], name: 'once' });
    const again = await p.client.json<{ tokens: { name: string; status: string }[] }>('GET', '/v1/tokens?tenant=acme');
    expect(again.tokens.filter((t) => t.name === 'once').map((t) => t.status)).toEqual(['revoked', 'active']);
  });
});

describe('insecure mode', () => {
  it('every request is an admin of the tenant it names; no token needed', async () => {
    const p = await startPlatform({ insecure: true });
    try {
      expect(p.token).toBeUndefined();
      await p.deploy('math');
      expect(await p.call('math.square', [4])).toBe(16);
      expect((await p.client.request('POST', '/v1/internal/dag/warm', '{"tenant": "default", "functions": []}', { 'content-type': 'application/json' })).status).toBeLessThan(400);
    } finally {
      await p.stop();
    }
  });
});
