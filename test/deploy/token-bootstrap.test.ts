import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { startKvNode, type KvNode } from '../../kvs/index.ts';
import { testSecret } from '../helpers/cluster-secret.ts';
import { bearer, runCli, tempDir } from '../helpers/platform.ts';

// A cluster no `cloudburst up` started (Kubernetes: deploy/README.md, "The first token") has no
// token at all: `cloudburst token bootstrap` writes the first admin token straight into the KV
// tier with the cluster secret, and a host accepts it.
describe('cloudburst token bootstrap', () => {
  const clusterSecret = testSecret();
  const env = { CLOUDBURST_CLUSTER_SECRET: clusterSecret.toString('utf8') };
  let dir: string;
  let kv: KvNode;
  let host: Host;
  beforeAll(async () => {
    dir = await tempDir('cb-bootstrap-');
    kv = await startKvNode({ dataDir: join(dir, 'kv'), port: 0, clusterSecret });
    host = await startHost({ dataDir: join(dir, 'host'), kvsUrl: kv.url, port: 0, workers: 2, clusterSecret });
  });
  afterAll(async () => {
    await host?.close();
    await kv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints a token once that authorizes an admin request on a host; a second run with the name is NAME_TAKEN', async () => {
    // Before: no token, nothing gets in.
    expect((await fetch(`${host.url}/v1/tenants`)).status).toBe(401);
    const out = await runCli(['token', 'bootstrap', '--kvs', kv.url.replace(/^http:\/\//, '')], env);
    expect(out.stderr).toContain('not shown again');
    expect(out.code).toBe(0);
    const token = out.stdout.trim();
    expect(token).toMatch(/^cb_/);
    expect(out.stderr).not.toContain(token);
    // An admin request: create a tenant, then list the tokens (the bootstrap token is there, without its secret).
    const created = await fetch(`${host.url}/v1/tenants`, { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'acme' }) });
    expect(created.status).toBe(201);
    const listed = await fetch(`${host.url}/v1/tokens`, { headers: bearer(token) });
    expect(listed.status).toBe(200);
    const { tokens } = (await listed.json()) as { tokens: { name: string; tenant: string; scopes: string[]; status: string }[] };
    expect(tokens).toEqual([expect.objectContaining({ name: 'admin', tenant: 'default', scopes: ['admin'], status: 'active' })]);
    expect(JSON.stringify(tokens)).not.toContain(token);

    const again = await runCli(['token', 'bootstrap', '--kvs', kv.url], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('NAME_TAKEN');
    expect(again.stdout.trim()).toBe('');
    // Another name is another admin token.
    const second = await runCli(['token', 'bootstrap', '--kvs', kv.url, '--name', 'ops', '--json'], env);
    expect(second.code).toBe(0);
    const parsed = JSON.parse(second.stdout) as { token: string; name: string };
    expect(parsed.name).toBe('ops');
    expect((await fetch(`${host.url}/v1/tokens`, { headers: bearer(parsed.token) })).status).toBe(200);
  });

  it('refuses without the cluster secret (a wrong one is refused by the tier), writing nothing', async () => {
    const none = await runCli(['token', 'bootstrap', '--kvs', kv.url, '--name', 'nosecret'], { CLOUDBURST_CLUSTER_SECRET: '' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('needs the cluster secret');
    const wrong = await runCli(['token', 'bootstrap', '--kvs', kv.url, '--name', 'wrongsecret'], { CLOUDBURST_CLUSTER_SECRET: testSecret().toString('utf8') });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout.trim()).toBe('');
    const admin = await runCli(['token', 'bootstrap', '--kvs', kv.url, '--name', 'check', '--json'], env);
    const { token } = JSON.parse(admin.stdout) as { token: string };
    const { tokens } = (await (await fetch(`${host.url}/v1/tokens`, { headers: bearer(token) })).json()) as { tokens: { name: string }[] };
    expect(tokens.map((t) => t.name)).not.toContain('nosecret');
    expect(tokens.map((t) => t.name)).not.toContain('wrongsecret');
  });
});
