// What runaway guests leave behind: a `cloudburst up` process (host and KV node, 2 workers)
// runs rounds of the worst a guest can do (allocate until its memory limit, write 100,000 keys
// in one call, write 50 and 70 MB values), then idles; its anonymous memory (RssAnon) is read
// from /proc before, after each round and after the outbox drained and 5 s of idle. The
// baseline is the same process before the runaway calls; a second platform with a smaller
// worker budget runs beside it.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { CLI, metric, outboxDrained, post, startChild } from './util.ts';

const anonMiB = (pid: number): number => {
  const m = /RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
};

interface Run {
  settings: string;
  startMiB: number;
  afterRoundMiB: number[];
  idleMiB: number;
  workersRetired: number;
  outcomes: string[];
}

async function runaway(args: string[], rounds: number, wasm: Uint8Array): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'cb-bench-memory-'));
  let child: ChildProcess | undefined;
  try {
    const up = await startChild([CLI, 'up', '--data', join(dir, 'data'), '--port', '0', '--no-examples', '--insecure', '--workers', '2', ...args], /host API (http:\/\/[\d.:]+)/);
    child = up.child;
    const pool = new Pool(up.match[1]!, { connections: 2 });
    try {
      const put = await pool.request({ method: 'PUT', path: '/v1/modules/runaway', body: wasm });
      if (put.statusCode !== 200) throw new Error(`deploy: ${put.statusCode} ${await put.body.text()}`);
      await put.body.dump();
      const call = async (fn: string, a: unknown[]): Promise<string> => {
        const r = await post(pool, `/v1/functions/runaway.${fn}/call`, JSON.stringify({ args: a, timeoutMs: 120_000 }));
        return r.status === 200 ? 'ok' : ((JSON.parse(r.text) as { error: { code: string } }).error.code);
      };
      const pid = child.pid!;
      await call('square', [3]);
      const run: Run = { settings: args.join(' ') || '(defaults)', startMiB: anonMiB(pid), afterRoundMiB: [], idleMiB: 0, workersRetired: 0, outcomes: [] };
      for (let r = 0; r < rounds; r++) {
        const outcomes = [
          await call('hoard', []),
          await call('many', [`r${r}-`, 100_000, 16]),
          await call('big', [`b50-${r}`, 50_000_000]),
          await call('big', [`b70-${r}`, 70_000_000]),
          await call('square', [7]),
        ];
        if (r === 0) run.outcomes = outcomes;
        run.afterRoundMiB.push(anonMiB(pid));
      }
      await outboxDrained(pool, 120_000, 500);
      await new Promise((res) => setTimeout(res, 5000));
      run.idleMiB = anonMiB(pid);
      run.workersRetired = await metric(pool, 'cloudburst_workers_retired_total');
      return run;
    } finally {
      await pool.close();
    }
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((res) => child!.once('exit', res));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function memoryBench(quick: boolean): Promise<Record<string, unknown>> {
  const rounds = quick ? 1 : 3;
  const { wasm } = await buildGuest({ entry: join(PACKAGE_ROOT, 'tools', 'bench', 'guests', 'runaway.ts') });
  const runs: Run[] = [];
  for (const args of [[], ['--worker-memory-mib', '256']]) {
    const run = await runaway(args, rounds, wasm);
    runs.push(run);
    console.log(`${run.settings.padEnd(26)} anonymous memory: ${run.startMiB} MiB before, ${run.afterRoundMiB.join(' / ')} after each round, ${run.idleMiB} MiB idle after (${run.workersRetired} workers replaced)`);
  }
  console.log(`outcomes of a round: hoard, 100k keys, 50 MB, 70 MB, square = ${runs[0]!.outcomes.join(', ')}`);
  return { rounds, runs };
}
