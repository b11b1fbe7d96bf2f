import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHost, type Host, type HostOptions } from '../../host/index.ts';
import { startKvNode, type KvNode } from '../../kvs/index.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { guestPath } from '../setup/build-guests.ts';
import { testSecret } from './cluster-secret.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The value of an unlabelled gauge or counter in a host's `/metrics` (by URL or client).
 * @throws when the host does not report it (a renamed metric must fail the test, not read 0).
 */
export async function metric(host: string | HostClient, name: string): Promise<number> {
  const text = typeof host === 'string' ? await (await fetch(`${host}/metrics`)).text() : (await host.request('GET', '/metrics')).body.toString();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`the host reports no metric ${name}`);
  return Number(m[1]);
}
export const CLI = join(ROOT, 'tools', 'bin', 'cloudburst.js');

export async function tempDir(prefix = 'cb-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export function guestBytes(name: string): Buffer {
  return readFileSync(guestPath(name));
}

export interface Platform {
  host: Host;
  kv: KvNode;
  client: HostClient;
  dataDir: string;
  /** The cluster secret the KV node and the host share (sign requests straight to the node with it). */
  clusterSecret: Buffer;
  deploy(module: string, guest?: string): Promise<unknown>;
  call(fn: string, args: unknown[], extra?: Record<string, unknown>): Promise<unknown>;
  /** Stops host and KV node; `keepData` leaves the folder for a restart. */
  stop(keepData?: boolean): Promise<void>;
}

/**
 * A KV node and a host in this process, on free ports, over a temp folder (or `dataDir`),
 * sharing a new cluster secret (or `clusterSecret`).
 */
export async function startPlatform(opts: Partial<HostOptions> & { dataDir?: string } = {}): Promise<Platform> {
  const dataDir = opts.dataDir ?? (await tempDir());
  const clusterSecret = opts.clusterSecret ?? testSecret();
  const kv = await startKvNode({ dataDir: join(dataDir, 'kv'), port: 0, clusterSecret });
  const host = await startHost({ workers: 2, ...opts, clusterSecret, dataDir: join(dataDir, 'host'), kvsUrl: kv.url, port: 0, onGuestLog: opts.onGuestLog ?? (() => undefined) });
  const client = new HostClient(host.url);
  return {
    host, kv, client, dataDir, clusterSecret,
    deploy: (module, guest = module) => client.json('PUT', `/v1/modules/${module}`, guestBytes(guest), true),
    call: async (fn, args, extra = {}) => (await client.json<{ result: unknown }>('POST', `/v1/functions/${fn}/call`, { args, ...extra })).result,
    stop: async (keepData = false) => {
      await client.close();
      await host.close();
      await kv.close();
      if (!keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Runs the real CLI (`tools/bin/cloudburst.js`) to completion. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Starts `cloudburst up` as a child process (`env` added to this one's) and resolves once it printed that it is up. */
export async function startUpProcess(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [CLI, 'up', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cloudburst up did not start:\n${output}`)), 90_000);
    const check = (): void => {
      if (output.includes('stop: Ctrl-C')) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cloudburst up exited with ${code}:\n${output}`));
    });
  });
  return { child, output: () => output };
}

/** Polls `probe` until `ok` accepts its value (for hooks, where expect.poll is not allowed). */
export async function waitFor<T>(probe: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < deadline);
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}
