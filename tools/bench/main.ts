// `npm run bench [-- host|kvs|locality|dag|gossip|consistency|memory|tenants|autoscale|hotpath|kv-wire|dev] [--quick] [--help]`: the figures of the closing notes, each measured
// against a baseline run in the same process tree at the same time (this machine is shared
// and noisy: compare ratios, not absolute numbers). Raw figures go to .bench/*.json, each
// charted beside it (.svg, plots/), and .bench/report.md links them; `-- report [DIR]`
// charts saved results again without measuring.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../build/build.ts';
import { type BenchArgs, parseBenchArgs, usage } from './args.ts';
import { autoscaleBench } from './autoscale.ts';
import { consistencyBench } from './consistency.ts';
import { dagBench } from './dag.ts';
import { devBench } from './dev-loop.ts';
import { gossipBench } from './gossip.ts';
import { hostBench } from './host-bench.ts';
import { hotpathBench } from './hotpath.ts';
import { kvWireBench } from './kv-wire.ts';
import { kvsBench } from './kvs.ts';
import { localityBench } from './locality.ts';
import { memoryBench } from './memory.ts';
import { chartAfterSuite, reportCommand } from './plots/command.ts';
import { tenantsBench } from './tenants.ts';

const SUITES: Record<string, (quick: boolean) => Promise<Record<string, unknown>>> = { host: hostBench, kvs: kvsBench, locality: localityBench, dag: dagBench, gossip: gossipBench, consistency: consistencyBench, memory: memoryBench, tenants: tenantsBench, autoscale: autoscaleBench, hotpath: hotpathBench, 'kv-wire': kvWireBench, dev: devBench };

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
const RESULTS = join(PACKAGE_ROOT, '.bench');
// A folder named on the command line is the caller's: npm runs scripts from the package root.
if (args.report) process.exit(await reportCommand(args.report.dir ? resolve(process.env.INIT_CWD ?? process.cwd(), args.report.dir) : RESULTS, Object.keys(SUITES)));
const { quick } = args;
// Progress on a terminal (stderr): which suite of how many, and the time so far. The suites
// print their own lines on stdout, so this is one line per suite, not a redrawn one; in a
// pipe or a log file nothing is added.
const started = Date.now();
const elapsed = (): string => `${Math.floor((Date.now() - started) / 60_000)}m${String(Math.floor(((Date.now() - started) / 1000) % 60)).padStart(2, '0')}s`;
for (const [i, name] of args.suites.entries()) {
  const suite = SUITES[name]!;
  if (process.stderr.isTTY) process.stderr.write(`bench: suite ${i + 1} of ${args.suites.length} (${name})${quick ? ' --quick' : ''}, ${elapsed()} so far\n`);
  console.log(`\n== ${name} ==`);
  const report = await suite(quick);
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `${name}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, ...report }, null, 2));
  console.log(`raw figures: ${file}`);
  await chartAfterSuite(file, RESULTS, Object.keys(SUITES));
}
if (process.stderr.isTTY) process.stderr.write(`bench: ${args.suites.length} suite(s) in ${elapsed()}; report: ${join(RESULTS, 'report.md')}\n`);
