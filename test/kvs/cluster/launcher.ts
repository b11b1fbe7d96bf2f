/**
 * Real KV nodes in child processes for the cluster tests: spawn, SIGKILL, SIGSTOP/SIGCONT,
 * graceful leave through stdin, restart on the same folder and port. Plus helpers that look
 * at every replica directly (not through the client) to check convergence.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Buffer } from 'node:buffer';
import { decodeFrame, KV_CONTENT_TYPES, KV_PATHS, type KvNodeOptions } from '../../../kvs/index.ts';
import type { RingInfo } from '../../../kvs/cluster/gossip.ts';
import { Membership, parseMembers } from '../../../kvs/cluster/membership.ts';
import { Transport } from '../../../kvs/transport.ts';
import { secretEnv } from '../../../tools/cli/cluster-secret.ts';
import { testSecret } from '../../helpers/cluster-secret.ts';
import { bundleFixture } from '../child.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/kv-node.ts', import.meta.url));

/** Options a test may set per node (dataDir, port and nodeId are the launcher's). */
export type NodeOptions = Omit<KvNodeOptions, 'dataDir' | 'port' | 'nodeId' | 'log'>;

export class ProcNode {
  readonly name: string;
  readonly dataDir: string;
  /** The cluster secret it gets by environment, as `cloudburst up` passes it. */
  readonly secret: Buffer;
  port = 0;
  url = '';
  proc: ChildProcess | undefined;
  stderr = '';
  readonly #script: string;
  readonly #opts: NodeOptions;
  #lines: string[] = [];
  #waiters = new Set<{ test: (l: string) => boolean; resolve: (l: string) => void }>();
  #exited: Promise<void> = Promise.resolve();

  constructor(script: string, name: string, dataDir: string, opts: NodeOptions, secret: Buffer) {
    this.#script = script;
    this.name = name;
    this.dataDir = dataDir;
    this.secret = secret;
    this.#opts = opts;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts (or restarts, on the same folder and port) and waits for `ready`. */
  async start(extra: Partial<NodeOptions> = {}): Promise<void> {
    const opts = { ...this.#opts, ...extra, dataDir: this.dataDir, port: this.port, nodeId: this.name, fsync: this.#opts.fsync ?? 'batch' };
    const proc = spawn(process.execPath, [this.#script, JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'pipe'], env: secretEnv(this.secret) });
    this.proc = proc;
    this.#lines = [];
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      this.#lines.push(line);
      for (const w of this.#waiters) {
        if (w.test(line)) {
          this.#waiters.delete(w);
          w.resolve(line);
        }
      }
    });
    this.#exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const line = await this.waitFor((l) => l.startsWith('ready '), 30_000);
    const [, , url] = line.split(' ');
    this.url = url!;
    this.port = Number(new URL(this.url).port);
  }

  waitFor(test: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const seen = this.#lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { test, resolve: (l: string) => (clearTimeout(timer), resolve(l)) };
      this.#waiters.add(w);
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(new Error(`${this.name}: no matching line in ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      void this.#exited.then(() => {
        if (!this.#waiters.delete(w)) return;
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${this.proc?.exitCode}); stderr: ${this.stderr}`));
      });
    });
  }

  /** kill -9, resolved once the process is gone. */
  async kill(): Promise<void> {
    if (this.running) this.proc!.kill('SIGKILL');
    await this.#exited;
  }

  stop(): void {
    this.proc!.kill('SIGSTOP');
  }

  cont(): void {
    this.proc!.kill('SIGCONT');
  }

  /** Graceful leave: resolves once the node handed everything over and exited. */
  async leave(): Promise<void> {
    this.proc!.stdin!.write('leave\n');
    const line = await this.waitFor((l) => l === 'left' || l.startsWith('leave-failed'), 60_000);
    if (line !== 'left') throw new Error(`${this.name}: ${line}`);
    await this.#exited;
  }
}

/**
 * @example
 * const cluster = await Launcher.create('kill');
 * const [a, b, c] = await cluster.startMany(3, { replication: 3 });
 * await cluster.close();
 */
export class Launcher {
  readonly root: string;
  readonly nodes: ProcNode[] = [];
  /** The cluster's secret: every node gets it, and `transport` signs with it. */
  readonly secret = testSecret();
  readonly transport = new Transport({ connections: 4, timeoutMs: 5000, clusterSecret: this.secret });
  readonly #script: string;

  private constructor(root: string, script: string) {
    this.root = root;
    this.#script = script;
  }

  static async create(prefix: string): Promise<Launcher> {
    const root = await mkdtemp(join(tmpdir(), `cloudburst-kvs-${prefix}-`));
    const script = await bundleFixture(FIXTURE, join(root, 'kv-node.mjs'));
    return new Launcher(root, script);
  }

  /** Starts a node named `name`; the first of a cluster needs no seeds. `secret`: another cluster's. */
  async start(name: string, opts: NodeOptions = {}, secret: Buffer = this.secret): Promise<ProcNode> {
    const node = new ProcNode(this.#script, name, join(this.root, name), opts, secret);
    this.nodes.push(node);
    await node.start();
    return node;
  }

  /** Starts `n` nodes, each after the first seeded by the first. */
  async startMany(n: number, opts: NodeOptions = {}): Promise<ProcNode[]> {
    const first = await this.start('n1', opts);
    const rest = [];
    for (let i = 2; i <= n; i++) rest.push(await this.start(`n${i}`, { ...opts, seeds: [first.url] }));
    const all = [first, ...rest];
    await waitFor(async () => (await Promise.all(all.map((x) => this.ring(x).catch(() => undefined)))).every((r) => r && upCount(r) === n), 20_000, 'all nodes up everywhere');
    return all;
  }

  /** A node's ring document. */
  async ring(node: ProcNode): Promise<RingInfo> {
    const reply = await this.transport.request(node.url, { method: 'GET', path: KV_PATHS.ring, timeoutMs: 2000 });
    if (reply.status !== 200) throw new Error(`${node.name}: ring ${reply.status}`);
    return JSON.parse(reply.body.toString('utf8')) as RingInfo;
  }

  /** What `node` itself stores for `keys` (bypassing the client); throws if it refuses. */
  async read(node: ProcNode, keys: readonly string[]): Promise<Map<string, Buffer | undefined>> {
    const out = new Map<string, Buffer | undefined>();
    for (let i = 0; i < keys.length; i += 5000) {
      const part = keys.slice(i, i + 5000);
      const body = Buffer.from(JSON.stringify({ keys: part }));
      const reply = await this.transport.request(node.url, { method: 'POST', path: KV_PATHS.batchGet, body, contentType: KV_CONTENT_TYPES.json, timeoutMs: 5000 });
      if (reply.status !== 200) throw new Error(`${node.name}: batch get ${reply.status} ${reply.body.toString()}`);
      for (const e of decodeFrame(reply.body, part.length)) out.set(e.key, e.value ? Buffer.from(e.value) : undefined);
    }
    return out;
  }

  /**
   * Keys whose replicas (per `viewOf`'s ring) do not all hold identical bytes, reading every
   * running replica directly (a key no replica holds is not divergent).
   */
  async divergent(keys: readonly string[], viewOf: ProcNode): Promise<string[]> {
    const view = Membership.of(parseMembers((await this.ring(viewOf)).members));
    const byName = new Map(this.nodes.filter((n) => n.running).map((n) => [n.name, n]));
    const reads = new Map<string, Map<string, Buffer | undefined>>();
    for (const n of byName.values()) reads.set(n.name, await this.read(n, keys));
    const bad: string[] = [];
    for (const key of keys) {
      const replicas = view.placement.replicasFor(key).map((m) => reads.get(m.id)?.get(key));
      const first = replicas.find((b) => b !== undefined);
      if (first && replicas.some((b) => !b || !b.equals(first))) bad.push(key);
    }
    return bad;
  }

  /** Kills every node and removes the folder. */
  async close(): Promise<void> {
    for (const n of this.nodes) {
      if (process.env['KV_DEBUG'] && n.stderr) console.log(`--- ${n.name} stderr\n${n.stderr}`);
      if (n.running) n.proc!.kill('SIGKILL');
    }
    await Promise.all(this.nodes.map((n) => n.kill()));
    await this.transport.close({ force: true });
    await rm(this.root, { recursive: true, force: true });
  }
}

export function upCount(info: RingInfo): number {
  return info.members.filter((m) => m.state === 'up').length;
}

/** Polls `cond` every 50 ms until true, or throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (err) {
      last = err; // not yet
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
