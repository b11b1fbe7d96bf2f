// Micro-benchmark of the host cache's hot functions (outside the test gate):
//   node tools/bundle.js && npx esbuild tools/bench/micro/cache.ts --bundle --platform=node --format=esm --packages=external --outfile=dist/micro-cache.js && node dist/micro-cache.js
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostCache } from '../../../host/cache/cache.ts';
import { Hlc, decode, encode, lww, type Lattice } from '../../../kvs/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'cb-micro-'));
const cache = HostCache.open({ path: dir });
const hlc = new Hlc('h-bench/w0');
const value = new Uint8Array(1024).fill(7);
const N = 20_000;

function time(name: string, n: number, fn: () => void): void {
  const t = process.hrtime.bigint();
  fn();
  console.log(`${name.padEnd(40)} ${(Number(process.hrtime.bigint() - t) / 1000 / n).toFixed(3)} us/op`);
}

const writes = new Map<string, Lattice>();
time('lww.write + map set', N, () => { for (let i = 0; i < N; i++) writes.set(`default/k/g${i}`, lww.write(value, hlc.now())); });
time('encode 1 KiB lww', N, () => { for (const v of writes.values()) encode(v); });
const enc = encode(writes.values().next().value!);
time('decode 1 KiB lww', N, () => { for (let i = 0; i < N; i++) decode(enc); });
time('commit (one txn)', N, () => cache.commit(writes));
cache.refresh();
time('cache.get distinct keys', N, () => { for (let i = 0; i < N; i++) cache.get(`default/k/g${i}`); });
time('cache.getFast distinct keys', N, () => { for (let i = 0; i < N; i++) cache.getFast(`default/k/g${i}`); });
time('cache.get same key', N, () => { for (let i = 0; i < N; i++) cache.get('default/k/g1'); });
await cache.close();
rmSync(dir, { recursive: true, force: true });
