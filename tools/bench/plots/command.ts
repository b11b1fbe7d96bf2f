// What `npm run bench` prints about its charts: after each suite, its chart and the report
// (a chart that fails is reported and the bench goes on: the figures are already saved); and
// `npm run bench -- report [DIR]`, which charts saved results again without measuring.
import { join, relative } from 'node:path';
import { chartFile, writeReport } from './report.ts';

const shown = (path: string): string => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
};

/** After a suite wrote `file`: its SVG beside it and the folder's report.md. Never throws. */
export async function chartAfterSuite(file: string, dir: string, order: readonly string[]): Promise<void> {
  const out = await chartFile(file);
  if (out.ok) console.log(`chart: ${shown(join(dir, out.entry.svg ?? ''))}`);
  else console.error(`chart: none for ${out.file}: ${out.message}`);
  try {
    const report = await writeReport(dir, { order });
    console.log(`report: ${shown(report.file)}`);
  } catch (err) {
    console.error(`report: not written: ${(err as Error).message}`);
  }
}

/**
 * `npm run bench -- report [DIR]`: every result file in DIR charted again and report.md
 * rewritten. Exit code 0 when every file charted, 1 when some could not be (they are named,
 * with the reason, here and in the report), 1 when DIR is no folder.
 */
export async function reportCommand(dir: string, order: readonly string[]): Promise<number> {
  let report;
  try {
    report = await writeReport(dir, { renderAll: true, order });
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return 1;
  }
  for (const e of report.entries) console.log(`${e.suite.padEnd(12)} ${e.svg ? shown(join(dir, e.svg)) : '(no chart)'}`);
  for (const p of report.problems) console.error(`not charted: ${p.file}: ${p.message}`);
  console.log(`report: ${shown(report.file)}`);
  return report.problems.length > 0 ? 1 : 0;
}
