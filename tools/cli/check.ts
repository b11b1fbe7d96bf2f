/**
 * The strict check of a command line against the table (commands.ts), before anything starts:
 * an unknown command or flag (with the nearest one: "did you mean --fsync?"), a flag another
 * command takes, a value outside a flag's choices, a number or duration that is not one. A refusal is a `UsageError` (exit 64, exit.ts), naming the flag, or
 * its variable when the value came from the environment (flags.ts `flagLabel`).
 */
import { COMMANDS, FLAGS, type CommandSpec, type FlagSpec } from './commands.ts';
import { UsageError } from './exit.ts';
import { flagLabel, type Parsed } from './flags.ts';

/** Edit distance (insert, delete, substitute, swap of neighbours), for suggestions. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate nearest to `given`, if near enough to be a slip (a third of its length, at
 * least 1, or a prefix of it).
 *
 * @example
 * nearest('fsycn', ['fsync', 'port']) // 'fsync'
 */
export function nearest(given: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = c.startsWith(given) && given.length >= 2 ? 0.5 : editDistance(given, c);
    if (dist < bestDistance) [best, bestDistance] = [c, dist];
  }
  return bestDistance <= Math.max(1, Math.floor(given.length / 3)) ? best : undefined;
}

/** The command a command line names (its first one or two words), or undefined for none. */
export function commandOf(positional: readonly string[]): CommandSpec | undefined {
  const two = positional.slice(0, 2).join(' ');
  return COMMANDS.find((c) => c.words === two) ?? COMMANDS.find((c) => c.words === positional[0]);
}

/** The words a command line may start with: `up`, `fn`, ... (each once). */
const firstWords = (): string[] => [...new Set(COMMANDS.map((c) => c.words.split(' ')[0]!))];

/**
 * The command of `positional`, or a UsageError that names the nearest one.
 *
 * @example
 * resolveCommand(['fn', 'cal']) // throws: unknown command "fn cal": did you mean `cloudburst fn call`?
 */
export function resolveCommand(positional: readonly string[]): CommandSpec {
  const [first, second] = positional;
  const found = commandOf(positional);
  if (found) return found;
  const verbs = COMMANDS.filter((c) => c.words.startsWith(`${first} `)).map((c) => c.words.split(' ')[1]!);
  if (verbs.length > 0) {
    const guess = second === undefined ? undefined : nearest(second, verbs);
    const what = second === undefined ? `\`cloudburst ${first}\` needs one of: ${verbs.join(', ')}` : `unknown command "${first} ${second}"`;
    throw new UsageError(`${what}${guess ? `: did you mean \`cloudburst ${first} ${guess}\`?` : ` (${first}: ${verbs.join(', ')})`} (\`cloudburst ${first} --help\` lists them)`);
  }
  const guess = nearest(first ?? '', firstWords());
  throw new UsageError(`unknown command "${first}"${guess ? `: did you mean \`cloudburst ${guess}\`?` : ''} (\`cloudburst --help\` lists the commands)`);
}

const specOf = (name: string): FlagSpec | undefined => (FLAGS as Record<string, FlagSpec>)[name];
const DURATION = /^\d+(ms|s|m)?$/;
const INTEGER = /^\d+$/;

/** Checks one value of flag `name` (from the command line or its variable). */
function checkValue(p: Parsed, name: string, spec: FlagSpec, value: string): void {
  const label = flagLabel(p, name);
  if (spec.choices && !spec.choices.includes(value)) {
    const guess = nearest(value, spec.choices);
    throw new UsageError(`${label} ${JSON.stringify(value)} is not one of ${spec.choices.join(', ')}${guess ? ` (did you mean ${guess}?)` : ''}`);
  }
  if (spec.type === 'int' && !INTEGER.test(value.trim())) throw new UsageError(`${label} must be a whole number (got ${JSON.stringify(value)})`);
  if (spec.type === 'duration' && !DURATION.test(value.trim())) throw new UsageError(`${label} must be a duration: 500ms, 5s, 1m (got ${JSON.stringify(value)})`);
  if (spec.type === 'boolean' && value !== 'true') throw new UsageError(`${label} takes no value (got ${JSON.stringify(value)})`);
}

/**
 * Checks every flag of `p` (command line and environment, after flagsFromEnv) against
 * `command`'s list and each flag's spec.
 *
 * @throws UsageError for the first flag at fault.
 * @example
 * checkFlags(COMMANDS.find((c) => c.words === 'up')!, parse(['up', '--fsycn', 'always']))
 * // throws: unknown flag --fsycn for `cloudburst up`: did you mean --fsync? ...
 */
export function checkFlags(command: CommandSpec, p: Parsed): void {
  const allowed: readonly string[] = ['help', ...command.flags];
  for (const [name, values] of p.flags) {
    if (!allowed.includes(name)) {
      const guess = nearest(name, allowed);
      const elsewhere = COMMANDS.filter((c) => (c.flags as readonly string[]).includes(name)).map((c) => c.words);
      const hint = guess ? `: did you mean --${guess}?` : elsewhere.length > 0 ? ` (it is a flag of ${elsewhere.slice(0, 4).map((w) => `\`${w}\``).join(', ')}${elsewhere.length > 4 ? ', ...' : ''})` : '';
      throw new UsageError(`unknown flag --${name} for \`cloudburst ${command.words}\`${hint} (\`cloudburst ${command.words} --help\` lists its flags)`);
    }
    // A single flag given twice: the last one wins (`up` passes its children address flags
    // that override earlier ones: cluster.ts `where`); each value is checked.
    for (const v of values) checkValue(p, name, specOf(name)!, v);
  }
}
