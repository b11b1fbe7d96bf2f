// The pure parts of `npm run bench -- hotpath`: reading CPU time off a /proc/<pid>/stat line
// (tools/bench/proc-cpu.ts) and the verdict of a figure against its goal (hotpath-goals.ts).
import { describe, expect, it } from 'vitest';
import { formatTable, goalText, judge, type GoalRow } from '../../tools/bench/hotpath-goals.ts';
import { parseStat, treeOf } from '../../tools/bench/proc-cpu.ts';

// A real line's shape (proc(5)): pid (comm) state ppid ... utime(14) stime(15) ...
const statLine = (pid: number, comm: string, ppid: number, utime: number, stime: number): string =>
  `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 1234 0 0 0 ${utime} ${stime} 0 0 20 0 11 0 4242 1000000 5000 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0`;

describe('proc-cpu: CPU time from /proc/<pid>/stat', () => {
  it('reads pid, ppid and utime + stime', () => {
    expect(parseStat(statLine(4321, 'node', 17, 250, 40))).toEqual({ pid: 4321, ppid: 17, ticks: 290 });
  });

  it('counts fields from the last parenthesis: a comm with spaces and parentheses does not shift them', () => {
    expect(parseStat(statLine(99, 'a b) (c) S 1 2', 5, 7, 3))).toEqual({ pid: 99, ppid: 5, ticks: 10 });
  });

  it('refuses a line that is not a stat line', () => {
    expect(() => parseStat('hello world')).toThrow(/not a \/proc stat line/);
    expect(() => parseStat('12 (x) S')).toThrow(/malformed/);
  });

  it('a tree is the roots and every descendant, nothing else', () => {
    const all = [
      { pid: 1, ppid: 0, ticks: 1 }, { pid: 10, ppid: 1, ticks: 2 }, { pid: 11, ppid: 10, ticks: 3 },
      { pid: 12, ppid: 11, ticks: 4 }, { pid: 20, ppid: 1, ticks: 5 }, { pid: 30, ppid: 99, ticks: 6 },
    ];
    expect(treeOf([10], all).map((s) => s.pid).sort((a, b) => a - b)).toEqual([10, 11, 12]);
    expect(treeOf([11, 20, 404], all).map((s) => s.pid).sort((a, b) => a - b)).toEqual([11, 12, 20]);
  });
});

describe('hotpath goals: ratio ours / baseline against the goal', () => {
  const row = (ours: number, baseline: number, goal?: GoalRow['goal']): GoalRow => ({ figure: 'f', unit: 'us', ours, baseline, ...(goal ? { goal } : {}) });

  it('"at most" goals are met at the limit and not above it', () => {
    expect(judge(row(150, 100, { op: '<=', ratio: 1.5 })).verdict).toBe('met');
    expect(judge(row(151, 100, { op: '<=', ratio: 1.5 })).verdict).toBe('NOT met');
  });

  it('"at least" goals are met at the limit and not below it', () => {
    expect(judge(row(60, 100, { op: '>=', ratio: 0.6 })).verdict).toBe('met');
    expect(judge(row(59, 100, { op: '>=', ratio: 0.6 })).verdict).toBe('NOT met');
  });

  it('strict goals ("under", "above") are not met at the limit', () => {
    expect(judge(row(1, 1, { op: '<', ratio: 1 })).verdict).toBe('NOT met');
    expect(judge(row(0.9, 1, { op: '<', ratio: 1 })).verdict).toBe('met');
    expect(judge(row(47, 100, { op: '>', ratio: 0.47 })).verdict).toBe('NOT met');
  });

  it('a missing figure is n/a, a row without a goal is for reference', () => {
    expect(judge(row(Number.NaN, 100, { op: '<=', ratio: 1 })).verdict).toBe('n/a');
    expect(judge(row(5, 0, { op: '<=', ratio: 1 })).verdict).toBe('n/a');
    const ref = judge(row(200, 100));
    expect(ref.verdict).toBe('ref');
    expect(ref.ratio).toBe(2);
  });

  it('an absolute goal shows its limit in the unit, a ratio goal as a ratio', () => {
    expect(goalText({ ...row(3, 5, { op: '<', ratio: 1 }), absolute: true })).toBe('< 5.00 us');
    expect(goalText(row(3, 5, { op: '<=', ratio: 1.3 }))).toBe('<= 1.30x');
    expect(goalText(row(3, 5))).toBe('-');
  });

  it('the table counts the goals met among those judged', () => {
    const table = formatTable([judge(row(1, 2, { op: '<=', ratio: 1 })), judge(row(3, 2, { op: '<=', ratio: 1 })), judge(row(3, 2))]);
    expect(table).toMatch(/goals met: 1 of 2$/);
    expect(table.split('\n')).toHaveLength(2 + 3 + 1);
  });
});
