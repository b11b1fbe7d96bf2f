// The netns harness (helpers/netns.ts) itself, with plain node HTTP servers: each machine has
// its own address and ports, the root namespace and the machines reach each other through the
// bridge, a cut link stops traffic without stopping the process, and nothing is left behind:
// not by teardown, not by a test process that exits without it, not by one killed with -9.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canMakeNamespaces, makeNetwork, type Network } from '../helpers/netns.ts';
import { bundleFixture, spawnChild } from '../kvs/child.ts';
import { tempDir, waitFor } from '../helpers/platform.ts';

const can = canMakeNamespaces();
if (!can.ok) console.warn(`netns harness tests skipped: ${can.reason}`);

const PORT = 8080;
/** Answers with the address it serves on (its eth0) and the address the request came from. */
const SERVER = `
const os = require('node:os');
const me = os.networkInterfaces().eth0?.find((a) => a.family === 'IPv4')?.address;
require('node:http').createServer((req, res) => res.end(JSON.stringify({ me, from: req.socket.remoteAddress })))
  .listen(${PORT}, '0.0.0.0', () => console.log('listening'));
`;

const get = async (url: string, timeoutMs = 10_000): Promise<{ me: string; from: string }> =>
  (await (await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })).json()) as { me: string; from: string };

/**
 * Whether a GET of `url` gets no answer within `ms`. Its own agent, destroyed after: the
 * connection attempt to a cut machine would stay open (SYN retransmits) past the file's end.
 */
async function unanswered(url: string, ms: number): Promise<boolean> {
  const agent = new Agent({ connect: { timeout: ms } });
  try {
    const res = await request(url, { dispatcher: agent, signal: AbortSignal.timeout(ms) });
    await res.body.dump();
    return false;
  } catch {
    return true;
  } finally {
    await agent.destroy();
  }
}

/** What of the network is still there: namespaces, interfaces (the bridge, the cables). */
function leftovers(names: { bridge: string; machines: readonly { ns: string; cable: string }[] }): string[] {
  const nss = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  const linkNames = new Set(links.split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]));
  return [
    ...names.machines.filter((m) => nss.split('\n').some((l) => l.split(' ')[0] === m.ns)).map((m) => m.ns),
    ...[names.bridge, ...names.machines.map((m) => m.cable)].filter((n) => linkNames.has(n)),
  ];
}

describe.skipIf(!can.ok)('netns harness: machines on one machine', () => {
  let net: Network;
  const servers: ChildProcess[] = [];

  beforeAll(async () => {
    net = makeNetwork(['a', 'b']);
    for (const m of net.machines) {
      const child = net.spawn(m, process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
      servers.push(child);
      await new Promise<void>((ready, fail) => {
        child.stdout!.once('data', () => ready());
        child.once('exit', (code) => fail(new Error(`server in ${m.name} exited (${code})`)));
      });
    }
  });
  afterAll(() => net?.teardown());

  it('each machine has its own address and ports; the root namespace reaches each through the bridge', async () => {
    const [a, b] = net.machines;
    expect(a!.ip).not.toBe(b!.ip);
    // Both listen on the same port, each on its own machine.
    expect(await get(`http://${a!.ip}:${PORT}/`)).toEqual({ me: a!.ip, from: net.gateway });
    expect(await get(`http://${b!.ip}:${PORT}/`)).toEqual({ me: b!.ip, from: net.gateway });
    // The spawned pid is the server's own (ip netns exec execs): it is the process in the namespace.
    const inA = execFileSync('ip', ['netns', 'pids', a!.ns], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    expect(inA).toEqual([servers[0]!.pid]);
  });

  it('machines reach each other by address, and see each other\'s address', async () => {
    const [a, b] = net.machines;
    const client = net.spawn(a!, process.execPath, ['-e', `fetch('http://${b!.ip}:${PORT}/').then((r) => r.text()).then((t) => console.log(t))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((done) => client.once('exit', done));
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({ me: b!.ip, from: a!.ip });
  });

  it('linkDown cuts a machine off without stopping its process; linkUp brings it back', async () => {
    const [a, b] = net.machines;
    net.linkDown(b!);
    try {
      expect(await unanswered(`http://${b!.ip}:${PORT}/`, 2000)).toBe(true);
      // The other machine still answers, and the cut one's server still runs.
      expect((await get(`http://${a!.ip}:${PORT}/`)).me).toBe(a!.ip);
      expect(servers[1]!.exitCode).toBeNull();
    } finally {
      net.linkUp(b!);
    }
    await expect.poll(async () => (await get(`http://${b!.ip}:${PORT}/`, 2000).catch(() => undefined))?.me).toBe(b!.ip);
  });
});

describe.skipIf(!can.ok)('netns harness: nothing left behind', () => {
  let dir: string;
  let script: string;
  beforeAll(async () => {
    dir = await tempDir('cb-netns-');
    script = await bundleFixture(join(import.meta.dirname, '..', 'fixtures', 'netns', 'abandon.ts'), join(dir, 'abandon.mjs'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('teardown stops the processes and removes the namespaces, the cables and the bridge', async () => {
    const net = makeNetwork(['x', 'y']);
    const names = { bridge: net.bridge, machines: net.machines };
    const sleeper = net.spawn('x', process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    expect(leftovers(names)).toHaveLength(5);
    await net.teardown();
    expect(sleeper.exitCode !== null || sleeper.signalCode !== null).toBe(true);
    // A namespace's interfaces go once the kernel frees it, a moment after its last process.
    await waitFor(() => leftovers(names), (l) => l.length === 0, 10_000, 'the network to be gone');
  });

  it('a test process that exits without teardown leaves nothing (exit handler)', async () => {
    const child = spawnChild(script, ['exit']);
    const names = JSON.parse(await child.waitFor((l) => l.startsWith('{'))) as Parameters<typeof leftovers>[0];
    await new Promise<void>((done) => (child.proc.exitCode === null ? child.proc.once('exit', () => done()) : done()));
    expect(child.proc.exitCode).toBe(0);
    await waitFor(() => leftovers(names), (l) => l.length === 0, 10_000, 'the abandoned network to be gone');
  });

  it('what a test process killed with -9 left is swept by the next network made', async () => {
    const child = spawnChild(script, ['hang']);
    const names = JSON.parse(await child.waitFor((l) => l.startsWith('{'))) as Parameters<typeof leftovers>[0];
    await child.kill();
    expect(leftovers(names)).toHaveLength(5);
    const next = makeNetwork(['z']);
    await next.teardown();
    await waitFor(() => leftovers(names), (l) => l.length === 0, 10_000, 'the orphaned network to be swept');
  });
});
