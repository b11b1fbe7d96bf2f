/**
 * The command line of `npm run bench`: suite names and `--quick`, checked before any suite
 * runs (a misspelled flag or name used to run every suite, or the ones before it, for minutes).
 */
export interface BenchArgs {
  /** The suites to run, in order (every one when none was named). */
  suites: string[];
  quick: boolean;
  /** `--help`: print `usage` and run nothing. */
  help: boolean;
}

/** What `--help` prints. */
export function usage(suites: readonly string[]): string {
  return [
    'usage: npm run bench [-- SUITE...] [--quick]',
    `  SUITE   one or more of ${suites.join(', ')} (default: every one, in this order)`,
    '  --quick fewer requests per figure (about a third of the time; noisier)',
    '  --help  this text',
    'Raw figures go to .bench/SUITE-TIME.json.',
  ].join('\n');
}

/** Parses `argv` (after `node dist/bench.js`); throws an Error naming what is wrong and what is allowed. */
export function parseBenchArgs(argv: readonly string[], suites: readonly string[]): BenchArgs {
  const out: BenchArgs = { suites: [], quick: false, help: false };
  for (const a of argv) {
    if (a === '--quick') out.quick = true;
    else if (a === '--help' || a === '-h') out.help = true;
    else if (a.startsWith('-')) throw new Error(`unknown flag ${a}: use --quick or --help`);
    else if (!suites.includes(a)) throw new Error(`unknown benchmark ${a}: use ${suites.join(', ')}`);
    else out.suites.push(a);
  }
  if (out.suites.length === 0) out.suites = [...suites];
  return out;
}
