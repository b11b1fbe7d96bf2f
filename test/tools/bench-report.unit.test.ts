// The bench's report (tools/bench/plots/report.ts, report-md.ts): a folder of result files
// charted again without measuring (what `npm run bench -- report DIR` does), bad files named
// with their reason while the others are charted, and report.md's links and ratio tables.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compare } from '../../tools/bench/plots/headline.ts';
import { chartFile, writeReport } from '../../tools/bench/plots/report.ts';
import { formatReport, headlineTable } from '../../tools/bench/plots/report-md.ts';
import { RESULTS } from './bench-plots-fixtures.ts';

const ORDER = ['host', 'kvs', 'locality', 'dag', 'gossip', 'consistency', 'memory', 'tenants', 'autoscale', 'hotpath', 'dev'];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cb-bench-report-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const put = (name: string, value: unknown): void => writeFileSync(join(dir, name), typeof value === 'string' ? value : JSON.stringify(value));

describe('bench report: a folder of saved results charted again', () => {
  it('every suite gets its SVG beside its JSON, and report.md links every SVG and tables the ratios', async () => {
    Object.entries(RESULTS).forEach(([suite, r], i) => put(`${suite}-${1796400000000 + i}.json`, r));
    const { file, entries, problems } = await writeReport(dir, { renderAll: true, order: ORDER });
    expect(problems).toEqual([]);
    expect(entries.map((e) => e.suite)).toEqual(ORDER);
    const svgs = readdirSync(dir).filter((f) => f.endsWith('.svg'));
    expect(svgs).toHaveLength(ORDER.length);
    const md = readFileSync(file, 'utf8');
    for (const svg of svgs) {
      expect(md).toContain(`![${svg.split('-')[0]} chart](${svg})`);
      expect(readFileSync(join(dir, svg), 'utf8').startsWith('<svg')).toBe(true);
    }
    expect(md).toContain('| figure | ours | baseline | ratio | goal | verdict |');
    expect(md).toContain('| math.square seq p50 vs node:http floor | 556 µs | 155 µs | 3.58x | <= 1.50x | **NOT met** |');
    expect(md).toContain('| [tenants](#tenants) | 2026-12-04 15:14:59 UTC | 2 of 2 |');
  });

  it('a bad file is named with its reason; the other files are charted all the same', async () => {
    put('host-1796400000000.json', RESULTS.host);
    put('kvs-1796400000001.json', '{"redis": {"put": ');
    put('dag-1796400000002.json', { date: '2026-12-04T15:14:59.241Z', oneHost: {} });
    put('warp-1796400000003.json', { figures: 1 });
    put('notes.json', []);
    const { file, entries, problems } = await writeReport(dir, { renderAll: true, order: ORDER });
    expect(entries.map((e) => e.suite)).toEqual(['host']);
    expect(existsSync(join(dir, 'host-1796400000000.svg'))).toBe(true);
    expect(existsSync(join(dir, 'kvs-1796400000001.svg'))).toBe(false);
    const why = Object.fromEntries(problems.map((p) => [p.file, p.message]));
    expect(why['kvs-1796400000001.json']).toMatch(/^not valid JSON/);
    expect(why['dag-1796400000002.json']).toBe('its figures are not where the chart expects them: oneHost.dag.p50 is missing (written by another version of the suite?)');
    expect(why['warp-1796400000003.json']).toMatch(/^no chart for a suite named "warp"/);
    expect(why['notes.json']).toBe('not a result file name (SUITE-TIME.json)');
    const md = readFileSync(file, 'utf8');
    expect(md).toContain('## Files not charted');
    expect(md).toContain('- `dag-1796400000002.json`: its figures are not where the chart expects them');
  });

  it('the newest run of a suite is its entry; older ones are linked as earlier runs', async () => {
    put('gossip-1796400000000.json', { ...RESULTS.gossip, date: '2026-12-01T10:00:00.000Z' });
    put('gossip-1796500000000.json', { ...RESULTS.gossip, date: '2026-12-03T10:00:00.000Z' });
    const { file, entries } = await writeReport(dir, { renderAll: true });
    expect(entries).toHaveLength(1);
    expect(entries[0]!.json).toBe('gossip-1796500000000.json');
    expect(readFileSync(file, 'utf8')).toContain('Earlier runs: [2026-12-01 10:00:00 UTC](gossip-1796400000000.svg) ([json](gossip-1796400000000.json)).');
  });

  it('after a run, only a missing or stale chart is rendered', async () => {
    put('memory-1796400000000.json', RESULTS.memory);
    const first = await chartFile(join(dir, 'memory-1796400000000.json'), 'if-stale');
    expect(first.ok && first.entry.svg).toBe('memory-1796400000000.svg');
    writeFileSync(join(dir, 'memory-1796400000000.svg'), '<svg>kept</svg>');
    await chartFile(join(dir, 'memory-1796400000000.json'), 'if-stale');
    expect(readFileSync(join(dir, 'memory-1796400000000.svg'), 'utf8')).toBe('<svg>kept</svg>');
  });

  it('a folder that is not there: an error saying how to get one', async () => {
    await expect(writeReport(join(dir, 'nope'))).rejects.toThrow(/is not a folder of bench results: run a suite first/);
  });
});

describe('bench report: report.md text', () => {
  it('a table row per figure: units, ratio, goal and a bold NOT met; figures without a baseline show "-"', () => {
    const table = headlineTable([
      compare('p50 | vs floor', 'µs', 300, 100, { op: '<=', ratio: 1.5 }),
      compare('throughput', 'req/s', 900, 1000, { op: '>=', ratio: 0.6 }),
      { figure: 'errors', unit: '', ours: 3, baseline: Number.NaN, ratio: Number.NaN, goal: '-', verdict: 'ref' },
    ]);
    expect(table.split('\n')).toEqual([
      '| figure | ours | baseline | ratio | goal | verdict |',
      '|---|---:|---:|---:|---|---|',
      '| p50 \\| vs floor | 300 µs | 100 µs | 3.00x | <= 1.50x | **NOT met** |',
      '| throughput | 900 req/s | 1000 req/s | 0.90x | >= 0.60x | met |',
      '| errors | 3.00 | - | - | - | ref |',
    ]);
  });

  it('no result at all still makes a report that says so', () => {
    const md = formatReport({ latest: [], earlier: {}, problems: [{ file: 'x-1.json', message: 'not valid JSON' }], generated: new Date(0) });
    expect(md).toContain('No result could be charted.');
    expect(md).toContain('- `x-1.json`: not valid JSON');
  });
});
