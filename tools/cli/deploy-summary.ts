// What `cloudburst fn deploy` prints: the module's functions with their types, and, when the
// name held a module already, what the upload replaced (the host's `replaced` answer).

interface FunctionInfo {
  name: string;
  params: { name: string; type: string }[];
  result: string;
}

/** The answer of `PUT /v1/modules/{name}` (host/routes.ts putModule). */
export interface DeployAnswer {
  module: string;
  sha256: string;
  functions: FunctionInfo[];
  replaced?: { sha256: string; deployedAt: string; functions: FunctionInfo[] };
}

/** How many hex digits of a sha256 the summary shows (as git shows a commit). */
const SHORT_SHA = 12;

const signature = (f: FunctionInfo): string => `(${f.params.map((q) => `${q.name}: ${q.type}`).join(', ')}): ${f.result}`;

/**
 * The deploy's text: one line per function, then what was replaced, if anything.
 *
 * @example
 * deploySummary(answer);
 * // math.cube(x: i64): i64
 * // math.square(x: i64): i64
 * // replaced math (sha 1a2b3c4d5e6f, deployed 2026-12-04T21:00:00.000Z): added math.cube; removed math.increment
 */
export function deploySummary(out: DeployAnswer): string {
  const lines = out.functions.map((f) => `${f.name}${signature(f)}`);
  const old = out.replaced;
  if (!old) return lines.join('\n');
  const was = `replaced ${out.module} (sha ${old.sha256.slice(0, SHORT_SHA)}, deployed ${old.deployedAt})`;
  if (old.sha256 === out.sha256) {
    lines.push(`${was}: the same bytes, nothing changed`);
    return lines.join('\n');
  }
  const before = new Map(old.functions.map((f) => [f.name, f]));
  const after = new Map(out.functions.map((f) => [f.name, f]));
  const added = out.functions.filter((f) => !before.has(f.name)).map((f) => f.name);
  const removed = old.functions.filter((f) => !after.has(f.name)).map((f) => f.name);
  const changed = out.functions
    .filter((f) => before.has(f.name) && signature(before.get(f.name)!) !== signature(f))
    .map((f) => `${f.name}${signature(f)} (was ${signature(before.get(f.name)!)})`);
  const parts = [
    ...(added.length > 0 ? [`added ${added.join(', ')}`] : []),
    ...(removed.length > 0 ? [`removed ${removed.join(', ')}`] : []),
    ...(changed.length > 0 ? [`changed ${changed.join(', ')}`] : []),
  ];
  lines.push(`${was}: ${parts.length > 0 ? parts.join('; ') : 'the same functions, new code'}`);
  return lines.join('\n');
}
