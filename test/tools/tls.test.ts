// The host API over TLS, end to end, with a self-signed certificate made by openssl: the CLI
// against `cloudburst up --tls-cert/--tls-key` with --ca (and without it), a DAG between two
// TLS hosts, the KV tier's pushes to a TLS host, plain HTTP sent to the TLS port, and bad
// certificate files at startup.
import type { ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { testSecret } from '../helpers/cluster-secret.ts';
import { startKvNode, type KvNode } from '../../kvs/index.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { adminToken, guestBytes, metric, runCli, startUpProcess, tempDir, waitFor } from '../helpers/platform.ts';
import { selfSignedCert, type SelfSigned } from '../helpers/tls.ts';
import { guestPath } from '../setup/build-guests.ts';

/** The CLI with no TLS settings from the environment of whoever runs the tests. */
const NO_TLS_ENV = { CLOUDBURST_CA: '', CLOUDBURST_TLS_CERT: '', CLOUDBURST_TLS_KEY: '', CLOUDBURST_URL: '' };

/** Sends `text` on a plain TCP connection and resolves with everything read until it closes. */
function rawExchange(port: number, text: string): Promise<{ data: string; error: string | undefined }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let error: string | undefined;
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
    socket.on('close', () => resolve({ data, error }));
    socket.write(text);
  });
}

describe('cloudburst up over TLS, and the CLI with --ca', () => {
  let dir: string;
  let cert: SelfSigned;
  let up: { child: ChildProcess; output: () => string; token: string | undefined };
  let url: string;
  /** The CLI's environment: no TLS settings of the machine's, and the admin token `up` wrote in its data folder. */
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await tempDir('cb-tls-up-');
    cert = await selfSignedCert(dir);
    up = await startUpProcess(['--data', join(dir, 'data'), '--port', '0', '--no-examples', '--workers', '2', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile]);
    url = /host API (\S+),/.exec(up.output())![1]!;
    env = { ...NO_TLS_ENV, CLOUDBURST_TOKEN: up.token! };
  });
  afterAll(async () => {
    if (up && up.child.exitCode === null) {
      await new Promise<void>((resolve) => {
        up.child.once('exit', () => resolve());
        up.child.kill('SIGTERM');
      });
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('the host API is at an https:// URL, and `up` says how to call it with --ca', () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(up.output()).toContain(`--url ${url} --ca ${cert.certFile}`);
  });

  it('deploy and call through the CLI with --ca, and with CLOUDBURST_CA', async () => {
    const deploy = await runCli(['fn', 'deploy', guestPath('math'), '--name', 'mine', '--url', url, '--ca', cert.certFile], env);
    expect(deploy.stderr).toBe('');
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).toContain('mine.square(');
    const call = await runCli(['fn', 'call', 'mine.square', '7'], { ...env, CLOUDBURST_URL: url, CLOUDBURST_CA: cert.certFile });
    expect(call).toMatchObject({ code: 0, stdout: '49\n' });
    // The KV node of `up` pushes to its https host: it trusts the host's certificate.
    const put = await runCli(['kv', 'put', 'tls-key', 'v1', '--url', url, '--ca', cert.certFile], env);
    expect(put.code).toBe(0);
    const get = await runCli(['kv', 'get', 'tls-key', '--url', url, '--ca', cert.certFile], env);
    expect(get).toMatchObject({ code: 0, stdout: 'v1\n' });
  });

  it('a CLI without the CA is refused: a certificate error, a message that says to pass --ca, exit code 2', async () => {
    const out = await runCli(['fn', 'list', '--url', url], NO_TLS_ENV);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^error HOST_UNAVAILABLE: .*certificate this client does not trust \(self-signed certificate\).*--ca FILE/);
    // Another certificate's CA is no better.
    const other = await selfSignedCert(dir, 'other');
    const wrong = await runCli(['fn', 'list', '--url', url, '--ca', other.certFile], NO_TLS_ENV);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/does not trust/);
  });

  it('plain HTTP to the TLS port: the CLI and curl-like clients get a 400 that says to use https://', async () => {
    const plainUrl = url.replace(/^https:/, 'http:');
    const out = await runCli(['fn', 'list', '--url', plainUrl], NO_TLS_ENV);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('error INVALID_REQUEST: this port speaks HTTPS: send the request to https://');
  });

  it('a missing or bad certificate file stops `cloudburst host` at startup with a clear error, exit code 1', async () => {
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, 'not PEM\n');
    const args = ['host', '--port', '0', '--data', join(dir, 'bad-host'), '--kvs', '127.0.0.1:1'];
    const missing = await runCli([...args, '--tls-cert', join(dir, 'nope.pem'), '--tls-key', cert.keyFile], NO_TLS_ENV);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error INVALID_REQUEST: cannot read the TLS certificate .*nope\.pem/);
    const bad = await runCli([...args, '--tls-cert', garbage, '--tls-key', cert.keyFile], NO_TLS_ENV);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error INVALID_REQUEST: the TLS certificate .*garbage\.pem holds no PEM certificate/);
    const alone = await runCli([...args, '--tls-cert', cert.certFile], NO_TLS_ENV);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/needs its key/);
    const badCa = await runCli(['fn', 'list', '--url', url, '--ca', garbage], NO_TLS_ENV);
    expect(badCa.code).toBe(1);
    expect(badCa.stderr).toMatch(/^error INVALID_REQUEST: the CA file .*garbage\.pem holds no PEM certificate/);
  });
});

/** The POST requests a host answered with 204, pushes among them (its `cloudburst_http_requests_total`). */
async function postsAnswered(client: HostClient): Promise<number> {
  const text = (await client.request('GET', '/metrics')).body.toString();
  return Number(/^cloudburst_http_requests_total\{method="POST",status="204"\} (\S+)$/m.exec(text)?.[1] ?? 0);
}

describe('two TLS hosts and a KV node', () => {
  let dir: string;
  let cert: SelfSigned;
  let kv: KvNode;
  let a: Host;
  let b: Host;
  let clientA: HostClient;
  let clientB: HostClient;

  beforeAll(async () => {
    dir = await tempDir('cb-tls-hosts-');
    cert = await selfSignedCert(dir);
    const clusterSecret = testSecret();
    kv = await startKvNode({ dataDir: join(dir, 'kv'), port: 0, ca: cert.cert, clusterSecret });
    // A lease far longer than the test: B's cache learns of a change only by a push (no
    // renewal reads the key again meanwhile).
    const host = (name: string) => startHost({
      dataDir: join(dir, name), kvsUrl: kv.url, port: 0, workers: 2, explore: 0, subscriptionTtlMs: 600_000,
      tls: { cert: cert.cert, key: cert.key }, ca: cert.cert, clusterSecret, onGuestLog: () => undefined,
    });
    [a, b] = await Promise.all([host('a'), host('b')]);
    const token = await adminToken(kv.url, clusterSecret, dir);
    clientA = new HostClient(a.url, { connections: 4, ca: cert.cert, token });
    clientB = new HostClient(b.url, { connections: 4, ca: cert.cert, token });
    await clientA.json('PUT', '/v1/modules/math', guestBytes('math'), true);
  });
  afterAll(async () => {
    await clientA?.close();
    await clientB?.close();
    await a?.close();
    await b?.close();
    await kv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a DAG coordinated on one host runs its step on the other: schedules, results and the answer cross TLS', async () => {
    expect([a.url, b.url].every((u) => u.startsWith('https://'))).toBe(true);
    await waitFor(() => clientA.json<{ peers: { id: string }[] }>('GET', '/v1/cluster'), (v) => v.peers.some((p) => p.id === b.id), 30_000, 'host a to see host b');
    await clientA.json('PUT', '/v1/dags/pipeline', { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] });
    for (const [inc, sq] of [[a, b], [b, a]] as const) {
      const out = await clientA.json<{ result: unknown; hosts: Record<string, string> }>('POST', '/v1/dags/pipeline/call', {
        args: { 'math.increment': [6] }, placement: { 'math.increment': inc.id, 'math.square': sq.id },
      });
      expect(out).toMatchObject({ result: 49, hosts: { 'math.increment': inc.id, 'math.square': sq.id } });
    }
  });

  it('the KV tier pushes a change written through one host to the cache of the other, over TLS', async () => {
    await clientA.request('PUT', '/v1/kv/pushed', 'v0');
    expect(await clientB.json('GET', '/v1/kv/pushed')).toMatchObject({ value: 'v0' });
    await waitFor(() => metric(clientB, 'cloudburst_subscribed_keys'), (n) => n >= 1, 30_000, 'host b to subscribe to the key');
    await clientA.request('PUT', '/v1/kv/pushed', 'v1');
    // v1 may reach b by the read that follows b's subscribe landing at the tier (the gauge
    // above counts the key before it lands); once b has it, b is subscribed, and the next
    // change can reach it only by a push.
    await waitFor(() => clientB.json<{ value: string }>('GET', '/v1/kv/pushed'), (v) => v.value === 'v1', 30_000, 'v1 to reach host b');
    // Host b answers POSTs with 204 only for pushes (and direct messages, of which there are none).
    const postsBefore = await postsAnswered(clientB);
    await clientA.request('PUT', '/v1/kv/pushed', 'v2');
    const seen = await waitFor(() => clientB.json<{ value: string }>('GET', '/v1/kv/pushed'), (v) => v.value === 'v2', 30_000, 'the change to reach host b');
    expect(seen.value).toBe('v2');
    expect(await postsAnswered(clientB)).toBeGreaterThan(postsBefore);
  });

  it('plain HTTP to a TLS host gets a 400 in plain HTTP, and the host goes on serving', async () => {
    const { data, error } = await rawExchange(b.port, 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(error).toBeUndefined();
    expect(data).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(data.toLowerCase()).toContain('connection: close');
    expect(JSON.parse(data.slice(data.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'INVALID_REQUEST', message: 'this port speaks HTTPS: send the request to https://' } });
    expect((await clientB.request('GET', '/healthz')).status).toBe(200);
  });

  it('a host given a key that is not its certificate\'s does not start', async () => {
    const other = await selfSignedCert(dir, 'other');
    await expect(startHost({ dataDir: join(dir, 'c'), kvsUrl: kv.url, port: 0, clusterSecret: testSecret(), tls: { cert: cert.cert, key: other.key } })).rejects.toMatchObject({
      code: 'INVALID_REQUEST', message: expect.stringContaining('is not the private key of the certificate'),
    });
  });
});
