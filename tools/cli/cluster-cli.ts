/**
 * `cloudburst cluster status` and `cloudburst cluster down`: what `cluster.json` (written by
 * `up --kvs-nodes/--hosts`, cluster.ts) lists, asked or stopped from another terminal.
 *
 * A pid in cluster.json is only a number: after the cluster died without stopping (kill -9 of
 * `up`, a reboot) the system may give it to anyone's process. So a process is taken for the
 * cluster's only while its command line still says so (`/proc/PID/cmdline`: the role and
 * `--data` of its entry), and `cluster down` signals nothing else.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CloudburstError } from '../../common/index.ts';
import { Seeds } from '../../kvs/index.ts';
import { autoscaleSummary } from './autoscaler.ts';
import { CLUSTER_FILE, clusterStatus, readClusterFile, type ClusterFile, type ClusterProcess } from './cluster.ts';
import { existingDataDirSecret, givenClusterSecret } from './cluster-secret.ts';
import { EXIT } from './exit.ts';
import { duration, flag, has } from './flag-values.ts';
import type { Parsed } from './flags.ts';
import { tlsFiles, trustedCa } from './tls-flags.ts';

/** How often `cluster down` looks whether the processes exited. */
const POLL_MS = 100;

/** A process's arguments (`/proc/PID/cmdline`), or undefined when it does not run (or no /proc). */
function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}

const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Whether the entry's pid is still that process: alive, and (where /proc tells) running
 * `cloudburst ROLE ... --data DATADIR` as cluster.ts started it.
 */
export function isClusterProcess(p: Pick<ClusterProcess, 'pid' | 'role' | 'dataDir'>): boolean {
  if (!Number.isInteger(p.pid) || p.pid <= 0 || !running(p.pid)) return false;
  const args = cmdline(p.pid);
  if (args === undefined) return process.platform !== 'linux';
  const data = args.indexOf('--data');
  return args.includes(p.role) && data >= 0 && args.lastIndexOf(p.dataDir) > data;
}

/** Whether `pid` is still a `cloudburst up` (the one cluster.json names). */
function isUpProcess(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !running(pid)) return false;
  const args = cmdline(pid);
  if (args === undefined) return false;
  return args.includes('up') && args.some((a) => /(cloudburst(\.js)?|cli\.js)$/.test(a));
}

/** What cluster.json says about the cluster: running (some process is its), stopped, or stale. */
export type ClusterState = 'running' | 'stopped' | 'stale';

export function clusterState(file: ClusterFile): ClusterState {
  if (file.processes.some(isClusterProcess)) return 'running';
  return file.stoppedAt !== undefined ? 'stopped' : 'stale';
}

const print = (p: Parsed, human: string, machine: unknown): void => console.log(has(p, 'json') ? JSON.stringify(machine, null, 2) : human);

const noFile = (dataDir: string): CloudburstError =>
  new CloudburstError('INVALID_REQUEST', `no ${CLUSTER_FILE} in ${dataDir}: start a cluster with \`cloudburst up --kvs-nodes 3\` (or give its folder with --data DIR; name KV nodes with --kvs for status)`);

/** `cloudburst cluster status`: every process's health and readiness; a stopped or stale cluster.json said as such. */
export async function clusterStatusCommand(p: Parsed): Promise<number> {
  const kvs = flag(p, 'kvs');
  const dataDir = resolve(flag(p, 'data') ?? '.cloudburst');
  const httpUrl = (a: string): string => (a.startsWith('http') ? a : `http://${a}`);
  const clusterFile = kvs ? undefined : readClusterFile(dataDir);
  if (!kvs && !clusterFile) throw noFile(dataDir);
  if (clusterFile) {
    const state = clusterState(clusterFile);
    if (state !== 'running') {
      const names = clusterFile.processes.map((x) => `${x.name} (pid ${x.pid})`).join(', ');
      const human = state === 'stopped'
        ? `the cluster in ${dataDir} is stopped (since ${clusterFile.stoppedAt}); \`cloudburst up\` with its flags starts it again on its data`
        : `${join(dataDir, CLUSTER_FILE)} is stale: none of its processes runs (${names}), and the cluster was not stopped (was \`up\` killed?). \`cloudburst cluster down --data ${flag(p, 'data') ?? '.cloudburst'}\` clears it; \`cloudburst up\` starts it again`;
      print(p, human, { state, createdAt: clusterFile.createdAt, ...(clusterFile.stoppedAt ? { stoppedAt: clusterFile.stoppedAt } : {}), processes: clusterFile.processes });
      return state === 'stopped' ? EXIT.notThere : EXIT.system;
    }
  }
  // A name resolving to several addresses (a headless Service) stands for all its nodes.
  const targets = kvs
    ? (await new Seeds(kvs.split(',').filter(Boolean).map(httpUrl)).urls()).map((url, i) => ({ role: 'kvs', name: `kv${i + 1}`, url }))
    : clusterFile!.processes;
  // The KV nodes' stats are for the cluster: the given secret, else the one `up` keeps.
  const secret = givenClusterSecret(flag(p, 'cluster-secret-file')) ?? existingDataDirSecret(dataDir);
  const status = await clusterStatus(targets, { secret, ca: trustedCa(tlsFiles(p.flags, process.env)) });
  const scalar = ([, v]: [string, unknown]): boolean => v !== undefined && (typeof v !== 'object' || v === null);
  const lines = status.map((s) => `${s.name.padEnd(8)} ${s.role.padEnd(5)} ${s.url.padEnd(24)} ${s.health.padEnd(5)} ${s.ready.padEnd(13)} ${Object.entries(s.detail).filter(scalar).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`);
  // With `up --autoscale`: the host count, its bounds and the last decisions (README, "Host autoscaling").
  print(p, [...lines, ...(clusterFile ? autoscaleSummary(clusterFile) : [])].join('\n'), status);
  return status.every((s) => s.health === 'up') ? EXIT.ok : EXIT.system;
}

/** Waits until none of `pids` runs, or `deadline`; returns those still running. */
async function waitGone(procs: readonly ClusterProcess[], deadline: number): Promise<ClusterProcess[]> {
  let left = procs.filter(isClusterProcess);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    left = left.filter(isClusterProcess);
  }
  return left;
}

const signal = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone meanwhile.
  }
};

/**
 * `cloudburst cluster down`: SIGTERM to the `up` that runs the cluster (it stops its hosts,
 * which drain, then its KV nodes), or, with no `up` left, to the hosts and then the KV nodes
 * directly; waits up to `--wait` (60 s); `--force` SIGKILLs what still runs then. Entries whose
 * process is gone or no longer the cluster's are reported and left alone.
 */
export async function clusterDownCommand(p: Parsed): Promise<number> {
  const dataDir = resolve(flag(p, 'data') ?? '.cloudburst');
  const file = readClusterFile(dataDir);
  if (!file) throw noFile(dataDir);
  const deadline = Date.now() + duration(flag(p, 'wait') ?? '60s');
  const ours = file.processes.filter(isClusterProcess);
  const stale = file.processes.filter((x) => !ours.includes(x));
  let left: ClusterProcess[];
  if (file.up !== undefined && isUpProcess(file.up.pid)) {
    signal(file.up.pid, 'SIGTERM');
    left = await waitGone(ours, deadline);
  } else {
    // Hosts first: they flush their outboxes to the KV nodes, which must still be there.
    for (const x of ours.filter((o) => o.role === 'host')) signal(x.pid, 'SIGTERM');
    left = await waitGone(ours.filter((o) => o.role === 'host'), deadline);
    for (const x of ours.filter((o) => o.role === 'kvs')) signal(x.pid, 'SIGTERM');
    left = [...left, ...(await waitGone(ours.filter((o) => o.role === 'kvs'), deadline))];
  }
  const killed: ClusterProcess[] = [];
  if (left.length > 0 && has(p, 'force')) {
    for (const x of left) signal(x.pid, 'SIGKILL');
    killed.push(...left);
    left = await waitGone(left, Date.now() + 5000);
  }
  if (left.length === 0) {
    // Re-read: `up` may have recorded its own stop (and hosts it added) meanwhile.
    const now = readClusterFile(dataDir) ?? file;
    if (now.stoppedAt === undefined) writeFileSync(join(dataDir, CLUSTER_FILE), `${JSON.stringify({ ...now, stoppedAt: new Date().toISOString() }, null, 2)}\n`);
  }
  const report = file.processes.map((x) => ({
    name: x.name, role: x.role, pid: x.pid,
    outcome: stale.includes(x) ? 'not running' : left.includes(x) ? 'still running' : killed.includes(x) ? 'killed' : 'stopped',
  }));
  const human = report.map((r) => `${r.name.padEnd(8)} pid ${String(r.pid).padEnd(8)} ${r.outcome}${r.outcome === 'not running' ? ' (gone before; its pid was left alone)' : ''}${r.outcome === 'still running' ? ` (after --wait; --force sends SIGKILL)` : ''}`);
  print(p, [...human, left.length === 0 ? `the cluster in ${dataDir} is down` : `${left.length} process(es) still running`].join('\n'), { stopped: left.length === 0, processes: report });
  return left.length === 0 ? EXIT.ok : EXIT.system;
}
