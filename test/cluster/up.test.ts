import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClusterFile } from '../../tools/cli/cluster.ts';
import { alive, CLI, ROOT, guestBytes, registerToken, runCli, tempDir, hostFetch } from '../helpers/platform.ts';

describe('cli: cloudburst up with several KV nodes and hosts (one process each)', () => {
  // 120 s: most of the wait is `up` itself on a loaded machine, not what the test checks.
  // Measured at a load of 6 to 10 on 2 cores: the 5 processes, started one after another, 6 to
  // 8 s; the examples' asc builds 12 to 14 s; the /readyz wait 0.3 s; the calls 1 to 4 s; the
  // stop 2.5 s (the hosts' drains: two directory beats and the idle grace); the whole test 14 to
  // 42 s. The starts and builds grow with the load: under a heavier one it came close to 60 s.
  it('writes cluster.json, reports status, serves calls through every host, and stops everything on Ctrl-C', { timeout: 120_000 }, async () => {
    const dir = await tempDir('cb-up3-');
    const data = join(dir, 'data');
    const child = spawn(process.execPath, [CLI, 'up', '--kvs-nodes', '3', '--hosts', '2', '--port', '0', '--data', data], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLOUDBURST_CLUSTER_SECRET: '' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await expect.poll(() => output, { timeout: 100_000, interval: 100 }).toContain('stop: Ctrl-C');
      expect(output).toContain('3 KV nodes (replication 3), 2 hosts');
      // The examples, deployed as by the embedded default.
      expect(output).toMatch(/deployed: .*counter\.incr.*math\.square/);
      const file = JSON.parse(await readFile(join(data, 'cluster.json'), 'utf8')) as ClusterFile;
      expect(file.processes.map((p) => p.role).sort()).toEqual(['host', 'host', 'kvs', 'kvs', 'kvs']);
      for (const p of file.processes) expect(alive(p.pid)).toBe(true);
      // One secret for the cluster, in the data folder (0600); every process got it by
      // environment, none on its command line (which every user of the machine can read), and the
      // malloc setting that gives freed memory back (tools/cli/malloc-env.ts).
      const secretFile = join(data, 'cluster-secret');
      expect(statSync(secretFile).mode & 0o777).toBe(0o600);
      const secret = (await readFile(secretFile, 'utf8')).trim();
      for (const p of file.processes) {
        expect(await readFile(`/proc/${p.pid}/cmdline`, 'utf8'), p.name).not.toContain(secret);
        const environ = (await readFile(`/proc/${p.pid}/environ`, 'utf8')).split('\0');
        expect(environ, p.name).toContain(`CLOUDBURST_CLUSTER_SECRET=${secret}`);
        // `up` ran as plain `node`, without the variable: it gives it to what it starts.
        expect(environ, p.name).toContain('MALLOC_MMAP_THRESHOLD_=131072');
      }
      // The admin token `up` wrote for the CLI, which the requests below send.
      const token = (await readFile(join(data, 'admin-token'), 'utf8')).trim();
      for (const p of file.processes) if (p.role === 'host') registerToken(p.url, token);

      const status = await runCli(['cluster', 'status', '--data', data, '--json']);
      expect(status.code, status.stderr).toBe(0);
      const nodes = JSON.parse(status.stdout) as { role: string; health: string; ready: string; detail: { members?: number } }[];
      expect(nodes.every((n) => n.health === 'up')).toBe(true);
      // "cloudburst is up" came once every process answered /readyz 200.
      expect(nodes.map((n) => n.ready)).toEqual(nodes.map(() => 'ready'));
      expect(nodes.filter((n) => n.role === 'kvs').every((n) => n.detail.members === 3)).toBe(true);

      const [h1, h2] = file.processes.filter((p) => p.role === 'host');
      const incr = await hostFetch(`${h2!.url}/v1/functions/counter.incr/call`, { method: 'POST', body: JSON.stringify({ args: ['up-hits', 2] }) });
      expect(await incr.json()).toEqual({ result: 2 });
      expect((await hostFetch(`${h1!.url}/v1/modules/math`, { method: 'PUT', body: new Uint8Array(guestBytes('math')) })).status).toBe(200);
      for (const h of [h1!, h2!]) {
        const res = await hostFetch(`${h.url}/v1/functions/math.square/call`, { method: 'POST', body: JSON.stringify({ args: [12] }) });
        expect(await res.json()).toEqual({ result: 144 });
      }

      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      for (const p of file.processes) expect(alive(p.pid)).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
