// The CLI's manners through the real command (tools/bin/cloudburst.js) against a real
// `cloudburst up --port 0`: a bad flag refused before anything starts, the banner's real URL,
// --args from a file and from stdin, exit codes, --json errors, and error messages that name
// the thing at fault and the way out. (Parser details: cli-manners.unit.test.ts.)
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli, startUpProcess, tempDir } from '../helpers/platform.ts';
import { guestPath } from '../setup/build-guests.ts';

describe('cli manners: refused before anything starts', () => {
  it('up --fsync bogus exits 64 naming the choices, and creates no data folder', async () => {
    const dir = await tempDir('cb-bogus-');
    try {
      const data = join(dir, 'data');
      const out = await runCli(['up', '--fsync', 'bogus', '--port', '0', '--data', data], {}, dir);
      expect(out.code).toBe(64);
      expect(out.stderr).toBe('error INVALID_REQUEST: --fsync "bogus" is not one of batch, always, off\n');
      expect(existsSync(data)).toBe(false);
      const typo = await runCli(['up', '--fsycn', 'always', '--data', data], {}, dir);
      expect([typo.code, typo.stderr]).toEqual([64, expect.stringContaining('did you mean --fsync?')]);
      expect(existsSync(data)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cli manners: against `cloudburst up --port 0`', () => {
  let dir: string;
  let url: string;
  let up: { child: ChildProcess; output: () => string };

  beforeAll(async () => {
    dir = await tempDir('cb-manners-');
    up = await startUpProcess(['--port', '0'], { cwd: dir });
    url = /host API (http:\/\/127\.0\.0\.1:\d+)/.exec(up.output())![1]!;
  });
  afterAll(async () => {
    if (up.child.exitCode === null) {
      const exited = new Promise((resolve) => up.child.once('exit', resolve));
      up.child.kill('SIGINT');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCli([...args, '--url', url], {}, dir);

  it('the banner shows the port it got (not 0) and the export line for another terminal', async () => {
    expect(url).not.toMatch(/:0$/);
    expect(up.output()).toContain(`export CLOUDBURST_URL=${url}   (for the CLI in another terminal)`);
    // The line works as printed: the CLI finds the host by the variable alone.
    const call = await runCli(['fn', 'call', 'math.square', '6'], { CLOUDBURST_URL: url }, dir);
    expect([call.code, call.stdout.trim()]).toEqual([0, '36']);
  });

  it('fn call --args @FILE and --args - (stdin)', async () => {
    const file = join(dir, 'args.json');
    await writeFile(file, '["file-hits", 3]');
    const fromFile = await cli('fn', 'call', 'counter.incr', '--args', `@${file}`);
    expect([fromFile.code, fromFile.stdout.trim()], fromFile.stderr).toEqual([0, '3']);
    const fromStdin = await runCli(['fn', 'call', 'counter.incr', '--args', '-', '--url', url], { CLOUDBURST_URL: '' }, dir, '["file-hits", 4]\n');
    expect([fromStdin.code, fromStdin.stdout.trim()], fromStdin.stderr).toEqual([0, '7']);
    // A long argument no command line would take whole (Linux: 128 KiB per argument).
    const long = 'x'.repeat(300_000);
    await writeFile(file, JSON.stringify([long]));
    await writeFile(join(dir, 'big.ts'), 'export function len(s: string): i32 { return s.length; }\n');
    expect((await cli('fn', 'deploy', join(dir, 'big.ts'), '--name', 'big')).code).toBe(0);
    expect((await cli('fn', 'call', 'big.len', '--args', `@${file}`)).stdout.trim()).toBe('300000');
  });

  it('exit codes: 0 done, 1 the caller\'s mistake, 2 the system\'s fault, 64 usage; --json errors are JSON on stderr', async () => {
    expect((await cli('fn', 'list')).code).toBe(0);
    const unknown = await cli('fn', 'call', 'nope.nope', '--json');
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(JSON.parse(unknown.stderr)).toEqual({ error: { code: 'UNKNOWN_FUNCTION', message: expect.any(String) }, exit: 1 });
    const down = await runCli(['fn', 'list', '--url', 'http://127.0.0.1:1', '--json'], {}, dir);
    expect(down.code).toBe(2);
    expect(JSON.parse(down.stderr).error.code).toBe('HOST_UNAVAILABLE');
    const usage = await cli('fn', 'call');
    expect([usage.code, usage.stderr]).toEqual([64, expect.stringContaining('usage: cloudburst fn call')]);
  });

  it('the CLI\'s flag, not the HTTP field, in the platform\'s refusal', async () => {
    const out = await cli('fn', 'call', 'math.square', '7', '--timeout', '0');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error INVALID_REQUEST: --timeout must be an integer from 1 to \d+/);
  });

  it('KV_TYPE_MISMATCH names the key and the way out, in a call and in kv put', async () => {
    expect((await cli('kv', 'put', 'greeting-text', 'hello')).code).toBe(0);
    const call = await cli('fn', 'call', 'counter.incr', 'greeting-text', '1');
    expect(call.code).toBe(1);
    expect(call.stderr).toContain('error KV_TYPE_MISMATCH: key "greeting-text" holds a lww, not a counter');
    expect(call.stderr).toContain('cloudburst kv delete');
    expect((await cli('kv', 'put', 'n-counter', '3', '--type', 'counter')).code).toBe(0);
    const put = await cli('kv', 'put', 'n-counter', 'text');
    expect(put.code).toBe(1);
    expect(put.stderr).toContain('error KV_TYPE_MISMATCH: key "n-counter": ');
    expect(put.stderr).toContain('write it with --type counter, or delete it first: cloudburst kv delete n-counter');
  });

  it('GUEST_OUT_OF_MEMORY says the limit and the flag that sets it', async () => {
    expect((await cli('fn', 'deploy', guestPath('hostile'), '--name', 'hostile')).code).toBe(0);
    const out = await cli('fn', 'call', 'hostile.oom');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error GUEST_OUT_OF_MEMORY: .*a call's memory is limited to \d+ MiB \(the host's --guest-memory-mib/);
  });

  it('a build names the exports it skipped and why', async () => {
    const src = join(dir, 'partly.ts');
    await writeFile(src, 'class Foo { x: i32 = 0; }\nexport function ok(x: i32): i32 { return x; }\nexport function weird(a: Foo): i32 { return a.x; }\n');
    const out = await runCli(['build', src], {}, dir);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain('skipped export weird: parameter a has unsupported type Foo (the host cannot call it');
  });
});
