// Tenants: every name and key a request touches is its tenant's (host/README.md, "Tenancy").
// Real platform: a KV node and hosts in this process, real HTTP, real asc-built guests. The
// tenant a request acts in is its token's (test/helpers/tenant.ts: each tenant's user has a
// token of their own).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TENANT_HEADER } from '../../common/index.ts';
import { startHost, type Host } from '../../host/index.ts';
import { guestBytes, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { tenantClient } from '../helpers/tenant.ts';

type Client = ReturnType<typeof tenantClient>;
type ErrorBody = { error: { code: string; message: string } };

const sha = (guest: string): string => createHash('sha256').update(guestBytes(guest)).digest('hex');
const enc = encodeURIComponent;

async function deploy(as: Client, module: string, guest = module): Promise<void> {
  const r = await as('PUT', `/v1/modules/${module}`, guestBytes(guest), true);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

async function call<T = unknown>(as: Client, fn: string, args: unknown[], extra: Record<string, unknown> = {}): Promise<T> {
  const r = await as<{ result: T } & Partial<ErrorBody>>('POST', `/v1/functions/${fn}/call`, { args, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.result;
}

async function refused(reply: Promise<{ status: number; body: unknown }>, status: number, code: string): Promise<string> {
  const r = await reply;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  const { error } = r.body as ErrorBody;
  expect(error.code).toBe(code);
  return error.message;
}

describe('tenants on one host', () => {
  let p: Platform;
  let acme: Client;
  let beta: Client;
  let dflt: Client;
  const logs: { fn: string; message: string; tenant: string }[] = [];

  beforeAll(async () => {
    p = await startPlatform({ workers: 2, onGuestLog: (fn, _level, message, tenant) => logs.push({ fn, message, tenant }) });
    acme = tenantClient(p, p.host.url, 'acme');
    beta = tenantClient(p, p.host.url, 'beta');
    dflt = tenantClient(p, p.host.url, 'default');
    // The same module name, different code: acme's math is the math example, beta's the kitchen sink.
    await deploy(acme, 'math');
    await deploy(beta, 'math', 'kitchen');
    for (const as of [acme, beta]) {
      await deploy(as, 'kitchen');
      await deploy(as, 'tally');
    }
  });
  afterAll(async () => {
    await p.stop();
  });

  it('the same module name in two tenants is two modules: each lists and calls its own', async () => {
    expect(await call(acme, 'math.square', [7])).toBe(49);
    await refused(beta('POST', '/v1/functions/math.square/call', { args: [7] }), 404, 'UNKNOWN_FUNCTION');
    expect(await call(beta, 'math.addI32', [2, 3])).toBe(5);
    await refused(acme('POST', '/v1/functions/math.addI32/call', { args: [2, 3] }), 404, 'UNKNOWN_FUNCTION');

    const mods = async (as: Client) => (await as<{ modules: { name: string; sha256: string }[] }>('GET', '/v1/modules')).body.modules;
    expect((await mods(acme)).map((m) => [m.name, m.sha256])).toEqual([['kitchen', sha('kitchen')], ['math', sha('math')], ['tally', sha('tally')]]);
    expect((await mods(beta)).find((m) => m.name === 'math')?.sha256).toBe(sha('kitchen'));
    expect(await mods(dflt)).toEqual([]);
    const fns = (await acme<{ functions: { name: string }[] }>('GET', '/v1/functions')).body.functions.map((f) => f.name);
    expect(fns).toContain('math.square');
    expect(fns).not.toContain('math.addI32');
    expect((await dflt<{ functions: unknown[] }>('GET', '/v1/functions')).body.functions).toEqual([]);
    // Names in answers are the tenant's own, never storage keys.
    expect((await acme('GET', '/v1/functions/math.square')).body).toMatchObject({ name: 'math.square', module: 'math', export: 'square' });
    await refused(dflt('GET', '/v1/modules/math'), 404, 'UNKNOWN_MODULE');

    // Deleting beta's math leaves acme's.
    expect((await beta('DELETE', '/v1/modules/math')).status).toBe(200);
    await refused(beta('POST', '/v1/functions/math.addI32/call', { args: [2, 3] }), 404, 'UNKNOWN_FUNCTION');
    expect(await call(acme, 'math.square', [8])).toBe(64);
    await refused(dflt('DELETE', '/v1/modules/math'), 404, 'UNKNOWN_MODULE');
  });

  it('two tenants that upload the same bytes never share a warm instance (its globals)', async () => {
    const first = await call<number>(acme, 'tally.bump', []);
    expect(await call(acme, 'tally.bump', [])).toBe(first + 1);
    expect(await call(beta, 'tally.bump', [])).toBe(1);
    expect(await call(acme, 'tally.bump', [])).toBe(first + 2);
  });

  it('keys of the same name are separate, over HTTP and in guests', async () => {
    expect((await acme('PUT', '/v1/kv/shared', Buffer.from('a-value'), true)).status).toBe(200);
    expect((await beta('PUT', '/v1/kv/shared', Buffer.from('b-value'), true)).status).toBe(200);
    expect((await acme('GET', '/v1/kv/shared')).body).toMatchObject({ key: 'shared', value: 'a-value' });
    expect((await beta('GET', '/v1/kv/shared')).body).toMatchObject({ key: 'shared', value: 'b-value' });
    await refused(dflt('GET', '/v1/kv/shared'), 404, 'KEY_NOT_FOUND');
    expect((await beta('DELETE', '/v1/kv/shared')).status).toBe(200);
    expect((await acme('GET', '/v1/kv/shared')).body).toMatchObject({ value: 'a-value' });
    expect((await acme('GET', '/v1/kv/shared?fresh=1')).body).toMatchObject({ value: 'a-value' });

    // Guests: a key a guest names is its call's tenant's.
    await call(acme, 'kitchen.putOnly', ['g', 'acme-g']);
    expect(await call(beta, 'kitchen.getOr', ['g', '<absent>'])).toBe('<absent>');
    expect(await call(acme, 'kitchen.getOr', ['g', '<absent>'])).toBe('acme-g');
    expect(await call(acme, 'kitchen.counterAdd', ['c', 5])).toBe(5);
    expect(await call(beta, 'kitchen.counterAdd', ['c', 1])).toBe(1);
    expect((await acme('GET', '/v1/kv/g')).body).toMatchObject({ value: 'acme-g' });
    await refused(beta('GET', '/v1/kv/g'), 404, 'KEY_NOT_FOUND');

    // References read the caller's tenant; the message names the key, not its storage key.
    expect(await call(acme, 'kitchen.echoString', [{ ref: 'g' }])).toBe('acme-g');
    const message = await refused(beta('POST', '/v1/functions/kitchen.echoString/call', { args: [{ ref: 'g' }] }), 400, 'REF_NOT_FOUND');
    expect(message).toBe('no value under key "g"');
  });

  it('no key a guest passes reaches another tenant: the host prefixes every one', async () => {
    expect((await dflt('PUT', '/v1/kv/x', Buffer.from('mine'), true)).status).toBe(200);
    expect((await beta('PUT', '/v1/kv/x', Buffer.from('beta-own'), true)).status).toBe(200);
    const hostile = ['../x', '../../default/k/x', 'default/k/x', 'beta/k/x', '/x', '%2F', 'x/../../y', 'клю́ч/🙂', 'k'.repeat(510), '🙂'.repeat(127)];
    for (const key of hostile) {
      await call(acme, 'kitchen.putOnly', [key, `evil:${key.slice(0, 20)}`]);
      await call(acme, 'kitchen.counterAdd', [`n:${key}`, 1]);
      expect(await call(acme, 'kitchen.setAddMembers', [`s:${key}`, 'm'])).toBe(1);
    }
    for (const key of hostile) {
      // Each is acme's own key of exactly that name...
      expect((await acme('GET', `/v1/kv/${enc(key)}`)).body, key).toMatchObject({ key, value: `evil:${key.slice(0, 20)}` });
      // ...and no other tenant has a key of that name.
      await refused(dflt('GET', `/v1/kv/${enc(key)}`), 404, 'KEY_NOT_FOUND');
      await refused(beta('GET', `/v1/kv/${enc(`n:${key}`)}`), 404, 'KEY_NOT_FOUND');
    }
    // The longest key a guest may name is still its tenant's.
    const longest = 'k'.repeat(512);
    await call(acme, 'kitchen.putOnly', [longest, 'long']);
    expect((await acme('GET', `/v1/kv/${longest}`)).body).toMatchObject({ value: 'long' });
    await refused(dflt('GET', `/v1/kv/${longest}`), 404, 'KEY_NOT_FOUND');
    expect((await dflt('GET', '/v1/kv/x')).body).toMatchObject({ value: 'mine' });
    expect((await dflt('GET', '/v1/kv/x?fresh=1')).body).toMatchObject({ value: 'mine' });
    expect((await beta('GET', '/v1/kv/x')).body).toMatchObject({ value: 'beta-own' });
    // Past the key rule: refused, nothing written.
    await refused(acme('POST', '/v1/functions/kitchen.putOnly/call', { args: ['k'.repeat(513), 'v'] }), 400, 'INVALID_KEY');
    await refused(acme('GET', `/v1/kv/${'k'.repeat(513)}`), 400, 'INVALID_KEY');
  });

  it('a future is its tenant\'s: another tenant gets FUTURE_NOT_FOUND for its id', async () => {
    const started = await acme<{ future: string }>('POST', '/v1/functions/math.square/call', { args: [5], async: true });
    expect(started.status).toBe(202);
    const id = started.body.future;
    await refused(beta('GET', `/v1/futures/${id}?wait=0`), 404, 'FUTURE_NOT_FOUND');
    await refused(dflt('GET', `/v1/futures/${id}?wait=0`), 404, 'FUTURE_NOT_FOUND');
    const done = await acme('GET', `/v1/futures/${id}?wait=30000`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ future: id, status: 'done', result: 25, function: 'math.square' });
    await refused(beta('GET', `/v1/futures/${id}?wait=1000`), 404, 'FUTURE_NOT_FOUND');
    // Nor can another tenant's call wait for it.
    await refused(beta('POST', '/v1/functions/kitchen.echoI64/call', { args: [{ future: id }] }), 404, 'FUTURE_NOT_FOUND');
    expect(await call(acme, 'kitchen.echoI64', [{ future: id }])).toBe(25);
  });

  it('DAGs are per tenant: invisible to others, which cannot call, delete or register them with its functions', async () => {
    const spec = { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] };
    expect((await acme('PUT', '/v1/dags/pipe', spec)).status).toBe(200);
    expect((await beta('GET', '/v1/dags')).body).toEqual({ dags: [] });
    await refused(beta('GET', '/v1/dags/pipe'), 404, 'UNKNOWN_DAG');
    await refused(beta('POST', '/v1/dags/pipe/call', { args: { 'math.increment': [3] } }), 404, 'UNKNOWN_DAG');
    await refused(beta('DELETE', '/v1/dags/pipe'), 404, 'UNKNOWN_DAG');
    await refused(beta('PUT', '/v1/dags/pipe', spec), 404, 'UNKNOWN_FUNCTION');
    expect((await acme<{ dags: { name: string }[] }>('GET', '/v1/dags')).body.dags.map((d) => d.name)).toEqual(['pipe']);
    expect((await acme('POST', '/v1/dags/pipe/call', { args: { 'math.increment': [3] } })).body).toMatchObject({ result: 16 });

    // The same DAG name in beta is beta's own DAG.
    expect((await beta('PUT', '/v1/dags/pipe', { functions: ['kitchen.echoString'] })).status).toBe(200);
    expect((await beta('POST', '/v1/dags/pipe/call', { args: { 'kitchen.echoString': ['b'] } })).body).toMatchObject({ result: 'b' });
    expect((await acme('POST', '/v1/dags/pipe/call', { args: { 'math.increment': [1] } })).body).toMatchObject({ result: 4 });

    // An asynchronous DAG call's future is the tenant's too.
    const started = await acme<{ future: string }>('POST', '/v1/dags/pipe/call', { args: { 'math.increment': [2] }, async: true });
    await refused(beta('GET', `/v1/futures/${started.body.future}?wait=0`), 404, 'FUTURE_NOT_FOUND');
    expect((await acme('GET', `/v1/futures/${started.body.future}?wait=30000`)).body).toMatchObject({ status: 'done', result: 9, function: 'dag:pipe' });
  });

  it('messages stay in their tenant: a function cannot send to another tenant\'s', async () => {
    // Within a tenant, messages arrive.
    const within = await acme<{ future: string }>('POST', '/v1/functions/kitchen.announce/call', { args: ['inbox-own', 1, 30_000], async: true });
    const sent = await call<string>(acme, 'kitchen.sendTo', ['inbox-own', 'm', 1, 30_000]);
    expect((await acme('GET', `/v1/futures/${within.body.future}?wait=30000`)).body).toMatchObject({ status: 'done', result: `${sent}|m0` });

    // Across tenants: beta learns acme's receiver id and sends to it; acme's call gets nothing.
    const receiving = await acme<{ future: string }>('POST', '/v1/functions/kitchen.announce/call', { args: ['inbox', 1, 3000], async: true });
    const id = await waitFor(async () => (await acme<{ value?: string }>('GET', '/v1/kv/inbox')).body.value, (v) => v !== undefined, 30_000, 'acme\'s receiver to publish its id');
    expect((await beta('PUT', '/v1/kv/inbox', Buffer.from(id!), true)).status).toBe(200);
    expect(await call(beta, 'kitchen.sendTo', ['inbox', 'intruder', 1, 1000])).toBe(id);
    expect((await acme('GET', `/v1/futures/${receiving.body.future}?wait=30000`)).body).toMatchObject({ status: 'done', result: `${id}|` });
  });

  it('guest log lines reach onGuestLog with their tenant', async () => {
    await call(acme, 'kitchen.logAll', ['hello from acme']);
    await call(beta, 'kitchen.logAll', ['hello from beta']);
    expect(logs.filter((l) => l.message === 'hello from acme').map((l) => [l.tenant, l.fn])).toEqual(Array(4).fill(['acme', 'kitchen.logAll']));
    expect(logs.filter((l) => l.message === 'hello from beta').every((l) => l.tenant === 'beta')).toBe(true);
  });

  it('a DAG message for another tenant than its sender acts for is refused', async () => {
    // As another host sends them: signed with the cluster secret, acting for a tenant.
    const asHost = async (tenant: string, path: string, body: unknown) => {
      const r = await p.internal.request('POST', path, JSON.stringify(body), { 'content-type': 'application/json', [TENANT_HEADER]: tenant });
      return { status: r.status, body: JSON.parse(r.body.toString()) as unknown };
    };
    const trigger = { rid: 'r-1', tenant: 'acme', from: 'a.b', to: 'c.d', slot: 0, value: 1, remainingMs: 1000 };
    await refused(asHost('beta', '/v1/internal/dag/trigger', trigger), 403, 'FORBIDDEN');
    await refused(asHost('beta', '/v1/internal/dag/warm', { tenant: 'acme', functions: ['math.square'] }), 403, 'FORBIDDEN');
    await refused(asHost('acme', '/v1/internal/dag/trigger', { ...trigger, tenant: undefined }), 400, 'INVALID_REQUEST');
    // A tenant's token reaches no internal route, whatever it names.
    await refused(acme('POST', '/v1/internal/dag/trigger', trigger), 403, 'FORBIDDEN');
  });
});

describe('tenants across two hosts (two in-process hosts, one KV node)', () => {
  let p: Platform;
  let b: Host;
  let viaA: Client;
  let viaB: Client;
  let bId: string;

  beforeAll(async () => {
    p = await startPlatform({ workers: 2, explore: 0, publishIntervalMs: 100 });
    b = await startHost({ ...p.auth, workers: 2, explore: 0, publishIntervalMs: 100, dataDir: join(p.dataDir, 'host-b'), kvsUrl: p.kv.url, port: 0, onGuestLog: () => undefined });
    bId = b.id;
    viaA = tenantClient(p, p.host.url, 'acme');
    viaB = tenantClient(p, b.url, 'acme');
    // Default's modules of the same names have other functions: a call or step run in
    // `default` instead of acme would not find acme's, and its key `r` has another value.
    await deploy(viaA, 'kitchen');
    await deploy(viaA, 'math');
    const dflt = tenantClient(p, p.host.url, 'default');
    await deploy(dflt, 'kitchen', 'math');
    await deploy(dflt, 'math', 'kitchen');
    expect((await dflt('PUT', '/v1/kv/r', Buffer.from('default-r'), true)).status).toBe(200);
    await waitFor(async () => (await viaA<{ peers: { id: string }[] }>('GET', '/v1/cluster')).body.peers.length, (n) => n === 1, 10_000, 'host B in A\'s view');
  });
  afterAll(async () => {
    await b.close();
    await p.stop();
  });

  it('a call forwarded to another host runs there in the caller\'s tenant', async () => {
    // The key is cached on B only (written there, never read on A): placement sends the call to B.
    expect((await viaB('PUT', '/v1/kv/r', Buffer.from('acme-r'), true)).status).toBe(200);
    await waitFor(async () => (await viaA<{ peers: { id: string; keys: number }[] }>('GET', '/v1/cluster')).body.peers.find((x) => x.id === bId)?.keys ?? 0, (n) => n >= 1, 10_000, 'B\'s summary with acme\'s key in A\'s view');
    const r = await viaA<{ result: string }>('POST', '/v1/functions/kitchen.echoString/call', { args: [{ ref: 'r' }] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.headers.get('x-cloudburst-host')).toBe(bId);
    expect(r.body.result).toBe('acme-r');
  });

  it('a DAG across two hosts runs every step in its tenant', async () => {
    expect((await viaA('PUT', '/v1/dags/pipe', { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] })).status).toBe(200);
    const r = await viaA<{ result: number; hosts: Record<string, string> }>('POST', '/v1/dags/pipe/call', { args: { 'math.increment': [3] }, placement: { 'math.increment': p.host.id, 'math.square': bId } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ result: 16, hosts: { 'math.increment': p.host.id, 'math.square': bId } });
    // And coordinated by B, with the first step on A.
    const back = await viaB<{ result: number; hosts: Record<string, string> }>('POST', '/v1/dags/pipe/call', { args: { 'math.increment': [1] }, placement: { 'math.increment': p.host.id, 'math.square': bId } });
    expect(back.body).toMatchObject({ result: 4, hosts: { 'math.increment': p.host.id } });
  });
});
