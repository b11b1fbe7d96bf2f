import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { CLI, ROOT, runCli, startPlatform, type Platform } from '../helpers/platform.ts';

// `cloudburst logs` (tools/cli/logs.ts), the real CLI against a real host: lines as a person
// reads them and as JSON, the cursor to continue from, a failed call's error line, and
// --follow, through a restart of the host on its port (the stream is opened again from its
// last line) until Ctrl-C.

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [0-9a-f]{12} (debug|info |warn |error) .*$/;

describe('cloudburst logs', () => {
  let p: Platform;
  let env: Record<string, string>;
  const call = (fn: string, args: unknown[]) => p.client.request('POST', `/v1/functions/${fn}/call`, JSON.stringify({ args }), { 'content-type': 'application/json' });

  beforeAll(async () => {
    p = await startPlatform();
    env = { CLOUDBURST_TOKEN: p.token!, CLOUDBURST_URL: p.host.url };
    await p.deploy('logger');
  }, 60_000);
  afterAll(() => p?.stop());

  it('prints time, host, level and message, oldest first; the cursor goes to stderr and --since continues from it', async () => {
    await call('logger.sayMany', ['cli', 2]);
    const first = await runCli(['logs', 'logger.sayMany'], env);
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(LINE);
    expect(lines.map((l) => l.split(' ').slice(1))).toEqual([[p.host.id, 'info', '', 'cli', '#0'], [p.host.id, 'info', '', 'cli', '#1']]);
    const next = /^next: (\S+)$/m.exec(first.stderr)![1]!;
    expect((await runCli(['logs', 'logger.sayMany', '--since', next], env)).stdout).toBe('');
    await call('logger.sayMany', ['later', 1]);
    const after = await runCli(['logs', 'logger.sayMany', '--since', next, '--json'], env);
    expect(after.stdout.trim().split('\n').map((l) => JSON.parse(l) as { message: string; level: string })).toEqual([expect.objectContaining({ message: 'later #0', level: 'info' })]);
  });

  it('shows a failed call: its lines and its error line with the code; an unknown function is an error', async () => {
    await call('logger.sayThenFail', ['cli failure']);
    const out = await runCli(['logs', 'logger.sayThenFail'], env);
    expect(out.stdout).toMatch(/ warn {2}cli failure\n.* error GUEST_ABORT: .*logger: failed after cli failure/);
    const unknown = await runCli(['logs', 'logger.nope'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/error UNKNOWN_FUNCTION/);
    expect((await runCli(['logs'], env)).stderr).toMatch(/usage: cloudburst logs FN/);
  });

  it('fn call --logs prints the call\'s lines on stderr, with its result or with its error', async () => {
    const ok = await runCli(['fn', 'call', 'logger.say', 'hi there', '--logs'], env);
    expect([ok.code, ok.stdout.trim()]).toEqual([0, 'hi there']);
    expect(ok.stderr).toContain('[logger.say] hi there');
    const failed = await runCli(['fn', 'call', 'logger.sayThenFail', 'last words', '--logs'], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/\[logger\.sayThenFail\] last words\n(.|\n)*error GUEST_ABORT/);
  });
});

describe('cloudburst logs --follow', () => {
  let p: Platform;
  let second: Host | undefined;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    p = await startPlatform();
    await p.deploy('logger');
  }, 60_000);
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await second?.close();
    await p?.stop();
  });

  it('prints lines as they come, opens the stream again when its host restarts, and stops on Ctrl-C', async () => {
    const call = (url: string, msg: string) => fetch(`${url}/v1/functions/logger.say/call`, {
      method: 'POST', headers: { ...p.headers, 'content-type': 'application/json' }, body: JSON.stringify({ args: [msg] }),
    }).then(async (r) => expect(r.status, await r.text()).toBe(200));
    const url = p.host.url;
    const port = p.host.port;
    child = spawn(process.execPath, [CLI, 'logs', 'logger.say', '--follow', '--json'], {
      cwd: ROOT, env: { ...process.env, XDG_CONFIG_HOME: join(tmpdir(), 'cb-test-no-config'), CLOUDBURST_TOKEN: p.token!, CLOUDBURST_URL: url },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const messages = (): string[] => stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { message: string }).message);

    // The stream is open once a call made now shows up (calls before it are its first page, too).
    await expect.poll(async () => {
      await call(url, 'ping');
      return messages().includes('ping');
    }).toBe(true);
    await call(url, 'before the restart');
    await expect.poll(messages).toContain('before the restart');

    // The host stops (its streams end) and a new one starts on the same port and data.
    await p.host.close();
    second = await startHost({ ...p.auth, dataDir: join(p.dataDir, 'host'), kvsUrl: p.kv.url, port, workers: 2, onGuestLog: () => undefined });
    await call(url, 'after the restart');
    await expect.poll(messages, { timeout: 60_000 }).toContain('after the restart');
    expect(stderr).toMatch(/log stream: .*connecting again/);
    expect(messages().filter((m) => m === 'before the restart')).toHaveLength(1);

    child.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 120_000);
});
