/**
 * `cloudburst --help` and `cloudburst COMMAND --help`, written from the table (commands.ts):
 * every flag a command takes, its value, choices, default and variable, so the help cannot
 * drift from what the parser accepts.
 */
import { COMMANDS, FLAGS, SECTIONS, type CommandSpec, type FlagName, type FlagSpec } from './commands.ts';
import { envVarOf, envGroupOf, FLAGS_BY_COMMAND } from './flags.ts';
import { EXIT } from './exit.ts';

/** `--name VALUE` or `--name CHOICE|CHOICE` or `--name`. */
function flagForm(name: string, spec: FlagSpec): string {
  if (spec.type === 'boolean') return `--${name}`;
  return `--${name} ${spec.choices ? spec.choices.join('|') : (spec.value ?? 'VALUE')}`;
}

/** The usage line of a command: `cloudburst fn call FN [ARG...] [flags]`. */
export const usageLine = (c: CommandSpec): string => `cloudburst ${c.words}${c.args ? ` ${c.args}` : ''}${c.flags.length > 0 ? ' [flags]' : ''}`;

/** A usage line and its summary: side by side, or the summary below a long line. */
const row = (c: CommandSpec): string => {
  const u = `  ${usageLine(c)}`;
  return u.length < 46 ? `${u.padEnd(46)} ${c.summary}` : `${u}\n${' '.repeat(47)}${c.summary}`;
};

/** The general usage: every command, by section. */
export function generalUsage(): string {
  const lines = ['cloudburst: stateful functions on WebAssembly', ''];
  for (const section of SECTIONS) {
    lines.push(`${section}:`);
    for (const c of COMMANDS.filter((x) => x.section === section)) lines.push(row(c));
  }
  lines.push(
    '',
    'Each command\'s flags, with their defaults: cloudburst COMMAND --help (e.g. cloudburst up --help, cloudburst fn call --help).',
    'Every flag of up, kvs, host, cluster and the client commands may come from CLOUDBURST_<FLAG> (README, "Configuration").',
    `Exit codes: ${EXIT.ok} done, ${EXIT.caller} refused (your mistake), ${EXIT.system} the system's fault (retry later), ${EXIT.notThere} not there yet (a pending future, a stopped cluster), ${EXIT.usage} usage error.`,
  );
  return lines.join('\n');
}

/** The help of one command: usage, summary, flags with defaults and variables, notes. */
export function commandHelp(c: CommandSpec): string {
  const group = envGroupOf(c.words.split(' ')[0]!);
  const fromEnv = new Set<string>(group ? FLAGS_BY_COMMAND[group] : []);
  const rows = (['help', ...c.flags] as FlagName[]).map((name) => {
    const spec: FlagSpec = FLAGS[name];
    const dflt = c.defaults?.[name] ?? spec.default;
    const extra = [dflt !== undefined ? `default: ${dflt}` : '', fromEnv.has(name) ? `env ${envVarOf(name)}` : ''].filter(Boolean).join('; ');
    return `  ${flagForm(name, spec).padEnd(36)} ${spec.help}${extra ? ` (${extra})` : ''}`;
  });
  // A group's verbs, for `cloudburst fn --help`.
  return [`usage: ${usageLine(c)}`, '', c.summary, '', 'flags:', ...rows, ...(c.notes && c.notes.length > 0 ? ['', ...c.notes] : [])].join('\n');
}

/** The help of a command group (`cloudburst fn --help`): its verbs. */
export function groupHelp(first: string): string | undefined {
  const verbs = COMMANDS.filter((c) => c.words.startsWith(`${first} `));
  if (verbs.length === 0) return undefined;
  return [`cloudburst ${first}:`, ...verbs.map(row), '', `cloudburst ${first} VERB --help: a verb's flags`].join('\n');
}
