/**
 * Where processes listen and what they announce, with real `cloudburst kvs` and `cloudburst host`
 * processes configured by environment variables only (tools/cli/flags.ts): listening on every
 * interface, they announce the --advertise URL (in the KV ring, in the hosts' directory) and
 * serve; a wildcard without --advertise is refused before anything opens; a bad variable is
 * named in the error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KV_PATHS } from '../../kvs/index.ts';
import { CLI, freePort, ROOT, runCli, tempDir, waitFor } from '../helpers/platform.ts';

let dir: string;
const started: ChildProcess[] = [];
beforeAll(async () => {
  dir = await tempDir('cb-addr-');
});
afterAll(async () => {
  await Promise.all(started.map((c) => new Promise<void>((done) => {
    if (c.exitCode !== null || c.signalCode !== null) return done();
    c.once('exit', () => done());
    c.kill('SIGTERM');
  })));
  await rm(dir, { recursive: true, force: true });
});

/** No CLOUDBURST_* variable of the machine running the tests reaches the processes. */
const CLEAN = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('CLOUDBURST_')).map((k) => [k, '']));

/** Starts `cloudburst <args>` with `env` and resolves with the URL it prints once it listens. */
async function start(args: string[], env: Record<string, string>): Promise<{ url: string; stdout: () => string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...CLEAN, ...env } });
  started.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (\S+)/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`cloudburst ${args.join(' ')} exited ${code}: ${stdout}${stderr}`)));
  });
  return { url, stdout: () => stdout };
}

describe('addresses: --listen and --advertise, from the environment', () => {
  it('a KV node and two hosts listening on 0.0.0.0 announce their advertised URLs, in the ring and the directory, and serve', async () => {
    const [kvPort, h1Port, h2Port] = [await freePort(), await freePort(), await freePort()];
    const common = { CLOUDBURST_LISTEN: '0.0.0.0', CLOUDBURST_INSECURE: '1' };
    const kv = await start(['kvs'], { ...common, CLOUDBURST_PORT: String(kvPort), CLOUDBURST_ADVERTISE: `http://127.0.0.1:${kvPort}`, CLOUDBURST_DATA: join(dir, 'kv') });
    expect(kv.url).toBe(`http://127.0.0.1:${kvPort}`);
    // The KV node's identity in the membership is the advertised URL.
    const ring = (await (await fetch(`${kv.url}${KV_PATHS.ring}`)).json()) as { members: { url: string }[] };
    expect(ring.members.map((m) => m.url)).toEqual([`http://127.0.0.1:${kvPort}`]);
    expect(existsSync(join(dir, 'kv'))).toBe(true); // CLOUDBURST_DATA was read

    const hostEnv = (port: number, name: string): Record<string, string> => ({
      ...common, CLOUDBURST_PORT: String(port), CLOUDBURST_ADVERTISE: `http://127.0.0.1:${port}`, CLOUDBURST_KVS: `127.0.0.1:${kvPort}`, CLOUDBURST_DATA: join(dir, name),
    });
    const h1 = await start(['host'], hostEnv(h1Port, 'h1'));
    const h2 = await start(['host'], hostEnv(h2Port, 'h2'));
    expect([h1.url, h2.url]).toEqual([`http://127.0.0.1:${h1Port}`, `http://127.0.0.1:${h2Port}`]);
    expect((await fetch(`${h1.url}/healthz`)).status).toBe(200);
    // Each host's directory record names the other by its advertised URL.
    const view = await waitFor(
      async () => (await (await fetch(`${h1.url}/v1/cluster`)).json()) as { host: { url: string }; peers: { url: string }[] },
      (v) => v.peers.length === 1,
      15_000, 'host 1 sees host 2',
    );
    expect(view.host.url).toBe(h1.url);
    expect(view.peers.map((p) => p.url)).toEqual([h2.url]);
    // And it serves: a value written through one host is read through the other.
    expect((await fetch(`${h1.url}/v1/kv/addr-key?type=lww`, { method: 'PUT', body: 'v1' })).status).toBe(200);
    const read = await fetch(`${h2.url}/v1/kv/addr-key`);
    expect(read.status).toBe(200);

    // cluster status, given the KV node by CLOUDBURST_KVS, shows the advertised URL.
    const status = await runCli(['cluster', 'status', '--json'], { ...CLEAN, CLOUDBURST_KVS: `127.0.0.1:${kvPort}` });
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as { url: string; detail: { members?: number } }[])[0]).toMatchObject({ url: `http://127.0.0.1:${kvPort}`, detail: { members: 1 } });
  });

  it('--listen 0.0.0.0 (or ::) without --advertise is refused with INVALID_REQUEST before anything opens', async () => {
    const kvData = join(dir, 'refused-kv');
    const kvs = await runCli(['kvs', '--insecure', '--port', '0', '--data', kvData], { ...CLEAN, CLOUDBURST_LISTEN: '0.0.0.0' });
    expect(kvs.code).toBe(1);
    expect(kvs.stderr).toMatch(/error INVALID_REQUEST: --listen 0\.0\.0\.0 needs --advertise URL: /);
    expect(existsSync(kvData)).toBe(false);
    const hostData = join(dir, 'refused-host');
    const host = await runCli(['host', '--insecure', '--listen', '::', '--port', '0', '--data', hostData, '--kvs', '127.0.0.1:1'], CLEAN);
    expect(host.code).toBe(1);
    expect(host.stderr).toMatch(/error INVALID_REQUEST: --listen :: needs --advertise URL/);
    expect(existsSync(hostData)).toBe(false);
    // up with several processes: --advertise cannot name them all.
    const up = await runCli(['up', '--insecure', '--kvs-nodes', '2', '--data', join(dir, 'refused-up')], { ...CLEAN, CLOUDBURST_ADVERTISE: 'http://10.0.0.5:7070' });
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/error INVALID_REQUEST: --advertise names one process/);
  });

  it('a bad value from the environment is named by its variable; the command line wins over it', async () => {
    const bad = await runCli(['kvs', '--insecure', '--data', join(dir, 'bad')], { ...CLEAN, CLOUDBURST_PORT: 'seventy' });
    expect(bad.code).toBe(64); // a usage error (tools/cli/exit.ts), found before anything starts
    expect(bad.stderr).toMatch(/error INVALID_REQUEST: CLOUDBURST_PORT \(--port\) must be a whole number/);
    const boolean = await runCli(['kvs', '--data', join(dir, 'bad')], { ...CLEAN, CLOUDBURST_INSECURE: 'yes' });
    expect(boolean.stderr).toMatch(/error INVALID_REQUEST: CLOUDBURST_INSECURE="yes"/);
    // The flag beats the variable: this node listens where --listen says.
    const port = await freePort();
    const kv = await start(['kvs', '--listen', '127.0.0.1', '--port', String(port), '--data', join(dir, 'wins')], { CLOUDBURST_LISTEN: '0.0.0.0', CLOUDBURST_INSECURE: 'true' });
    expect(kv.url).toBe(`http://127.0.0.1:${port}`);
  });
});
