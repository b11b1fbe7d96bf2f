import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/platform.ts';

// deploy/kv-prestop.js, the KV StatefulSet's preStop hook, against a stand-in for the
// Kubernetes API on loopback (HTTPS with its own CA, as in a pod): it writes <data>/leave only
// when the pod's ordinal is at or above the StatefulSet's desired replicas.
describe('the KV preStop hook', () => {
  let dir: string;
  let server: Server;
  let port: number;
  let answer: { status: number; body: unknown };
  const seen: { url: string | undefined; auth: string | undefined }[] = [];

  beforeAll(async () => {
    dir = await tempDir('cb-prestop-');
    const sa = join(dir, 'sa');
    mkdirSync(sa);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(sa, 'ca.crt'), '-subj', '/CN=kubernetes', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
    writeFileSync(join(sa, 'token'), 'sa-token\n');
    writeFileSync(join(sa, 'namespace'), 'cloudburst');
    server = createServer({ cert: readFileSync(join(sa, 'ca.crt')), key: readFileSync(join(dir, 'key.pem')) }, (req, res) => {
      seen.push({ url: req.url, auth: req.headers.authorization });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  async function run(podName: string): Promise<{ code: number | null; stdout: string; leave: boolean }> {
    const data = join(dir, `data-${podName}-${seen.length}`);
    mkdirSync(data);
    const env = { ...process.env, POD_NAME: podName, CLOUDBURST_DATA: data, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port), KV_PRESTOP_SA_DIR: join(dir, 'sa'), KV_PRESTOP_LOG: join(dir, 'node-stdout') };
    const child = spawn(process.execPath, [join(ROOT, 'deploy', 'kv-prestop.js')], { env });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, stdout, leave: existsSync(join(data, 'leave')) };
  }

  const set = (replicas: number, extra: Record<string, unknown> = {}): { status: number; body: unknown } => ({ status: 200, body: { kind: 'StatefulSet', metadata: { name: 'cloudburst-kvs', ...extra }, spec: { replicas } } });

  it('a scale-in from 3 to 2 makes pod 2 leave, and only pod 2; the hook asks for its own StatefulSet with its token', async () => {
    answer = set(2);
    const scaled = await run('cloudburst-kvs-2');
    expect(scaled).toMatchObject({ code: 0, leave: true });
    expect(scaled.stdout).toContain('ordinal 2, 2 replicas: leave');
    // The line also goes to the node's own output (kubectl logs).
    expect(readFileSync(join(dir, 'node-stdout'), 'utf8')).toContain('cloudburst-kvs-2: ordinal 2, 2 replicas: leave');
    expect(seen.at(-1)).toEqual({ url: '/apis/apps/v1/namespaces/cloudburst/statefulsets/cloudburst-kvs', auth: 'Bearer sa-token' });
    expect(await run('cloudburst-kvs-1')).toMatchObject({ code: 0, leave: false });
    expect(await run('cloudburst-kvs-0')).toMatchObject({ code: 0, leave: false });
  });

  it('a restart (rolling update, eviction: replicas unchanged) or the StatefulSet\'s deletion does not leave', async () => {
    answer = set(3);
    expect(await run('cloudburst-kvs-2')).toMatchObject({ code: 0, leave: false });
    answer = set(0, { deletionTimestamp: '2026-01-01T00:00:00Z' });
    expect(await run('cloudburst-kvs-2')).toMatchObject({ code: 0, leave: false });
  });

  it('when the API cannot be asked (forbidden) or the name is not a StatefulSet pod\'s, it stops without leaving and says why', async () => {
    answer = { status: 403, body: { kind: 'Status', reason: 'Forbidden' } };
    const forbidden = await run('cloudburst-kvs-2');
    expect(forbidden).toMatchObject({ code: 0, leave: false });
    expect(forbidden.stdout).toContain('403');
    const odd = await run('kvnode');
    expect(odd).toMatchObject({ code: 0, leave: false });
    expect(odd.stdout).toContain('not a StatefulSet pod name');
  });
});
