import { rm } from 'node:fs/promises';
import { startLocalCluster, type ClusterFile } from '../../tools/cli/cluster.ts';
import { guestBytes, tempDir, waitFor } from './platform.ts';

export interface ClusterHost {
  url: string;
  pid: number;
  id: string;
}

export interface HostCluster {
  dir: string;
  file: ClusterFile;
  hosts: ClusterHost[];
  stop(): Promise<void>;
}

/** `fetch` of a JSON route: status, parsed body, and where the call ran (`x-cloudburst-host`). */
export async function json<T>(url: string, method = 'GET', body?: unknown): Promise<{ status: number; body: T; host: string | null }> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  return { status: res.status, body: (await res.json()) as T, host: res.headers.get('x-cloudburst-host') };
}

/**
 * One KV node and `hosts` host processes (`startLocalCluster`, the code behind
 * `cloudburst up --hosts N`), resolved once every host sees all the others; `modules` are
 * deployed through the first host. With `supervise`, a process that dies is started again on
 * its data folder (same host id, a new port and pid: `file.processes` has them once it is up).
 */
export async function startHostCluster(opts: { prefix: string; hosts: number; hostArgs?: string[]; modules?: string[]; supervise?: boolean }): Promise<HostCluster> {
  const dir = await tempDir(opts.prefix);
  const cluster = await startLocalCluster({
    dataDir: dir, kvsNodes: 1, hosts: opts.hosts, hostPort: 0, supervise: opts.supervise ?? false, hostArgs: opts.hostArgs ?? [], log: () => undefined,
  });
  const stop = async (): Promise<void> => {
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
      const res = await fetch(`${hosts[0]!.url}/v1/modules/${m}`, { method: 'PUT', body: new Uint8Array(guestBytes(m)) });
      if (res.status !== 200) throw new Error(`deploying ${m}: ${res.status} ${await res.text()}`);
    }
    return { dir, file: cluster.file, hosts, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
