import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startHost, type Host, type HostOptions } from '../../host/index.ts';
import { startKvNode, type KvNode } from '../../kvs/index.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { signRequest, TENANT_HEADER } from '../../common/index.ts';
import { dataDirClusterSecret } from '../../tools/cli/cluster-secret.ts';
import { adminToken } from '../../tools/cli/embedded.ts';
import { withMallocTuning } from '../../tools/cli/malloc-env.ts';
import { guestPath } from '../setup/build-guests.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The value of an unlabelled gauge or counter in a host's `/metrics` (by URL or client).
 * @throws when the host does not report it (a renamed metric must fail the test, not read 0).
 */
export async function metric(host: string | HostClient, name: string): Promise<number> {
  const text = typeof host === 'string' ? await (await fetch(`${host}/metrics`, { headers: bearer(tokenOf(host)) })).text() : (await host.request('GET', '/metrics')).body.toString();
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
  /** A client of the host that sends the admin token. */
  client: HostClient;
  dataDir: string;
  /** The admin token (tenant default), provisioned before the host started; undefined when insecure. */
  token: string | undefined;
  /** `{authorization: 'Bearer <admin token>'}` ({} when insecure): for fetch, rawRequest, undici. */
  headers: Record<string, string>;
  /** The cluster secret of the KV node and the host (undefined when insecure). */
  clusterSecret: Buffer | undefined;
  /** A client that signs its requests with the cluster secret, as another host does: for internal routes. */
  internal: HostClient;
  /** What another host of this platform needs: the same credential (spread into startHost's options). */
  auth: { clusterSecret: Buffer } | { insecure: true };
  deploy(module: string, guest?: string): Promise<unknown>;
  call(fn: string, args: unknown[], extra?: Record<string, unknown>): Promise<unknown>;
  /** Stops host and KV node; `keepData` leaves the folder for a restart. */
  stop(keepData?: boolean): Promise<void>;
}

/**
 * The admin token of the platform (or cluster) a host URL belongs to, registered by the helpers
 * that start them: so the helpers that take a bare URL (`metric`, cluster.ts `json`) send it.
 */
const tokens = new Map<string, string>();
/** Clusters whose hosts move (a supervised host restarts on a new port): asked by origin. */
const sources = new Set<(origin: string) => string | undefined>();

export function registerToken(url: string, token: string | undefined): void {
  if (token !== undefined) tokens.set(new URL(url).origin, token);
}

/** Registers a lookup of tokens by origin; returns its removal. */
export function registerTokenSource(source: (origin: string) => string | undefined): () => void {
  sources.add(source);
  return () => sources.delete(source);
}

export function tokenOf(url: string): string | undefined {
  const origin = new URL(url).origin;
  const known = tokens.get(origin);
  if (known !== undefined) return known;
  for (const source of sources) {
    const token = source(origin);
    if (token !== undefined) return token;
  }
  return undefined;
}

/** A client of a host's internal routes: every request signed with the cluster secret, as a host signs them. */
export class ClusterClient extends HostClient {
  readonly #secret: Buffer;

  constructor(url: string, secret: Buffer) {
    super(url);
    this.#secret = secret;
  }

  override request(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: string | Uint8Array, headers: Record<string, string> = {}): ReturnType<HostClient['request']> {
    return super.request(method, path, body, { ...signRequest(this.#secret, method, path, headers[TENANT_HEADER]), ...headers });
  }
}

/**
 * The credential of a platform a test puts together itself: the cluster secret kept in `dir`
 * (for the KV node and every host), then `adminToken(kv.url, secret, dir)` once the tier runs.
 */
export function clusterAuth(dir: string): { clusterSecret: Buffer } {
  return { clusterSecret: dataDirClusterSecret(dir) };
}
export { adminToken };

/** `fetch` with the admin token of the platform or cluster `url` belongs to (`tokenOf`). */
export function hostFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, headers: { ...bearer(tokenOf(url)), ...(init.headers as Record<string, string> | undefined) } });
}

/** `{authorization: 'Bearer <token>'}`, or nothing for no token. */
export function bearer(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/**
 * A KV node and a host in this process, on free ports, over a temp folder (or `dataDir`), with
 * authentication on: a cluster secret (kept in `<dataDir>/cluster-secret` so a restart on the
 * same folder reuses it) and an admin token provisioned in the tier before the host starts
 * (`<dataDir>/admin-token`, the file `cloudburst up` writes). `insecure: true` only for tests of
 * insecure mode.
 */
export async function startPlatform(opts: Partial<HostOptions> & { dataDir?: string } = {}): Promise<Platform> {
  const dataDir = opts.dataDir ?? (await tempDir());
  const clusterSecret = opts.insecure === true ? undefined : (opts.clusterSecret ?? dataDirClusterSecret(dataDir));
  const auth = clusterSecret === undefined ? { insecure: true as const } : { clusterSecret };
  const kv = await startKvNode({ dataDir: join(dataDir, 'kv'), port: 0, ...auth });
  let host: Host;
  let token: string | undefined;
  try {
    token = clusterSecret === undefined ? undefined : await adminToken(kv.url, clusterSecret, dataDir);
    host = await startHost({ workers: 2, ...opts, ...auth, dataDir: join(dataDir, 'host'), kvsUrl: kv.url, port: 0, onGuestLog: opts.onGuestLog ?? (() => undefined) });
  } catch (err) {
    await kv.close();
    throw err;
  }
  const client = new HostClient(host.url, { token });
  const internal = clusterSecret === undefined ? new HostClient(host.url) : new ClusterClient(host.url, clusterSecret);
  registerToken(host.url, token);
  return {
    host, kv, client, internal, dataDir, token, headers: bearer(token), clusterSecret, auth,
    deploy: (module, guest = module) => client.json('PUT', `/v1/modules/${module}`, guestBytes(guest), true),
    call: async (fn, args, extra = {}) => (await client.json<{ result: unknown }>('POST', `/v1/functions/${fn}/call`, { args, ...extra })).result,
    stop: async (keepData = false) => {
      await client.close();
      await internal.close();
      await host.close();
      await kv.close();
      if (!keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function readTokenFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
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

/**
 * Runs the real CLI (`tools/bin/cloudburst.js`) to completion, in `cwd` (where `cloudburst up`
 * keeps `.cloudburst/` by default), with `input` on its stdin (else none). No token comes from
 * the test runner's environment or its user's config file unless `env` gives one.
 */
export function runCli(args: string[], env: Record<string, string> = {}, cwd = ROOT, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const isolated = { CLOUDBURST_TOKEN: '', XDG_CONFIG_HOME: join(tmpdir(), 'cb-test-no-config') };
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...isolated, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/**
 * Starts `cloudburst up` as a child process (in `cwd`, default the repository; `env` added to
 * this one's) and resolves once it printed that it is up, with the admin token it wrote in its
 * data folder (registered for its host URL: `hostFetch`).
 */
export async function startUpProcess(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ child: ChildProcess; output: () => string; token: string | undefined }> {
  const cwd = opts.cwd ?? ROOT;
  // As the `cloudburst` command's `#!` line and `npm start` run it (tools/cli/malloc-env.ts).
  const child = spawn(process.execPath, [CLI, 'up', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: withMallocTuning({ ...process.env, ...opts.env }) });
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
  const data = args.indexOf('--data');
  const token = readTokenFile(join(resolve(cwd, data < 0 ? '.cloudburst' : args[data + 1]!), 'admin-token'));
  for (const m of output.matchAll(/host API (https?:\/\/[\d.:]+)/g)) registerToken(m[1]!, token);
  return { child, output: () => output, token };
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

const tenantTokens = new WeakMap<Platform, Map<string, Promise<string>>>();

/**
 * A token of tenant `name` with `scopes` on platform `p`, as that tenant's user holds one: the
 * tenant (with `quotas`, if given) and the token are created through the admin API on first use,
 * then reused. Tenant `default` gets the platform's admin token.
 */
export function tenantToken(p: Platform, name: string, opts: { scopes?: string[]; quotas?: Record<string, unknown> } = {}): Promise<string> {
  if (name === 'default') return Promise.resolve(p.token!);
  const scopes = opts.scopes ?? ['deploy', 'invoke', 'state', 'read'];
  let byKey = tenantTokens.get(p);
  if (!byKey) tenantTokens.set(p, (byKey = new Map()));
  const key = `${name} ${scopes.join(',')}`;
  let token = byKey.get(key);
  if (!token) {
    token = (async () => {
      const made = await p.client.request('POST', '/v1/tenants', JSON.stringify({ name, ...(opts.quotas ? { quotas: opts.quotas } : {}) }), { 'content-type': 'application/json' });
      if (made.status !== 201 && made.status !== 409) throw new Error(`creating tenant ${name}: ${made.status} ${made.body.toString()}`);
      const { token: t } = await p.client.json<{ token: string }>('POST', '/v1/tokens', { tenant: name, scopes, name: `${name}-${byKey!.size}` });
      return t;
    })();
    byKey.set(key, token);
  }
  return token;
}

/** `{authorization: 'Bearer …'}` of `tenantToken(p, name)`. */
export async function tenantHeaders(p: Platform, name: string): Promise<Record<string, string>> {
  return bearer(await tenantToken(p, name));
}

/** Whether a process of this machine is still running (signal 0 only checks). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
