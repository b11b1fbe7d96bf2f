import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCli, startUpProcess, tempDir } from '../helpers/platform.ts';

describe('cli: cloudburst dag, against `cloudburst up`', () => {
  let dir: string;
  let url: string;
  let up: { child: ChildProcess; output: () => string };

  beforeAll(async () => {
    dir = await tempDir('cb-dag-cli-');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    up = await startUpProcess(['--data', join(dir, 'data'), '--port', String(port)]);
  });
  afterAll(async () => {
    const exited = new Promise((resolve) => up.child.once('exit', resolve));
    up.child.kill('SIGINT');
    await exited;
    await rm(dir, { recursive: true, force: true });
  });

  // The CLI finds the admin token of `up` in the data folder named by --data.
  const cli = (...args: string[]) => runCli([...args, '--url', url, '--data', join(dir, 'data')]);

  it('dag create, call, call --async, list, show, delete', async () => {
    const created = await cli('dag', 'create', 'pipeline', '--fn', 'math.increment', '--fn', 'math.square', '--edge', 'math.increment:math.square');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('registered DAG pipeline: math.increment -> math.square (sink math.square)');
    expect((await cli('dag', 'call', 'pipeline', '--args', '{"math.increment": [3]}')).stdout.trim()).toBe('16');
    expect((await cli('dag', 'call', 'pipeline', '--args', '{"math.increment": [3]}', '--consistency', 'rr')).stdout.trim()).toBe('16');
    expect((await cli('fn', 'call', 'math.increment', '3', '--consistency', 'rr')).stdout.trim()).toBe('4');
    expect((await cli('dag', 'call', 'pipeline', '--args', '{"math.increment": [3]}', '--consistency', 'causal')).stdout.trim()).toBe('16');
    const id = (await cli('dag', 'call', 'pipeline', '--args', '{"math.increment": [3]}', '--async')).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect((await cli('future', 'get', id, '--wait', '5s')).stdout.trim()).toBe('16');
    expect((await cli('dag', 'list')).stdout).toContain('pipeline: math.increment -> math.square');
    const shown = JSON.parse((await cli('dag', 'show', 'pipeline')).stdout) as { sink: string };
    expect(shown.sink).toBe('math.square');
    const machine = JSON.parse((await cli('dag', 'call', 'pipeline', '--args', '{"math.increment": [4]}', '--json')).stdout) as { result: number; runs: number };
    expect(machine).toMatchObject({ result: 25, runs: 1 });
    expect((await cli('dag', 'delete', 'pipeline')).stdout.trim()).toBe('deleted DAG pipeline');
    expect((await cli('dag', 'list')).stdout).toContain('(no DAGs');
  });

  it('errors print their code and exit 1 (64 for a command line that is wrong: tools/cli/exit.ts)', async () => {
    const cycle = await cli('dag', 'create', 'loop', '--fn', 'math.increment', '--fn', 'math.square', '--edge', 'math.increment:math.square', '--edge', 'math.square:math.increment');
    expect(cycle.code).toBe(1);
    expect(cycle.stderr).toContain('error DAG_CYCLE: the graph has a cycle: math.increment -> math.square -> math.increment');
    const unknown = await cli('dag', 'call', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error UNKNOWN_DAG');
    const badEdge = await cli('dag', 'create', 'x', '--fn', 'math.square', '--edge', 'math.square');
    expect(badEdge.code).toBe(64);
    expect(badEdge.stderr).toContain('FROM:TO');
    for (const cmd of [['dag', 'call', 'nope'], ['fn', 'call', 'math.increment', '3']]) {
      // Refused by the CLI before anything is sent, in the flag's words.
      const strong = await cli(...cmd, '--consistency', 'strong');
      expect(strong.code).toBe(64);
      expect(strong.stderr).toContain('error INVALID_REQUEST: --consistency "strong" is not one of lww, rr, causal');
    }
    const badArgs = await cli('dag', 'call', 'x', '--args', '{nope');
    expect(badArgs.stderr).toContain('error MALFORMED_JSON');
  });
});
