import { rm } from 'node:fs/promises';
import { Membership, parseMembers } from '../../kvs/cluster/membership.ts';
import { signRequest } from '../../common/index.ts';
import { KV_PATHS } from '../../kvs/index.ts';
import { startLocalCluster, type ClusterFile, type ClusterProcess } from '../../tools/cli/cluster.ts';
import { signedHeaders } from './cluster-secret.ts';
import { bearer, clusterAuth, guestBytes, registerTokenSource, tempDir, tokenOf, waitFor } from './platform.ts';

/** The credential of a local cluster in `dir`: its cluster secret, created there as `cloudburst up` does. */
export function localClusterAuth(dir: string): { clusterSecret: Buffer } {
  return clusterAuth(dir);
}

/**
 * Makes `json` and `metric` send the cluster's admin token to every host it runs, now and
 * after a restart on another port (`file.processes` is kept current). Returns the removal.
 */
export function registerHosts(cluster: { file: ClusterFile; token: string | undefined }): () => void {
  return registerTokenSource((origin) =>
    cluster.file.processes.some((p) => p.role === 'host' && new URL(p.url).origin === origin) ? cluster.token : undefined);
}

export interface ClusterHost {
  url: string;
  pid: number;
  id: string;
}

export interface HostCluster {
  dir: string;
  file: ClusterFile;
  /** The cluster secret every process got (the data folder's, as `cloudburst up` keeps it; for the internal routes: `signedJson`). */
  clusterSecret: Buffer;
  hosts: ClusterHost[];
  stop(): Promise<void>;
}

/** `fetch` of a JSON route: status, parsed body, and where the call ran (`x-cloudburst-host`). */
export async function json<T>(url: string, method = 'GET', body?: unknown): Promise<{ status: number; body: T; host: string | null }> {
  // The admin token of the cluster the URL belongs to (a KV node's URL has none: registerToken).
  const headers = { ...bearer(tokenOf(url)), ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
  const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as T, host: res.headers.get('x-cloudburst-host') };
}

/** A GET of a KV node's JSON route, signed with the cluster secret. */
export async function kvJson<T>(secret: Buffer, base: string, path: string): Promise<T> {
  const res = await fetch(`${base}${path}`, { headers: signedHeaders(secret, 'GET', path) });
  if (res.status !== 200) throw new Error(`GET ${base}${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The secret a cluster of startLocalCluster runs with (never insecure here). */
function secretOf(cluster: { clusterSecret: Buffer | undefined }): Buffer {
  if (!cluster.clusterSecret) throw new Error('the test cluster runs without a cluster secret');
  return cluster.clusterSecret;
}

/** `json` of a host's cluster-internal route, signed with the cluster secret as a host signs it. */
export async function signedJson<T>(secret: Buffer, url: string, method = 'GET'): Promise<{ status: number; body: T }> {
  const { pathname, search } = new URL(url);
  const res = await fetch(url, { method, headers: signRequest(secret, method, `${pathname}${search}`) });
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * One KV node and `hosts` host processes (`startLocalCluster`, the code behind
 * `cloudburst up --hosts N`), resolved once every host sees all the others; `modules` are
 * deployed through the first host. With `supervise`, a process that dies is started again on
 * its data folder (a new incarnation: a new host id, port and pid; `file.processes` has the
 * port and pid once it is up, its `/v1/cluster` the id).
 */
export async function startHostCluster(opts: { prefix: string; hosts: number; hostArgs?: string[]; modules?: string[]; supervise?: boolean }): Promise<HostCluster> {
  const dir = await tempDir(opts.prefix);
  const cluster = await startLocalCluster({
    dataDir: dir, kvsNodes: 1, hosts: opts.hosts, hostPort: 0, supervise: opts.supervise ?? false, hostArgs: opts.hostArgs ?? [], log: () => undefined,
    ...localClusterAuth(dir),
  });
  const unregister = registerHosts(cluster);
  const stop = async (): Promise<void> => {
    unregister();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const hosts = await Promise.all(cluster.file.processes.filter((p) => p.role === 'host').map(async (p) => {
      const { body } = await json<{ host: { id: string } }>(`${p.url}/v1/cluster`);
      return { url: p.url, pid: p.pid, id: body.host.id };
    }));
    for (const h of hosts) {
      await waitFor(async () => (await json<{ peers: unknown[] }>(`${h.url}/v1/cluster`)).body.peers.length, (n) => n === hosts.length - 1, 10_000, 'every host to see the others');
    }
    for (const m of opts.modules ?? []) {
      const res = await fetch(`${hosts[0]!.url}/v1/modules/${m}`, { method: 'PUT', body: new Uint8Array(guestBytes(m)), headers: bearer(cluster.token) });
      if (res.status !== 200) throw new Error(`deploying ${m}: ${res.status} ${await res.text()}`);
    }
    return { dir, file: cluster.file, clusterSecret: secretOf(cluster), hosts, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A KV node of a cluster, with its node id. */
export type KvProcess = ClusterProcess & { id: string };

export interface SplitCluster {
  kvs: KvProcess[];
  clusterSecret: Buffer;
  /** The two hosts' URLs. */
  hosts: [string, string];
  /** The KV node holding `storageKey` (replication 1: exactly one). */
  ownerOf(storageKey: string): Promise<KvProcess>;
  /** SIGSTOP a process; `resumeAll` (or `resume`) lets it run again. */
  stop(pid: number): void;
  resume(pid: number): void;
  /** Resumes every stopped process: after each test, so that a failed one leaves none stopped. */
  resumeAll(): void;
  close(): Promise<void>;
}

/**
 * Two KV nodes with replication 1 (every key lives on exactly one of them) and two host
 * processes, with `module` deployed: the setup of the tests that stop one KV node (SIGSTOP) to
 * make a write reach one host long before another. Resolves once both nodes see each other up.
 */
export async function startSplitCluster(prefix: string, module: string): Promise<SplitCluster> {
  const dir = await tempDir(prefix);
  const cluster = await startLocalCluster({
    dataDir: dir, kvsNodes: 2, replication: 1, hosts: 2, hostPort: 0, supervise: false, hostArgs: ['--explore', '0'], log: () => undefined,
    ...localClusterAuth(dir),
  });
  const unregister = registerHosts(cluster);
  const stopped = new Set<number>();
  const resume = (pid: number): void => {
    process.kill(pid, 'SIGCONT');
    stopped.delete(pid);
  };
  const resumeAll = (): void => {
    for (const pid of stopped) resume(pid);
  };
  const close = async (): Promise<void> => {
    // A stopped process would not handle SIGTERM: let it run first.
    resumeAll();
    unregister();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const procs = cluster.file.processes;
    const clusterSecret = secretOf(cluster);
    const kvs = await Promise.all(procs.filter((p) => p.role === 'kvs').map(async (p) => ({ ...p, id: (await json<{ node: string }>(`${p.url}${KV_PATHS.healthz}`)).body.node })));
    const hosts = procs.filter((p) => p.role === 'host').map((p) => p.url) as [string, string];
    // Both KV nodes see each other up, so that the placement computed by ownerOf is everyone's.
    for (const k of kvs) {
      await waitFor(async () => (await kvJson<{ members: { state: string }[] }>(clusterSecret, k.url, KV_PATHS.ring)).members.filter((m) => m.state === 'up').length, (n) => n === 2, 15_000, `${k.name} to see both KV nodes up`);
    }
    const put = await fetch(`${hosts[0]}/v1/modules/${module}`, { method: 'PUT', body: new Uint8Array(guestBytes(module)), headers: bearer(cluster.token) });
    if (put.status !== 200) throw new Error(`deploying ${module}: ${put.status} ${await put.text()}`);
    // Each host reads the admin token's record now, while both KV nodes answer: with replication
    // 1 it lives on one of them, which the tests stop (a host goes on with what it read last).
    for (const h of hosts) await json(`${h}${'/v1/functions'}`);
    return {
      kvs, clusterSecret, hosts, resume, resumeAll, close,
      stop: (pid) => {
        stopped.add(pid);
        process.kill(pid, 'SIGSTOP');
      },
      ownerOf: async (storageKey) => {
        const ring = await kvJson<{ members: unknown }>(clusterSecret, kvs[0]!.url, KV_PATHS.ring);
        const [primary] = Membership.of(parseMembers(ring.members)).placement.replicasFor(storageKey);
        const node = kvs.find((k) => k.id === primary?.id);
        if (!node) throw new Error(`no owner for ${storageKey}`);
        return node;
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}
