// Server CPU time, read off Linux's /proc: what a request costs the processes that serve it
// (user + system time of every thread), as opposed to wall-clock latency, which on this
// shared 2-core machine also counts everybody else's work. A process's own utime/stime cover
// all its threads (the executor workers of `up` included); child processes that serve (the
// `cloudburst` launcher runs the CLI in-process, but a cluster's nodes, Redis next to a
// function) are counted by walking the tree from the given roots.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat a CPU reading needs. */
export interface StatCpu {
  pid: number;
  ppid: number;
  /** utime + stime, in clock ticks (CLK_TCK per second). */
  ticks: number;
}

/**
 * Parses one /proc/<pid>/stat line. The second field (comm) is in parentheses and may itself
 * hold spaces and parentheses, so the fields are counted from the LAST ')': after it come
 * state (3), ppid (4), ... utime (14), stime (15) (proc(5), 1-based).
 */
export function parseStat(line: string): StatCpu {
  const close = line.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc stat line: ${line.slice(0, 80)}`);
  const pid = Number(line.slice(0, line.indexOf(' ')));
  const rest = line.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state): field k is rest[k - 3].
  const ppid = Number(rest[4 - 3]);
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  if (![pid, ppid, utime, stime].every(Number.isFinite)) throw new Error(`malformed /proc stat line: ${line.slice(0, 80)}`);
  return { pid, ppid, ticks: utime + stime };
}

/** Every pid in `all` that is one of `roots` or descends from one of them. */
export function treeOf(roots: readonly number[], all: readonly StatCpu[]): StatCpu[] {
  const children = new Map<number, StatCpu[]>();
  for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const byPid = new Map(all.map((s) => [s.pid, s]));
  const out: StatCpu[] = [];
  const seen = new Set<number>();
  const queue = roots.map((p) => byPid.get(p)).filter((s): s is StatCpu => s !== undefined);
  while (queue.length > 0) {
    const s = queue.shift()!;
    if (seen.has(s.pid)) continue;
    seen.add(s.pid);
    out.push(s);
    queue.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux unless told otherwise). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function readAll(): StatCpu[] {
  const out: StatCpu[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      out.push(parseStat(readFileSync(`/proc/${name}/stat`, 'utf8')));
    } catch {
      // the process exited between the listing and the read
    }
  }
  return out;
}

/** CPU microseconds used so far by the processes `roots` and their descendants. */
export function cpuMicros(roots: readonly number[]): number {
  const ticks = treeOf(roots, readAll()).reduce((sum, s) => sum + s.ticks, 0);
  return (ticks * 1e6) / ticksPerSecond();
}
