import { describe, expect, it } from 'vitest';
import { parseBenchArgs, usage } from '../../tools/bench/args.ts';

const SUITES = ['host', 'kvs', 'hotpath'];

describe('npm run bench: its command line, checked before any suite runs', () => {
  it('no name runs every suite in order; names run those, in the order given', () => {
    expect(parseBenchArgs([], SUITES)).toEqual({ suites: SUITES, quick: false, help: false });
    expect(parseBenchArgs(['hotpath', 'kvs', '--quick'], SUITES)).toEqual({ suites: ['hotpath', 'kvs'], quick: true, help: false });
  });

  it('--help (or -h) asks for the usage, which names every suite', () => {
    expect(parseBenchArgs(['--help'], SUITES).help).toBe(true);
    expect(parseBenchArgs(['-h'], SUITES).help).toBe(true);
    for (const s of SUITES) expect(usage(SUITES)).toContain(s);
  });

  it('a misspelled flag or an unknown suite is an error naming what is allowed, even after valid names', () => {
    expect(() => parseBenchArgs(['--quik'], SUITES)).toThrow('unknown flag --quik: use --quick or --help');
    expect(() => parseBenchArgs(['host', 'hotpat'], SUITES)).toThrow('unknown benchmark hotpat: use host, kvs, hotpath');
  });

  it('report [DIR] charts saved results and measures nothing; it takes one folder and no other flag', () => {
    expect(parseBenchArgs(['report'], SUITES)).toEqual({ suites: [], quick: false, help: false, report: {} });
    expect(parseBenchArgs(['report', 'old-results'], SUITES).report).toEqual({ dir: 'old-results' });
    expect(parseBenchArgs(['report', '--help'], SUITES).help).toBe(true);
    expect(() => parseBenchArgs(['report', 'a', 'b'], SUITES)).toThrow('report takes one folder: report [DIR]');
    expect(() => parseBenchArgs(['report', '--quick'], SUITES)).toThrow('unknown flag --quick for report: use report [DIR]');
    expect(usage(SUITES)).toContain('npm run bench -- report [DIR]');
  });
});
