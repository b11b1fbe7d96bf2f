import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ADMIN_TOKEN_FILE, hostPath, provisionAdminToken, startHost, type FsyncPolicy, type Host, type HostOptions } from '../../host/index.ts';
import { checkAddresses, CloudburstError, type ServerTls } from '../../common/index.ts';
import { KvClient } from '../../kvs/index.ts';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { HostClient } from './client.ts';
import { dataDirClusterSecret } from './cluster-secret.ts';
import { startKvThread, type EmbeddedKv } from './embedded-kv.ts';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  kvsPort: number;
  /**
   * Where the host listens and the URL it announces (common/address.ts). The KV node stays on
   * 127.0.0.1: only this process's host talks to it.
   */
  listen?: string;
  advertise?: string;
  workers?: number;
  fsync?: FsyncPolicy;
  /** Memory settings of the host (see "Memory" in host/README.md). */
  memory?: Pick<HostOptions, 'guestMemoryMiB' | 'workerMemoryMiB' | 'cacheMiB' | 'cacheKeys' | 'valueMemoMiB'>;
  /** How the host's executor pool grows and shrinks (see "Executor scaling" in host/README.md). */
  scaling?: Pick<HostOptions, 'maxWorkers' | 'scaleUpWaitMs' | 'idleTimeoutMs'>;
  /** The write-behind flusher's group-commit cap (see "Write-behind" in host/README.md). */
  writeBehind?: Pick<HostOptions, 'flushMaxDelayMs'>;
  deployExamples: boolean;
  /** The cluster secret of the KV node and the host. Default: the data folder's (cluster-secret.ts). */
  clusterSecret?: Buffer;
  /** No authentication at all (no secret). */
  insecure?: boolean;
  log: (line: string) => void;
  /** Serve the host API over TLS (README, "TLS"). */
  tls?: ServerTls;
  /** PEM CA certificate(s) trusted besides the system's by the host, the KV node (its pushes to the host) and the examples' deployment. */
  ca?: Buffer;
  /** `close()` drains the host (Host.drain) within this; default 30 s. */
  drainTimeoutMs?: number;
  /**
   * Called if the KV node's thread dies while the platform runs (an uncaught error in it).
   * Default: a line that says so, and the process exits 2: a host without its KV tier would
   * only hang or refuse work (its acknowledged writes are in its own store, flushed at the
   * next start).
   */
  onKvCrash?: (err: Error) => void;
}

export interface Embedded {
  host: Host;
  /** The KV node, on a thread of its own (embedded-kv.ts). */
  kv: EmbeddedKv;
  /** The functions of the examples: deployed now, or already there as they are. */
  deployed: string[];
  /** Modules named like an example but holding something else (the user's): left as they are. */
  kept: string[];
  /** The admin token (in `<data>/admin-token`); undefined in insecure mode. */
  token: string | undefined;
  close(): Promise<void>;
}

/**
 * Builds an example (cached by the hash of its source and the SDK, since asc takes seconds)
 * and returns the module bytes.
 */
async function exampleWasm(file: string, cacheDir: string, log: (line: string) => void): Promise<Uint8Array> {
  const hash = createHash('sha256');
  hash.update(readFileSync(file));
  const sdk = join(PACKAGE_ROOT, 'guest', 'sdk', 'cloudburst');
  for (const f of readdirSync(sdk, { recursive: true }).map(String).sort()) {
    if (f.endsWith('.ts')) hash.update(readFileSync(join(sdk, f)));
  }
  const cached = join(cacheDir, `${basename(file, '.ts')}-${hash.digest('hex').slice(0, 16)}.wasm`);
  if (existsSync(cached)) return readFileSync(cached);
  log(`building example ${basename(file, '.ts')}...`);
  const { wasm } = await buildGuest({ entry: file });
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(cached, wasm);
  return wasm;
}

interface ModuleInfo {
  sha256: string;
  functions: { name: string }[];
}

/**
 * `read`, retried while the KV tier answers KV_UNAVAILABLE, for up to 30 s: a KV node that
 * stalled or restarted (a loaded machine, the examples' build) refuses reads for a while (at
 * most seconds) as it catches up with its peers, and not knowing is no reason to act as if
 * nothing were there.
 */
export async function whileCatchingUp<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof CloudburstError) || err.code !== 'KV_UNAVAILABLE' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * The module deployed under `name`, or undefined when there is none (read while the tier
 * catches up: a missing answer is no reason to deploy over what may be the user's module).
 */
function deployedModule(client: HostClient, name: string): Promise<ModuleInfo | undefined> {
  return whileCatchingUp(async () => {
    try {
      return await client.json<ModuleInfo>('GET', hostPath.module(name));
    } catch (err) {
      if (err instanceof CloudburstError && err.code === 'UNKNOWN_MODULE') return undefined;
      throw err;
    }
  });
}

/** The credential both servers share: the given secret, `insecure`, or the data folder's secret. */
function embeddedCredential(opts: EmbeddedOptions): { clusterSecret: Buffer } | { insecure: true } {
  if (opts.insecure === true) return { insecure: true };
  return { clusterSecret: opts.clusterSecret ?? dataDirClusterSecret(opts.dataDir) };
}

/**
 * The admin token of a platform whose KV tier answers at `kvsUrl` (`<dataDir>/admin-token`,
 * created on first start: host/auth/provision.ts).
 */
export async function adminToken(kvsUrl: string | string[], clusterSecret: Buffer, dataDir: string): Promise<string> {
  const seeds = Array.isArray(kvsUrl) ? kvsUrl : [kvsUrl];
  const kv = new KvClient({ seeds, clusterSecret });
  try {
    // The token's record is read fresh: KV nodes that just restarted must have caught up.
    return await whileCatchingUp(() => provisionAdminToken(kv, join(dataDir, ADMIN_TOKEN_FILE)));
  } finally {
    await kv.close();
  }
}

/** What a crash of the KV node's thread does by default (EmbeddedOptions.onKvCrash). */
function exitOnKvCrash(log: (line: string) => void): (err: Error) => void {
  return (err) => {
    log(`error: the embedded KV node's thread stopped: ${err.stack ?? err.message}`);
    log('cloudburst up stops (acknowledged writes are in the host\'s store and reach the KV node at the next start)');
    process.exit(2);
  };
}

/**
 * `cloudburst up` with one node: a KV node (on a thread of its own: embedded-kv.ts) and a
 * function host in this process. The host talks to the KV node over HTTP on loopback, as it
 * would in a cluster. `close()` drains the host first (its last flush goes to the KV node),
 * then stops the KV node.
 *
 * With `deployExamples`, each example of guest/examples/ is deployed only when no module of
 * its name exists: a module the user deployed under that name (or an older build of the
 * example) is kept, and a line says so.
 */
export async function startEmbedded(opts: EmbeddedOptions): Promise<Embedded> {
  // Before anything opens: a wildcard listen address needs the URL to announce.
  checkAddresses({ listen: opts.listen, advertise: opts.advertise, scheme: opts.tls ? 'https' : 'http' }, 'cloudburst up');
  mkdirSync(opts.dataDir, { recursive: true });
  const credential = embeddedCredential(opts);
  const kv = await startKvThread(
    { dataDir: join(opts.dataDir, 'kv'), port: opts.kvsPort, ...(opts.fsync ? { fsync: opts.fsync } : {}), ...(opts.ca ? { ca: opts.ca } : {}), ...credential },
    opts.onKvCrash ?? exitOnKvCrash(opts.log),
  ).catch((err: unknown) => {
    // A busy port here is the KV node's: the message names its flag (main.ts).
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') Object.assign(err as object, { flag: '--kvs-port' });
    throw err;
  });
  let host: Host;
  let token: string | undefined;
  try {
    token = 'clusterSecret' in credential ? await adminToken(kv.url, credential.clusterSecret, opts.dataDir) : undefined;
    host = await startHost({
      dataDir: join(opts.dataDir, 'host'), kvsUrl: kv.url, port: opts.port,
      ...(opts.listen !== undefined ? { listen: opts.listen } : {}), ...(opts.advertise !== undefined ? { advertise: opts.advertise } : {}),
      ...(opts.workers ? { workers: opts.workers } : {}), ...(opts.fsync ? { fsync: opts.fsync } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}), ...(opts.ca ? { ca: opts.ca } : {}),
      ...opts.memory, ...opts.scaling, ...opts.writeBehind, ...credential,
      // Not ready before the examples are there: a probe that says ready promises them.
      ...(opts.deployExamples ? { holdReady: 'the examples are being deployed' } : {}),
    });
  } catch (err) {
    await kv.close();
    throw err;
  }
  const close = async (): Promise<void> => {
    await host.drain(opts.drainTimeoutMs === undefined ? {} : { timeoutMs: opts.drainTimeoutMs });
    await kv.close();
  };
  try {
    const { deployed, kept } = opts.deployExamples ? await deployExamples(host.url, token, opts) : { deployed: [], kept: [] };
    host.setReady();
    return { host, kv, deployed, kept, token, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Deploys each example whose name no module has; see startEmbedded. */
/**
 * Deploys each example of guest/examples/ through the host at `url` unless a module of its name
 * exists (the user's is kept, and a line says so): `cloudburst up`'s, in one process or as a
 * cluster. The builds are cached by hash in `<dataDir>/examples`.
 */
export async function deployExamples(url: string, token: string | undefined, opts: Pick<EmbeddedOptions, 'dataDir' | 'ca' | 'log'>): Promise<{ deployed: string[]; kept: string[] }> {
  const dir = join(PACKAGE_ROOT, 'guest', 'examples');
  // Every build first: asc holds this process's event loop for seconds, and the KV node here
  // may take that for a pause of its own and refuse reads while it catches up (see below).
  const examples: { name: string; file: string; wasm: Uint8Array }[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts')).sort()) {
    const file = join(dir, f);
    examples.push({ name: basename(f, '.ts'), file, wasm: await exampleWasm(file, join(opts.dataDir, 'examples'), opts.log) });
  }
  const deployed: string[] = [];
  const kept: string[] = [];
  const client = new HostClient(url, { token, ca: opts.ca });
  try {
    for (const { name, file, wasm } of examples) {
      const existing = await deployedModule(client, name);
      if (existing === undefined) {
        opts.log(`deploying example ${name}...`);
        const out = await client.json<ModuleInfo>('PUT', hostPath.module(name), wasm, true);
        deployed.push(...out.functions.map((fn) => fn.name));
      } else if (existing.sha256 === createHash('sha256').update(wasm).digest('hex')) {
        deployed.push(...existing.functions.map((fn) => fn.name));
      } else {
        kept.push(name);
        opts.log(`keeping module ${name} (sha256 ${existing.sha256.slice(0, 12)}...): it is not the example ${name}, which is not deployed over it (to replace it: cloudburst fn deploy ${file} --name ${name})`);
      }
    }
  } finally {
    await client.close();
  }
  return { deployed: deployed.sort(), kept };
}
