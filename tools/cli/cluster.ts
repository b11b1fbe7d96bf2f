import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HOST_PATHS } from '../../host/index.ts';
import { KV_PATHS } from '../../kvs/index.ts';
import { Agent, request } from 'undici';
import { connectOptions } from '../../common/index.ts';
import type { TlsFiles } from './tls-flags.ts';
import { PACKAGE_ROOT } from '../build/build.ts';

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
function launch(args: string[], log: (line: string) => void, name: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [LAUNCHER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on (https?:\/\/[\d.:]+)/.exec(out);
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
  /**
   * Hosts serve TLS with `tls.server`; hosts and KV nodes trust `tls.ca` and the hosts'
   * certificate (every process of this cluster runs here, with the one certificate).
   */
  tls?: TlsFiles;
  log: (line: string) => void;
}

/**
 * `cloudburst up` with more than one node: every KV node and host is its own process. Their
 * roles, addresses, pids and data folders go to `{dataDir}/cluster.json`, so that tools and
 * tests can find (and kill) them. With `supervise`, a process that dies is started again
 * with the same data folder.
 */
export async function startLocalCluster(opts: LocalClusterOptions): Promise<{ file: ClusterFile; stop(): Promise<void> }> {
  mkdirSync(opts.dataDir, { recursive: true });
  const replication = opts.replication ?? Math.min(3, opts.kvsNodes);
  const trust = [...(opts.tls?.ca ?? []), ...(opts.tls?.server ? [opts.tls.server.cert] : [])].flatMap((f) => ['--ca', f]);
  const serve = opts.tls?.server ? ['--tls-cert', opts.tls.server.cert, '--tls-key', opts.tls.server.key] : [];
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
    const { child, url } = await launch(spec.args, opts.log, spec.name);
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
      const args = ['kvs', '--port', '0', '--data', dataDir, '--replication', String(replication), ...trust];
      if (seeds.length > 0) args.push('--seeds', seeds.join(','));
      const r = await start({ role: 'kvs', name: `kv${i + 1}`, args, dataDir });
      running.push(r);
      seeds.push(r.url.replace(/^http:\/\//, ''));
      opts.log(`kv${i + 1} listening on ${r.url}`);
    }
    for (let i = 0; i < opts.hosts; i++) {
      const dataDir = resolve(opts.dataDir, `host${i + 1}`);
      const port = opts.hostPort === 0 ? 0 : opts.hostPort + i;
      const args = ['host', '--port', String(port), '--data', dataDir, '--kvs', seeds.join(','), ...serve, ...trust, ...(opts.hostArgs ?? [])];
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

/**
 * Asks every process of the cluster (from cluster.json, or the given KV nodes) how it is;
 * `ca`: trusted besides the system's CAs, for hosts that serve TLS.
 */
export async function clusterStatus(targets: { role: string; name: string; url: string }[], ca?: Buffer): Promise<NodeStatus[]> {
  const agent = new Agent(connectOptions(ca));
  const getJson = async (url: string): Promise<unknown> => {
    const res = await request(url, { dispatcher: agent, signal: AbortSignal.timeout(2000) });
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump();
      throw new Error(`${res.statusCode}`);
    }
    return res.body.json();
  };
  try {
    return await statusOf(targets, getJson);
  } finally {
    await agent.close();
  }
}

function statusOf(targets: { role: string; name: string; url: string }[], getJson: (url: string) => Promise<unknown>): Promise<NodeStatus[]> {
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
