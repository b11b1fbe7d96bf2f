// `npm run bench [-- host|kvs|locality|dag|gossip|consistency|memory|tenants|autoscale|hotpath|dev] [--quick] [--help]`: the figures of the closing notes, each measured
// against a baseline run in the same process tree at the same time (this machine is shared
// and noisy: compare ratios, not absolute numbers). Raw figures go to .bench/*.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../build/build.ts';
import { type BenchArgs, parseBenchArgs, usage } from './args.ts';
import { autoscaleBench } from './autoscale.ts';
import { consistencyBench } from './consistency.ts';
import { dagBench } from './dag.ts';
import { devBench } from './dev-loop.ts';
import { gossipBench } from './gossip.ts';
import { hostBench } from './host-bench.ts';
import { hotpathBench } from './hotpath.ts';
import { kvsBench } from './kvs.ts';
import { localityBench } from './locality.ts';
import { memoryBench } from './memory.ts';
import { tenantsBench } from './tenants.ts';

const SUITES: Record<string, (quick: boolean) => Promise<Record<string, unknown>>> = { host: hostBench, kvs: kvsBench, locality: localityBench, dag: dagBench, gossip: gossipBench, consistency: consistencyBench, memory: memoryBench, tenants: tenantsBench, autoscale: autoscaleBench, hotpath: hotpathBench, dev: devBench };

let args: BenchArgs;
try {
  args = parseBenchArgs(process.argv.slice(2), Object.keys(SUITES));
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  process.exit(1);
}
if (args.help) {
  console.log(usage(Object.keys(SUITES)));
  process.exit(0);
}
const { quick } = args;
for (const name of args.suites) {
  const suite = SUITES[name]!;
  console.log(`\n== ${name} ==`);
  const report = await suite(quick);
  mkdirSync(join(PACKAGE_ROOT, '.bench'), { recursive: true });
  const file = join(PACKAGE_ROOT, '.bench', `${name}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, ...report }, null, 2));
  console.log(`raw figures: ${file}`);
}
