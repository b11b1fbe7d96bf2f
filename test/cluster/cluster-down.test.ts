// `cloudburst cluster down` and `cluster status` (tools/cli/cluster-cli.ts) against a real
// `cloudburst up --kvs-nodes 1 --hosts 1` (one process per node), and against a cluster.json
// whose pids are gone or belong to another process: stopped is told from stale, and a pid that
// is no longer the cluster's is never signalled.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClusterFile } from '../../tools/cli/cluster.ts';
import { alive, CLI, ROOT, runCli, tempDir } from '../helpers/platform.ts';

const readCluster = async (data: string): Promise<ClusterFile> => JSON.parse(await readFile(join(data, 'cluster.json'), 'utf8')) as ClusterFile;

describe('cluster down and cluster status', () => {
  it('status tells a stale cluster.json from a stopped cluster; down signals only the cluster\'s own processes', { timeout: 150_000 }, async () => {
    const dir = await tempDir('cb-down-');
    const data = join(dir, 'data');
    const up = spawn(process.execPath, [CLI, 'up', '--kvs-nodes', '1', '--hosts', '1', '--port', '0', '--no-examples', '--data', data], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLOUDBURST_CLUSTER_SECRET: '' } });
    let output = '';
    up.stdout.on('data', (d: Buffer) => (output += d.toString()));
    up.stderr.on('data', (d: Buffer) => (output += d.toString()));
    // A process of someone else's that took a pid cluster.json lists (a pid reused after a crash).
    const bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await expect.poll(() => output, { timeout: 120_000, interval: 100 }).toContain('stop: Ctrl-C');
      expect(output).toContain('1 KV nodes (replication 1), 1 hosts');
      const file = await readCluster(data);
      expect(file.up?.pid).toBe(up.pid);
      expect(file.stoppedAt).toBeUndefined();
      const running = await runCli(['cluster', 'status', '--data', data, '--json']);
      expect(running.code, running.stderr).toBe(0);

      // A stale copy: one pid gone (a process that exited), one now another program's.
      const staleData = join(dir, 'stale');
      await mkdir(staleData);
      const [kv, host] = [file.processes.find((p) => p.role === 'kvs')!, file.processes.find((p) => p.role === 'host')!];
      const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
      await new Promise((resolve) => gone.once('exit', resolve));
      await writeFile(join(staleData, 'cluster.json'), JSON.stringify({ ...file, up: { pid: bystander.pid }, processes: [{ ...kv, pid: gone.pid }, { ...host, pid: bystander.pid }] }));
      const stale = await runCli(['cluster', 'status', '--data', staleData]);
      expect(stale.code).toBe(2);
      expect(stale.stdout).toContain('cluster.json is stale: none of its processes runs');
      const downStale = await runCli(['cluster', 'down', '--data', staleData, '--wait', '2s']);
      expect(downStale.code, downStale.stderr).toBe(0);
      expect(downStale.stdout).toMatch(/host1 +pid \d+ +not running \(gone before; its pid was left alone\)/);
      expect(alive(bystander.pid!)).toBe(true);
      const stoppedStale = await runCli(['cluster', 'status', '--data', staleData, '--json']);
      expect(stoppedStale.code).toBe(3);
      expect(JSON.parse(stoppedStale.stdout)).toMatchObject({ state: 'stopped' });

      // The real one: SIGTERM to `up`, which stops its host (drained), then its KV node.
      const exited = new Promise<number | null>((resolve) => up.once('exit', resolve));
      const down = await runCli(['cluster', 'down', '--data', data, '--json']);
      expect(down.code, down.stderr).toBe(0);
      expect(JSON.parse(down.stdout)).toEqual({ stopped: true, processes: [{ name: 'kv1', role: 'kvs', pid: kv.pid, outcome: 'stopped' }, { name: 'host1', role: 'host', pid: host.pid, outcome: 'stopped' }] });
      for (const p of file.processes) expect(alive(p.pid)).toBe(false);
      expect(await exited).toBe(0);
      expect((await readCluster(data)).stoppedAt).toEqual(expect.any(String));
      const stopped = await runCli(['cluster', 'status', '--data', data]);
      expect(stopped.code).toBe(3);
      expect(stopped.stdout).toContain('is stopped (since');
      // Again: nothing left to stop, and it says so.
      const again = await runCli(['cluster', 'down', '--data', data]);
      expect([again.code, again.stdout]).toEqual([0, expect.stringContaining('not running')]);
    } finally {
      if (up.exitCode === null && up.signalCode === null) {
        const gone = new Promise((resolve) => up.once('exit', resolve));
        up.kill('SIGINT');
        await gone;
      }
      const gone = new Promise((resolve) => bystander.once('exit', resolve));
      bystander.kill('SIGKILL');
      await gone;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('down and status without a cluster.json: an error naming the folder and how to start one', async () => {
    const dir = await tempDir('cb-down-none-');
    try {
      for (const verb of ['down', 'status']) {
        const out = await runCli(['cluster', verb, '--data', dir]);
        expect(out.code).toBe(1);
        expect(out.stderr).toContain(`error INVALID_REQUEST: no cluster.json in ${dir}: start a cluster with \`cloudburst up --kvs-nodes 3\``);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
