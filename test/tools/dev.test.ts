import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { initProject } from '../../tools/cli/init.ts';
import { CLI, freePort, tempDir, waitFor } from '../helpers/platform.ts';

// `cloudburst dev` as a user runs it: a real child process in a project `cloudburst init`
// made, its own platform on a free port; the test edits the source as an editor saves it.

/** asc's first build in a process takes seconds, many on a loaded machine. */
const START_TIMEOUT_MS = 180_000;
const POLL = { timeout: 120_000, interval: 200 };

describe('cli: cloudburst dev', () => {
  let dir: string;
  let project: string;
  let child: ChildProcess;
  let output = '';
  let client: HostClient;
  let source: string;

  const greet = async (): Promise<string> => {
    try {
      return (await client.json<{ result: string }>('POST', '/v1/functions/hello.greet/call', { args: ['ada'] })).result;
    } catch (err) {
      return err instanceof CloudburstError ? err.code : String(err);
    }
  };
  const save = (text: string): void => writeFileSync(join(project, 'src', 'index.ts'), text);

  beforeAll(async () => {
    dir = await tempDir('cb-dev-');
    // Under a folder named like one dev never watches inside a project (build/): only the part
    // below the watched folder counts.
    project = initProject(join(dir, 'build', 'hello'), undefined).dir;
    source = readFileSync(join(project, 'src', 'index.ts'), 'utf8');
    const port = await freePort();
    child = spawn(process.execPath, [CLI, 'dev', '--port', String(port)], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(() => output.includes('cloudburst dev:') || child.exitCode !== null, Boolean, START_TIMEOUT_MS, `cloudburst dev to start (output so far: ${output})`);
    expect(child.exitCode, output).toBeNull();
    const token = readFileSync(join(project, '.cloudburst', 'admin-token'), 'utf8').trim();
    client = new HostClient(`http://127.0.0.1:${port}`, { token });
  }, START_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    await client?.close();
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('deploys the project\'s entry at start under the project\'s module name', async () => {
    expect(output).toMatch(/deployed hello \(asc \d+ ms, deploy \d+ ms\)/);
    expect(output).toContain('hello.greet(name: string): string');
    expect(await greet()).toBe('Hello, ada! (greeting 1)');
  });

  it('streams the log lines of the deployed functions as calls run', async () => {
    await greet();
    await expect.poll(() => output, POLL).toMatch(/\[hello\.greet\] info: greeted ada \(2\)/);
  });

  it('a save is rebuilt and redeployed: the call returns the new greeting, and the time from save to callable is printed', async () => {
    save(source.replace('"Hello, "', '"Hi, "'));
    await expect.poll(greet, POLL).toMatch(/^Hi, ada! \(greeting \d+\)$/);
    expect(output).toMatch(/redeployed hello \(\d+ ms from save to callable: asc \d+ ms, the rest -?\d+ ms\)/);
  });

  it('a syntax error shows asc\'s diagnostic, keeps dev running and the old version callable; fixing it redeploys', async () => {
    const before = output.length;
    save(source.replace('return "Hello, " + name', 'return "Hello, " + + name'));
    await expect.poll(() => output.slice(before), POLL).toContain('build failed for hello (src/index.ts); the version deployed before stays callable');
    expect(output.slice(before)).toMatch(/ERROR TS\d+/);
    // The diagnostic points at the line that was broken.
    const line = source.split('\n').findIndex((l) => l.includes('return "Hello, " + name')) + 1;
    expect(output.slice(before)).toContain(`index.ts(${line},`);
    expect(child.exitCode).toBeNull();
    expect(await greet()).toMatch(/^Hi, ada! /);

    save(source.replace('"Hello, "', '"Hey, "'));
    await expect.poll(greet, POLL).toMatch(/^Hey, ada! /);
  });

  it('Ctrl-C stops the platform and the watcher: exit code 0', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(await greet()).toBe('HOST_UNAVAILABLE');
  });
});
