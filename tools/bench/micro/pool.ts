// Micro-benchmark of a warm call through the executor pool, without HTTP:
//   npx esbuild tools/bench/micro/pool.ts --bundle --platform=node --format=esm --packages=external --outfile=dist/micro-pool.js && node dist/micro-pool.js
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecutorPool } from '../../../host/executor/pool.ts';
import { readModuleTypes } from '../../../host/module-types.ts';
import { memoryImport } from '../../../host/module-abi.ts';
import { readWasm } from '../../../host/wasm-binary.ts';

const dir = mkdtempSync(join(tmpdir(), 'cb-micro-'));
const spin = Number(process.env.SPIN ?? 50);
const pool = new ExecutorPool({ size: 2, cachePath: dir, writerPrefix: 'h-micro', bridge: async () => undefined, spinMicros: spin });
const bytes = readFileSync(join(import.meta.dirname, '..', 'build', 'guests', 'math.wasm'));
const module = new WebAssembly.Module(bytes);
const spec = { id: 'default/math', module, types: readModuleTypes(module), memoryInitialPages: memoryImport(readWasm(bytes)).initialPages, memoryMaxPages: 256 };
await pool.run({ kind: 'load', tenant: 'default', module: spec }, 5000);
const t: number[] = [];
for (let i = 0; i < 20000; i++) {
  const s = process.hrtime.bigint();
  const r = await pool.run({ kind: 'call', tenant: 'default', module: spec, exportName: 'square', args: [{ kind: 'value', value: 7n }], callId: `bench.0.${i}` }, 5000);
  t.push(Number(process.hrtime.bigint() - s) / 1000);
  if (!r.ok) throw new Error(r.message);
}
t.sort((a, b) => a - b);
console.log(`spin ${spin}: pool.run p50 ${t[10000]!.toFixed(1)} us, p90 ${t[18000]!.toFixed(1)}, p99 ${t[19800]!.toFixed(1)}`);
await pool.close();
rmSync(dir, { recursive: true, force: true });
