/**
 * The CLI and the cluster secret: `cloudburst kvs` and `host` start only with a secret (from
 * --cluster-secret-file or CLOUDBURST_CLUSTER_SECRET) or --insecure, which warns at every
 * start; `cloudburst up` keeps one in its data folder (mode 0600) and reuses it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newClusterSecret, signRequest } from '../../common/index.ts';
import { KV_PATHS } from '../../kvs/index.ts';
import { CLI, ROOT, runCli, startUpProcess, tempDir } from '../helpers/platform.ts';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('cb-secret-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** No secret from this process's environment leaks into the commands under test. */
const NO_SECRET = { CLOUDBURST_CLUSTER_SECRET: '' };

/** Starts `cloudburst <args>` and resolves with its URL once it listens. */
async function startServer(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; url: string; stderr: () => string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (http:\/\/[\d.:]+)/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`cloudburst ${args.join(' ')} exited: ${stdout}${stderr}`)));
  });
  return { child, url, stderr: () => stderr, stop };
}

const ringStatus = async (url: string, secret?: Buffer): Promise<number> =>
  (await fetch(`${url}${KV_PATHS.ring}`, { headers: secret ? signRequest(secret, 'GET', KV_PATHS.ring) : {} })).status;

describe('cli: the cluster secret', () => {
  it('cloudburst kvs and host refuse to start without a secret or --insecure, and with a secret too short', async () => {
    const kvs = await runCli(['kvs', '--port', '0', '--data', join(dir, 'none')], NO_SECRET);
    expect({ code: kvs.code, stderr: kvs.stderr }).toMatchObject({ code: 1, stderr: expect.stringMatching(/cloudburst kvs needs the cluster secret: --cluster-secret-file PATH or CLOUDBURST_CLUSTER_SECRET.*or --insecure/) });
    const host = await runCli(['host', '--port', '0', '--data', join(dir, 'none-host'), '--kvs', '127.0.0.1:1'], NO_SECRET);
    expect({ code: host.code, stderr: host.stderr }).toMatchObject({ code: 1, stderr: expect.stringMatching(/cloudburst host needs the cluster secret/) });
    const file = join(dir, 'short-secret');
    writeFileSync(file, 'short\n');
    const short = await runCli(['kvs', '--port', '0', '--data', join(dir, 'short'), '--cluster-secret-file', file], NO_SECRET);
    expect({ code: short.code, stderr: short.stderr }).toMatchObject({ code: 1, stderr: expect.stringMatching(/is 5 bytes; it must be at least 32/) });
    const missing = await runCli(['kvs', '--port', '0', '--data', join(dir, 'missing'), '--cluster-secret-file', join(dir, 'nope')], NO_SECRET);
    expect({ code: missing.code, stderr: missing.stderr }).toMatchObject({ code: 1, stderr: expect.stringMatching(/cannot read the cluster secret file/) });
  });

  it('cloudburst kvs takes the secret from CLOUDBURST_CLUSTER_SECRET or --cluster-secret-file: unsigned requests are 401, signed ones served', async () => {
    const text = newClusterSecret();
    const secret = Buffer.from(text);
    const byEnv = await startServer(['kvs', '--port', '0', '--data', join(dir, 'env')], { CLOUDBURST_CLUSTER_SECRET: text });
    try {
      expect([await ringStatus(byEnv.url), await ringStatus(byEnv.url, Buffer.from(newClusterSecret())), await ringStatus(byEnv.url, secret)]).toEqual([401, 401, 200]);
      expect(byEnv.stderr()).not.toContain('WARNING');
    } finally {
      await byEnv.stop();
    }
    const file = join(dir, 'secret-file');
    writeFileSync(file, `${text}\n`, { mode: 0o600 });
    const byFile = await startServer(['kvs', '--port', '0', '--data', join(dir, 'file'), '--cluster-secret-file', file], NO_SECRET);
    try {
      expect([await ringStatus(byFile.url), await ringStatus(byFile.url, secret)]).toEqual([401, 200]);
    } finally {
      await byFile.stop();
    }
  });

  it('cloudburst kvs --insecure serves anyone and warns on stderr at every start', async () => {
    for (let start = 0; start < 2; start++) {
      const open = await startServer(['kvs', '--port', '0', '--data', join(dir, 'insecure'), '--insecure'], NO_SECRET);
      try {
        expect(await ringStatus(open.url)).toBe(200);
        expect(open.stderr()).toMatch(/^WARNING: cloudburst kvs --insecure: no authentication/m);
      } finally {
        await open.stop();
      }
    }
  });

  it('cloudburst up creates <data>/cluster-secret (0600) on first start and reuses it; its KV node wants it', async () => {
    const data = join(dir, 'up');
    const args = ['--data', data, '--port', '0', '--kvs-port', '0', '--no-examples', '--workers', '1'];
    const kvUrl = (output: string) => /KV node (http:\/\/[\d.:]+)/.exec(output)![1]!;
    let up = await startUpProcess(args, { env: NO_SECRET });
    let first: string;
    try {
      const file = join(data, 'cluster-secret');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      first = readFileSync(file, 'utf8').trim();
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      const url = kvUrl(up.output());
      expect([await ringStatus(url), await ringStatus(url, Buffer.from(first))]).toEqual([401, 200]);
    } finally {
      up.child.kill('SIGINT');
      await new Promise((r) => up.child.once('exit', r));
    }
    up = await startUpProcess(args, { env: NO_SECRET });
    try {
      expect(readFileSync(join(data, 'cluster-secret'), 'utf8').trim()).toBe(first);
      expect(await ringStatus(kvUrl(up.output()), Buffer.from(first))).toBe(200);
    } finally {
      up.child.kill('SIGINT');
      await new Promise((r) => up.child.once('exit', r));
    }
  }, 180_000);
});
