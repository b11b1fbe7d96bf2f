import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HOST_PATHS } from '../../host/index.ts';
import { KV_PATHS } from '../../kvs/index.ts';
import { Agent, request } from 'undici';
import { CloudburstError, connectOptions, isWildcard, signRequest } from '../../common/index.ts';
import { withoutFlagVariables } from './flags.ts';
import { withMallocTuning } from './malloc-env.ts';
import type { TlsFiles } from './tls-flags.ts';
import { PACKAGE_ROOT } from '../build/build.ts';
import { CLUSTER_SECRET_ENV, dataDirClusterSecret, secretEnv } from './cluster-secret.ts';
import { adminToken } from './embedded.ts';
import { probeReady, type Readiness } from './ready.ts';

/** One process of a local cluster, as `cluster.json` records it. */
export interface ClusterProcess {
  role: 'kvs' | 'host';
  name: string;
  url: string;
  pid: number;
  dataDir: string;
  /** When this process was started (ISO time). */
  startedAt?: string;
  /** Added by the autoscaler (`up --autoscale`), which may drain it again. */
  autoscaled?: boolean;
}

export interface ClusterFile {
  createdAt: string;
  replication: number;
  processes: ClusterProcess[];
  /** With `up --autoscale`: the bounds, and the file the decisions are appended to. */
  autoscale?: { minHosts: number; maxHosts: number; decisions: string };
  /** The `cloudburst up` process that started and supervises them (`cluster down` stops it first). */
  up?: { pid: number };
  /** Set once every process stopped (Ctrl-C of `up`, `cluster down`): `cluster status` tells a stopped cluster from a stale file. */
  stoppedAt?: string;
}

/** A host of a running local cluster, as the autoscaler sees it. */
export interface LocalHost extends ClusterProcess {
  /** Its process is running (false: it exited; with `supervise` a restart is under way). */
  alive: boolean;
  /** The first host: the one the user's URL points to, never drained by the autoscaler. */
  first: boolean;
}

/** What `startLocalCluster` hands back. */
export interface LocalCluster {
  file: ClusterFile;
  clusterSecret: Buffer | undefined;
  token: string | undefined;
  /** The hosts now, in start order. */
  hosts(): LocalHost[];
  /** Starts one more host (flags as the others', a free port, `autoscaled`) and records it in cluster.json. */
  addHost(): Promise<LocalHost>;
  /** SIGTERM to host `name` (it drains), waits for it to exit, and takes it out of cluster.json. */
  removeHost(name: string): Promise<void>;
  stop(): Promise<void>;
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
  spec: { role: 'kvs' | 'host'; name: string; args: string[]; dataDir: string; env: NodeJS.ProcessEnv; prefix: string[]; autoscaled?: boolean };
  child: ChildProcess;
  url: string;
  startedAt: Date;
  /** Being removed (removeHost): its exit is expected, not restarted. */
  retiring?: boolean;
}

/**
 * Starts `cloudburst <args>` (after `prefix`, the command that runs it elsewhere, if any) and
 * resolves with the URL it prints once it listens.
 */
function launch(args: string[], env: NodeJS.ProcessEnv, log: (line: string) => void, name: string, prefix: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const [command, ...rest] = [...prefix, process.execPath, LAUNCHER, ...args];
  const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'], env });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(out);
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
  /** Extra flags for every KV node (e.g. `--fsync always`). */
  kvsArgs?: string[];
  /**
   * The address every process listens on (default 127.0.0.1); each announces
   * `http(s)://listen:port`. Not a wildcard: all processes share the machine's address.
   */
  listen?: string;
  /** Refused: one URL cannot name several processes (each announces its own port). */
  advertise?: string;
  /**
   * Hosts serve TLS with `tls.server`; hosts and KV nodes trust `tls.ca` and the hosts'
   * certificate (every process of this cluster runs here, with the one certificate).
   */
  tls?: TlsFiles;
  /**
   * The cluster secret every process gets (by environment). Default: the data folder's
   * `cluster-secret`, created on the first start (see cluster-secret.ts).
   */
  clusterSecret?: Buffer;
  /** Every process with `--insecure` instead (no secret). */
  insecure?: boolean;
  /**
   * Where a process runs (0-based index within its role): its command line goes after
   * `prefix` (the tests' `ip netns exec NS`, test/helpers/netns.ts) and `args` (its address
   * flags: `--port`, `--listen`, `--advertise`) after the others, which they override. Default:
   * this machine's loopback, on free ports.
   */
  where?: (role: 'kvs' | 'host', index: number) => { prefix?: string[]; args?: string[] };
  /** Recorded in cluster.json (`up --autoscale`). */
  autoscale?: ClusterFile['autoscale'];
  /** The pid of the `cloudburst up` that runs this cluster, recorded in cluster.json (not when a test runs it in-process). */
  upPid?: number;
  log: (line: string) => void;
}

/**
 * `cloudburst up` with more than one node: every KV node and host is its own process. Their
 * roles, addresses, pids and data folders go to `{dataDir}/cluster.json`, so that tools and
 * tests can find (and kill) them. With `supervise`, a process that dies is started again
 * with the same data folder.
 */
export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  checkClusterAddresses(opts);
  mkdirSync(opts.dataDir, { recursive: true });
  const clusterSecret = opts.insecure === true ? undefined : opts.clusterSecret ?? dataDirClusterSecret(opts.dataDir);
  // The children get up's settings as flags, never twice through CLOUDBURST_* variables meant
  // for `up` (flags.ts); the secret alone goes by environment (never on a command line).
  const env = secretEnv(clusterSecret, withMallocTuning(withoutFlagVariables(process.env)));
  const listen = opts.listen === undefined ? [] : ['--listen', opts.listen];
  const security = opts.insecure === true ? ['--insecure'] : [];
  let token: string | undefined;
  const replication = opts.replication ?? Math.min(3, opts.kvsNodes);
  const trust = [...(opts.tls?.ca ?? []), ...(opts.tls?.server ? [opts.tls.server.cert] : [])].flatMap((f) => ['--ca', f]);
  const serve = opts.tls?.server ? ['--tls-cert', opts.tls.server.cert, '--tls-key', opts.tls.server.key] : [];
  const running: Running[] = [];
  let stopping = false;
  /** Restarts in flight (supervise): stop() waits for them, and they stop what they started. */
  const restarting = new Set<Promise<void>>();
  const file: ClusterFile = { createdAt: new Date().toISOString(), replication, processes: [], ...(opts.autoscale ? { autoscale: opts.autoscale } : {}), ...(opts.upPid !== undefined ? { up: { pid: opts.upPid } } : {}) };
  const processOf = (r: Running): ClusterProcess => ({
    role: r.spec.role, name: r.spec.name, url: r.url, pid: r.child.pid ?? -1, dataDir: r.spec.dataDir,
    startedAt: r.startedAt.toISOString(), ...(r.spec.autoscaled ? { autoscaled: true } : {}),
  });
  const save = (): void => {
    file.processes = running.map(processOf);
    writeFileSync(join(opts.dataDir, CLUSTER_FILE), `${JSON.stringify(file, null, 2)}\n`);
  };
  const start = async (spec: Running['spec']): Promise<Running> => {
    const { child, url } = await launch(spec.args, spec.env, opts.log, spec.name, spec.prefix);
    const r: Running = { spec, child, url, startedAt: new Date() };
    child.once('exit', (code, signal) => {
      if (stopping || r.retiring) return;
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

  const hostSpec = (n: number, port: number, seeds: string[], autoscaled: boolean): Running['spec'] => {
    const dataDir = resolve(opts.dataDir, `host${n}`);
    const args = ['host', '--port', String(port), '--data', dataDir, '--kvs', seeds.join(','), ...listen, ...serve, ...trust, ...security, ...(opts.hostArgs ?? [])];
    const where = opts.where?.('host', n - 1);
    return { role: 'host', name: `host${n}`, args: [...args, ...(where?.args ?? [])], dataDir, env, prefix: where?.prefix ?? [], autoscaled };
  };
  const seeds: string[] = [];
  try {
    for (let i = 0; i < opts.kvsNodes; i++) {
      const dataDir = resolve(opts.dataDir, `kv${i + 1}`);
      const args = ['kvs', '--port', '0', '--data', dataDir, '--replication', String(replication), ...listen, ...trust, ...security, ...(opts.kvsArgs ?? [])];
      if (seeds.length > 0) args.push('--seeds', seeds.join(','));
      const where = opts.where?.('kvs', i);
      const r = await start({ role: 'kvs', name: `kv${i + 1}`, args: [...args, ...(where?.args ?? [])], dataDir, env, prefix: where?.prefix ?? [] });
      running.push(r);
      seeds.push(r.url);
      opts.log(`kv${i + 1} listening on ${r.url}`);
    }
    // The CLI's admin token, before any host serves: written once, reused after.
    if (clusterSecret !== undefined) token = await adminToken(seeds, clusterSecret, opts.dataDir);
    for (let i = 0; i < opts.hosts; i++) {
      const r = await start(hostSpec(i + 1, opts.hostPort === 0 ? 0 : opts.hostPort + i, seeds, false));
      running.push(r);
      opts.log(`host${i + 1} listening on ${r.url}`);
    }
    save();
  } catch (err) {
    stopping = true;
    for (const r of running) r.child.kill('SIGTERM');
    throw err;
  }

  const hosts = (): LocalHost[] => running.filter((r) => r.spec.role === 'host').map((r, i) => ({
    ...processOf(r), alive: r.child.exitCode === null && r.child.signalCode === null, first: i === 0,
  }));
  const exited = (r: Running): Promise<void> => new Promise<void>((done) => {
    if (r.child.exitCode !== null || r.child.signalCode !== null) done();
    else r.child.once('exit', () => done());
  });
  const addHost = async (): Promise<LocalHost> => {
    if (stopping) throw new Error('the cluster is stopping');
    // The lowest free number: a host added after one was removed takes its name and data folder.
    const taken = new Set(running.map((r) => r.spec.name));
    let n = 1;
    while (taken.has(`host${n}`)) n++;
    // A free port: the next ones after --port may be anyone's by now.
    const adding = start(hostSpec(n, 0, seeds, true));
    const settled = adding.then(() => undefined, () => undefined);
    restarting.add(settled);
    try {
      const r = await adding;
      if (stopping) {
        // stop() came while it started: it stops too.
        r.child.kill('SIGTERM');
        await exited(r);
        throw new Error('the cluster is stopping');
      }
      running.push(r);
      save();
      opts.log(`${r.spec.name} listening on ${r.url}`);
      return hosts().find((h) => h.name === r.spec.name)!;
    } finally {
      restarting.delete(settled);
    }
  };
  const removeHost = async (name: string): Promise<void> => {
    const r = running.find((x) => x.spec.role === 'host' && x.spec.name === name);
    if (!r) throw new Error(`no host ${name}`);
    if (r === running.find((x) => x.spec.role === 'host')) throw new Error(`${name} is the first host: it stays`);
    r.retiring = true;
    r.child.kill('SIGTERM');
    await exited(r);
    running.splice(running.indexOf(r), 1);
    if (!stopping) save();
  };

  return {
    file,
    clusterSecret,
    token,
    hosts,
    addHost,
    removeHost,
    stop: async () => {
      stopping = true;
      await Promise.all(restarting);
      // Hosts first (they flush their outboxes to the KV nodes), then the KV nodes.
      for (const role of ['host', 'kvs'] as const) {
        await Promise.all(running.filter((r) => r.spec.role === role).map((r) => {
          // A retiring host got its SIGTERM already (a second one would cut its drain short).
          if (!r.retiring && r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
          return exited(r);
        }));
      }
      // Stopped, not stale: `cluster status` says so (the processes stay listed, as they were).
      file.stoppedAt = new Date().toISOString();
      try {
        writeFileSync(join(opts.dataDir, CLUSTER_FILE), `${JSON.stringify(file, null, 2)}\n`);
      } catch {
        // The data folder is gone (a test removed it): nothing to tell.
      }
    },
  };
}

/**
 * The addresses of a local cluster, checked before anything starts.
 *
 * @throws CloudburstError `INVALID_REQUEST` for `advertise` (several processes) or a wildcard
 *   `listen` (each process would announce it).
 */
function checkClusterAddresses(opts: Pick<LocalClusterOptions, 'listen' | 'advertise'>): void {
  if (opts.advertise !== undefined) {
    throw new CloudburstError('INVALID_REQUEST', '--advertise names one process: cloudburst up with --kvs-nodes or --hosts starts several, each announcing its own port on --listen ADDR (start processes by hand, cloudburst kvs/host --advertise URL, to announce other URLs)');
  }
  if (opts.listen !== undefined && isWildcard(opts.listen)) {
    throw new CloudburstError('INVALID_REQUEST', `--listen ${opts.listen} on cloudburst up with several processes: each would announce ${opts.listen}, which no other process can reach; give one address of this machine (e.g. --listen 10.0.0.5)`);
  }
}

interface NodeStatus {
  role: string;
  name: string;
  url: string;
  health: 'up' | 'down';
  /** What its /readyz answered: `ready`, else the code (NOT_READY, SHUTTING_DOWN, UNREACHABLE). */
  ready: string;
  detail: Record<string, unknown>;
}

/**
 * Asks every process of the cluster (from cluster.json, or the given KV nodes) how it is. A KV
 * node's stats and ring are for the cluster only: `secret` signs those requests. `ca`: trusted
 * besides the system's CAs, for hosts that serve TLS.
 */
export async function clusterStatus(targets: { role: string; name: string; url: string }[], trust: { secret?: Buffer | undefined; ca?: Buffer | undefined } = {}): Promise<NodeStatus[]> {
  const agent = new Agent(connectOptions(trust.ca));
  /** A GET of `path`, signed with the cluster secret when there is one. */
  const getJson = async (base: string, path: string, secret: Buffer | undefined): Promise<unknown> => {
    const res = await request(`${base}${path}`, { dispatcher: agent, signal: AbortSignal.timeout(2000), headers: secret ? signRequest(secret, 'GET', path) : {} });
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump();
      if (res.statusCode === 401) throw new Error(`401 UNAUTHENTICATED: the KV node wants the cluster secret (--cluster-secret-file PATH or ${CLUSTER_SECRET_ENV})`);
      throw new Error(`${res.statusCode}`);
    }
    return res.body.json();
  };
  const secret = trust.secret;
  try {
    const [status, ready] = await Promise.all([statusOf(targets, getJson, secret), Promise.all(targets.map((t) => probeReady(t, agent)))]);
    return status.map((s, i) => ({ ...s, ready: readyWord(ready[i]!) }));
  } finally {
    await agent.close();
  }
}

const readyWord = (r: Readiness): string => (r.ready ? 'ready' : r.code);

function statusOf(
  targets: { role: string; name: string; url: string }[],
  getJson: (base: string, path: string, secret: Buffer | undefined) => Promise<unknown>,
  secret: Buffer | undefined,
): Promise<Omit<NodeStatus, 'ready'>[]> {
  return Promise.all(targets.map(async (t): Promise<Omit<NodeStatus, 'ready'>> => {
    try {
      if (t.role === 'host') {
        const health = (await getJson(t.url, HOST_PATHS.healthz, undefined)) as Record<string, unknown>;
        return { ...t, health: 'up', detail: { host: health.host } };
      }
      const stats = (await getJson(t.url, KV_PATHS.stats, secret)) as Record<string, unknown>;
      const ring = (await getJson(t.url, KV_PATHS.ring, secret).catch(() => undefined)) as Record<string, unknown> | undefined;
      return { ...t, health: 'up', detail: { ...stats, ...(ring ? { ringVersion: ring.version, members: Array.isArray(ring.members) ? ring.members.length : undefined } : {}) } };
    } catch (err) {
      return { ...t, health: 'down', detail: { error: (err as Error).message } };
    }
  }));
}
