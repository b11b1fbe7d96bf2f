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
  /** `report [DIR]`: chart the saved results in DIR (default .bench) again, measure nothing. */
  report?: { dir?: string };
}

/** What `--help` prints. */
export function usage(suites: readonly string[]): string {
  return [
    'usage: npm run bench [-- SUITE...] [--quick]',
    '       npm run bench -- report [DIR]',
    `  SUITE   one or more of ${suites.join(', ')} (default: every one, in this order)`,
    '  --quick fewer requests per figure (about a third of the time; noisier)',
    '  --help  this text',
    '  report  chart the saved results in DIR (default .bench) again, without measuring',
    'Raw figures go to .bench/SUITE-TIME.json, each with its chart beside it (SUITE-TIME.svg);',
    '.bench/report.md links the newest chart of every suite with its headline figures.',
  ].join('\n');
}

/** Parses `argv` (after `node dist/bench.js`); throws an Error naming what is wrong and what is allowed. */
export function parseBenchArgs(argv: readonly string[], suites: readonly string[]): BenchArgs {
  const out: BenchArgs = { suites: [], quick: false, help: false };
  if (argv[0] === 'report') {
    const rest = argv.slice(1);
    out.help = rest.some((a) => a === '--help' || a === '-h');
    const flag = rest.find((a) => a.startsWith('-') && a !== '--help' && a !== '-h');
    if (flag) throw new Error(`unknown flag ${flag} for report: use report [DIR]`);
    if (rest.length > 1 + Number(out.help)) throw new Error('report takes one folder: report [DIR]');
    const dir = rest.find((a) => !a.startsWith('-'));
    out.report = dir ? { dir } : {};
    return out;
  }
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
