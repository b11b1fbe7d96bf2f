import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HOST_PATHS } from '../../host/index.ts';
import { KV_PATHS } from '../../kvs/index.ts';
import { PACKAGE_ROOT } from '../build/build.ts';
import { CLUSTER_SECRET_ENV } from './cluster-secret.ts';
import { adminToken } from './embedded.ts';

/** One process of a local cluster, as `cluster.json` records it. */
export interface ClusterProcess {
  role: 'kvs' | 'host';
  name: string;
  url: string;
  pid: number;
  dataDir: string;
}

export interface ClusterFile {
  createdAt: string;
  replication: number;
  processes: ClusterProcess[];
}

export const CLUSTER_FILE = 'cluster.json';

const LAUNCHER = join(PACKAGE_ROOT, 'tools', 'bin', 'cloudburst.js');

export function readClusterFile(dataDir: string): ClusterFile | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, CLUSTER_FILE), 'utf8')) as ClusterFile;
  } catch {
    return undefined;
  }
}

interface Running {
  spec: { role: 'kvs' | 'host'; name: string; args: string[]; dataDir: string };
  child: ChildProcess;
  url: string;
}

/** Starts `cloudburst <args>` and resolves with the URL it prints once it listens. */
function launch(args: string[], log: (line: string) => void, name: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [LAUNCHER, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        resolvePromise({ child, url: m[1]! });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) log(`[${name}] ${line}`);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before listening:\n${out}`)));
  });
}

export interface LocalClusterOptions {
  dataDir: string;
  kvsNodes: number;
  hosts: number;
  replication?: number;
  /** Port of the first host; the others take the next ones. 0: free ports. */
  hostPort: number;
  supervise: boolean;
  /** Extra flags for every host (e.g. `--explore 0`). */
  hostArgs?: string[];
  log: (line: string) => void;
  /** Authentication: the cluster secret (to the processes by environment, never argv), or none at all. */
  auth: { clusterSecret: Buffer } | { insecure: true };
}

/**
 * `cloudburst up` with more than one node: every KV node and host is its own process. Their
 * roles, addresses, pids and data folders go to `{dataDir}/cluster.json`, so that tools and
 * tests can find (and kill) them. With `supervise`, a process that dies is started again
 * with the same data folder.
 */
export async function startLocalCluster(opts: LocalClusterOptions): Promise<{ file: ClusterFile; token: string | undefined; stop(): Promise<void> }> {
  mkdirSync(opts.dataDir, { recursive: true });
  const secure = 'clusterSecret' in opts.auth ? opts.auth.clusterSecret : undefined;
  const env = secure === undefined ? process.env : { ...process.env, [CLUSTER_SECRET_ENV]: secure.toString('utf8') };
  const insecureArgs = secure === undefined ? ['--insecure'] : [];
  let token: string | undefined;
  const replication = opts.replication ?? Math.min(3, opts.kvsNodes);
  const running: Running[] = [];
  let stopping = false;
  /** Restarts in flight (supervise): stop() waits for them, and they stop what they started. */
  const restarting = new Set<Promise<void>>();
  const file: ClusterFile = { createdAt: new Date().toISOString(), replication, processes: [] };
  const save = (): void => {
    file.processes = running.map((r) => ({ role: r.spec.role, name: r.spec.name, url: r.url, pid: r.child.pid ?? -1, dataDir: r.spec.dataDir }));
    writeFileSync(join(opts.dataDir, CLUSTER_FILE), `${JSON.stringify(file, null, 2)}\n`);
  };
  const start = async (spec: Running['spec']): Promise<Running> => {
    const { child, url } = await launch(spec.args, opts.log, spec.name, env);
    const r: Running = { spec, child, url };
    child.once('exit', (code, signal) => {
      if (stopping) return;
      opts.log(`${spec.name} (pid ${child.pid}) exited (${signal ?? code})${opts.supervise ? ': restarting' : ''}`);
      if (!opts.supervise) return;
      const restart = start(spec).then(async (fresh) => {
        if (stopping) {
          // stop() came while this process was starting: it stops too.
          await new Promise<void>((done) => {
            fresh.child.once('exit', () => done());
            fresh.child.kill('SIGTERM');
          });
          return;
        }
        running[running.indexOf(r)] = fresh;
        save();
      }, (err: unknown) => opts.log(`${spec.name} failed to restart: ${String(err)}`)).finally(() => restarting.delete(restart));
      restarting.add(restart);
    });
    return r;
  };

  try {
    const seeds: string[] = [];
    for (let i = 0; i < opts.kvsNodes; i++) {
      const dataDir = resolve(opts.dataDir, `kv${i + 1}`);
      const args = ['kvs', '--port', '0', '--data', dataDir, '--replication', String(replication)];
      if (seeds.length > 0) args.push('--seeds', seeds.join(','));
      const r = await start({ role: 'kvs', name: `kv${i + 1}`, args, dataDir });
      running.push(r);
      seeds.push(r.url.replace(/^http:\/\//, ''));
      opts.log(`kv${i + 1} listening on ${r.url}`);
    }
    // The CLI's admin token, before any host serves: written once, reused after.
    if (secure !== undefined) token = await adminToken(seeds.map((s) => `http://${s}`), secure, opts.dataDir);
    for (let i = 0; i < opts.hosts; i++) {
      const dataDir = resolve(opts.dataDir, `host${i + 1}`);
      const port = opts.hostPort === 0 ? 0 : opts.hostPort + i;
      const args = ['host', '--port', String(port), '--data', dataDir, '--kvs', seeds.join(','), ...insecureArgs, ...(opts.hostArgs ?? [])];
      const r = await start({ role: 'host', name: `host${i + 1}`, args, dataDir });
      running.push(r);
      opts.log(`host${i + 1} listening on ${r.url}`);
    }
    save();
  } catch (err) {
    stopping = true;
    for (const r of running) r.child.kill('SIGTERM');
    throw err;
  }

  return {
    file,
    token,
    stop: async () => {
      stopping = true;
      await Promise.all(restarting);
      // Hosts first (they flush their outboxes to the KV nodes), then the KV nodes.
      for (const role of ['host', 'kvs'] as const) {
        await Promise.all(running.filter((r) => r.spec.role === role && r.child.exitCode === null && r.child.signalCode === null).map((r) => new Promise<void>((done) => {
          r.child.once('exit', () => done());
          r.child.kill('SIGTERM');
        })));
      }
    },
  };
}

interface NodeStatus {
  role: string;
  name: string;
  url: string;
  health: 'up' | 'down';
  detail: Record<string, unknown>;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`${res.status}`);
  return res.json();
}

/** Asks every process of the cluster (from cluster.json, or the given KV nodes) how it is. */
export async function clusterStatus(targets: { role: string; name: string; url: string }[]): Promise<NodeStatus[]> {
  return Promise.all(targets.map(async (t): Promise<NodeStatus> => {
    try {
      if (t.role === 'host') {
        const health = (await getJson(`${t.url}${HOST_PATHS.healthz}`)) as Record<string, unknown>;
        return { ...t, health: 'up', detail: { host: health.host } };
      }
      const stats = (await getJson(`${t.url}${KV_PATHS.stats}`)) as Record<string, unknown>;
      const ring = (await getJson(`${t.url}${KV_PATHS.ring}`).catch(() => undefined)) as Record<string, unknown> | undefined;
      return { ...t, health: 'up', detail: { ...stats, ...(ring ? { ringVersion: ring.version, members: Array.isArray(ring.members) ? ring.members.length : undefined } : {}) } };
    } catch (err) {
      return { ...t, health: 'down', detail: { error: (err as Error).message } };
    }
  }));
}
