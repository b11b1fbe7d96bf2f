import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { startHost, type FsyncPolicy, type Host } from '../../host/index.ts';
import { startKvNode, type KvNode } from '../../kvs/index.ts';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { HostClient } from './client.ts';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  kvsPort: number;
  workers?: number;
  fsync?: FsyncPolicy;
  deployExamples: boolean;
  log: (line: string) => void;
}

export interface Embedded {
  host: Host;
  kv: KvNode;
  deployed: string[];
  close(): Promise<void>;
}

/**
 * Builds an example (cached by the hash of its source and the SDK, since asc takes seconds)
 * and returns the module bytes.
 */
async function exampleWasm(file: string, cacheDir: string): Promise<Uint8Array> {
  const hash = createHash('sha256');
  hash.update(readFileSync(file));
  const sdk = join(PACKAGE_ROOT, 'guest', 'sdk', 'cloudburst');
  for (const f of readdirSync(sdk, { recursive: true }).map(String).sort()) {
    if (f.endsWith('.ts')) hash.update(readFileSync(join(sdk, f)));
  }
  const cached = join(cacheDir, `${basename(file, '.ts')}-${hash.digest('hex').slice(0, 16)}.wasm`);
  if (existsSync(cached)) return readFileSync(cached);
  const { wasm } = await buildGuest({ entry: file });
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(cached, wasm);
  return wasm;
}

/**
 * `cloudburst up` with one node: a KV node and a function host in this process. The host
 * talks to the KV node over HTTP on loopback, as it would in a cluster.
 */
export async function startEmbedded(opts: EmbeddedOptions): Promise<Embedded> {
  mkdirSync(opts.dataDir, { recursive: true });
  const kv = await startKvNode({ dataDir: join(opts.dataDir, 'kv'), port: opts.kvsPort, ...(opts.fsync ? { fsync: opts.fsync } : {}) });
  let host: Host;
  try {
    host = await startHost({
      dataDir: join(opts.dataDir, 'host'), kvsUrl: kv.url, port: opts.port,
      ...(opts.workers ? { workers: opts.workers } : {}), ...(opts.fsync ? { fsync: opts.fsync } : {}),
    });
  } catch (err) {
    await kv.close();
    throw err;
  }
  const deployed: string[] = [];
  if (opts.deployExamples) {
    const dir = join(PACKAGE_ROOT, 'guest', 'examples');
    const client = new HostClient(host.url);
    try {
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts')).sort()) {
        const name = basename(f, '.ts');
        opts.log(`deploying example ${name}...`);
        const wasm = await exampleWasm(join(dir, f), join(opts.dataDir, 'examples'));
        const out = await client.json<{ functions: { name: string }[] }>('PUT', `/v1/modules/${name}`, wasm, true);
        deployed.push(...out.functions.map((fn) => fn.name));
      }
    } finally {
      await client.close();
    }
  }
  deployed.sort();
  return {
    host, kv, deployed,
    close: async () => {
      await host.close();
      await kv.close();
    },
  };
}
