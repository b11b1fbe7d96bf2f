// `cloudburst kvs` on SIGTERM (kvs/README.md, "Leaving or restarting"): a restart unless told
// it is a scale-in, by `<data>/leave` (what a StatefulSet's preStop hook or an operator writes)
// or `--leave-on-stop`: then it hands its keys over and leaves the ring.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KV_PATHS } from '../../kvs/index.ts';
import { secretEnv } from '../../tools/cli/cluster-secret.ts';
import { kvJson } from '../helpers/cluster.ts';
import { testSecret } from '../helpers/cluster-secret.ts';
import { CLI, ROOT, tempDir, waitFor } from '../helpers/platform.ts';

interface Node {
  child: ChildProcess;
  url: string;
  id: string;
  output: () => string;
  exit: Promise<number | null>;
}

const secret = testSecret();
const started: ChildProcess[] = [];

async function kvs(args: string[]): Promise<Node> {
  const child = spawn(process.execPath, [CLI, 'kvs', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...secretEnv(secret) } });
  started.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const m = await waitFor(() => /KV node (\S+) listening on (\S+)/.exec(out), (x) => x !== null, 60_000, `the KV node to listen:\n${out}`);
  return { child, id: m![1]!, url: m![2]!, output: () => out, exit };
}

const stateOf = async (base: string, id: string): Promise<string | undefined> =>
  (await kvJson<{ members: { id: string; state: string }[] }>(secret, base, KV_PATHS.ring)).members.find((m) => m.id === id)?.state;

describe('cloudburst kvs on SIGTERM: restart or leave', () => {
  let dir: string;
  afterAll(async () => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stops as a member without a leave file (a restart), leaves the ring with one or with --leave-on-stop', { timeout: 120_000 }, async () => {
    dir = await tempDir('cb-kv-stop-');
    const a = await kvs(['--data', join(dir, 'a')]);
    const seed = a.url.replace(/^http:\/\//, '');
    const bData = join(dir, 'b');
    let b = await kvs(['--data', bData, '--seeds', seed]);
    await waitFor(() => stateOf(a.url, b.id), (s) => s === 'up', 20_000, 'b up in a\'s ring');

    // A plain SIGTERM: b stops, and stays a member (it will be back with its data).
    b.child.kill('SIGTERM');
    expect(await b.exit).toBe(0);
    expect(await stateOf(a.url, b.id)).toBe('up');
    expect(b.output()).not.toContain('leaving the ring');

    // It restarts on its folder, same identity, and is ready again once caught up.
    b = await kvs(['--data', bData, '--seeds', seed]);
    await waitFor(async () => (await fetch(`${b.url}${KV_PATHS.readyz}`)).status, (s) => s === 200, 30_000, 'b ready again');
    expect(await stateOf(a.url, b.id)).toBe('up');

    // A scale-in: the leave file says so. b hands over and leaves; the file is consumed.
    writeFileSync(join(bData, 'leave'), '');
    b.child.kill('SIGTERM');
    expect(await b.exit).toBe(0);
    expect(b.output()).toContain('left the ring');
    await waitFor(() => stateOf(a.url, b.id), (s) => s === 'left', 10_000, 'b left in a\'s ring');
    expect(existsSync(join(bData, 'leave'))).toBe(false);

    // --leave-on-stop: every stop is a leave.
    const c = await kvs(['--data', join(dir, 'c'), '--seeds', seed, '--leave-on-stop']);
    await waitFor(() => stateOf(a.url, c.id), (s) => s === 'up', 20_000, 'c up in a\'s ring');
    c.child.kill('SIGTERM');
    expect(await c.exit).toBe(0);
    await waitFor(() => stateOf(a.url, c.id), (s) => s === 'left', 10_000, 'c left in a\'s ring');

    a.child.kill('SIGTERM');
    expect(await a.exit).toBe(0);
  });

  it('a leave file left from an earlier stop is removed at start: that start is no scale-in', { timeout: 60_000 }, async () => {
    dir ??= await tempDir('cb-kv-stop-');
    const data = join(dir, 'stale');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'leave'), '');
    const n = await kvs(['--data', data]);
    expect(existsSync(join(data, 'leave'))).toBe(false);
    n.child.kill('SIGTERM');
    expect(await n.exit).toBe(0);
    expect(n.output()).not.toContain('leaving the ring');
  });
});
