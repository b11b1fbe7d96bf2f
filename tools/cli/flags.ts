/**
 * The CLI's command line, and its one rule for the environment: every flag `--foo-bar` of the
 * commands that start servers (and of the client commands) may also come from the variable
 * `CLOUDBURST_FOO_BAR` (upper case, `-` to `_`), so that a pod spec sets them (from the
 * downward API, a ConfigMap). The command line wins over the variable; an empty variable counts
 * as unset; a boolean flag's variable is `1`/`true` (on) or `0`/`false` (off). A bad value's
 * error names the variable it came from (`flagLabel`).
 *
 * Besides the rule (and not flags): `CLOUDBURST_CLUSTER_SECRET` is the cluster secret itself
 * (cluster-secret.ts), never a path.
 */
import { CloudburstError } from '../../common/index.ts';
import { COMMANDS, FLAGS, type FlagSpec } from './commands.ts';
import { UsageError } from './exit.ts';

export interface Parsed {
  positional: string[];
  /** Every value of each flag, in the order given (the last one wins for single flags). */
  flags: Map<string, string[]>;
  /** Positional arguments and --ref values, in the order given (for `fn call`). */
  ordered: ({ value: string } | { ref: string } | { future: string })[];
  /** The flags that came from the environment, with their variable. */
  fromEnv: Map<string, string>;
}

/** Flags that take no value (commands.ts: type `boolean`). */
export const BOOLEAN_FLAGS: ReadonlySet<string> = new Set(Object.entries(FLAGS as Record<string, FlagSpec>).filter(([, f]) => f.type === 'boolean').map(([name]) => name));

/** One-letter flags: `-o FILE` is `--out FILE`, `-h` is `--help`. */
const SHORT: Readonly<Record<string, string>> = { o: 'out', h: 'help' };

const flagsOf = (words: string): readonly string[] => COMMANDS.find((c) => c.words === words)!.flags.filter((f) => f !== 'help');

/** What every client command (`fn`, `kv`, `dag`, `future`, `tenant`, `token`, `logs`) reads. */
const CLIENT = ['url', 'token', 'tenant', 'ca', 'json', 'session'];

/**
 * The flags each command reads, every one of which may come from its `CLOUDBURST_*` variable:
 * the server commands' and `cluster status`'s whole lists in the table (commands.ts), so a flag
 * added there has its variable. `client`: what every client command (`fn`, `kv`, `dag`,
 * `future`, `tenant`, `token`) reads; `logs`: `cloudburst logs FN` (its table entry's flags).
 */
export const FLAGS_BY_COMMAND: Readonly<Record<'up' | 'kvs' | 'host' | 'cluster' | 'client' | 'logs', readonly string[]>> = {
  up: flagsOf('up'),
  kvs: flagsOf('kvs'),
  host: flagsOf('host'),
  cluster: flagsOf('cluster status'),
  client: ['url', 'token', 'tenant', 'ca', 'json', 'session'],
  logs: flagsOf('logs'),
};

/** The executor pool's flags (host/README.md) and the write-behind cap, on `host` and `up`. */
const WORKERS = ['workers', 'max-workers', 'scale-up-wait', 'idle-timeout', 'flush-max-delay'];
const MEMORY = ['guest-memory-mib', 'worker-memory-mib', 'cache-mib', 'cache-keys', 'value-memo-mib'];

/**
 * The flags of `up` it hands on, as flags, to the processes it starts with `--kvs-nodes`/
 * `--hosts` (their environment holds no flag variable: `withoutFlagVariables`). The addresses,
 * TLS and the secret are passed by `up` itself.
 */
export const UP_FORWARDS: Readonly<{ host: readonly string[]; kvs: readonly string[] }> = {
  host: [...WORKERS, 'drain-timeout', ...MEMORY],
  kvs: ['fsync'],
};

/** Which list of FLAGS_BY_COMMAND a command line's first word reads, if any. */
const COMMAND_FLAGS: Readonly<Record<string, keyof typeof FLAGS_BY_COMMAND>> = {
  up: 'up', kvs: 'kvs', host: 'host', cluster: 'cluster',
  fn: 'client', kv: 'client', dag: 'client', future: 'client', tenant: 'client', token: 'client', logs: 'logs',
};

/** Which list of FLAGS_BY_COMMAND (the environment rule) a command's first word reads, if any. */
export const envGroupOf = (first: string): keyof typeof FLAGS_BY_COMMAND | undefined => COMMAND_FLAGS[first];

/**
 * The variable of a flag.
 *
 * @example
 * envVarOf('drain-timeout') // 'CLOUDBURST_DRAIN_TIMEOUT'
 */
export function envVarOf(flag: string): string {
  return `CLOUDBURST_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** Every variable of the rule (the flags of every command): what `up` strips from its children's environment. */
export function flagVariables(): Set<string> {
  return new Set(Object.values(FLAGS_BY_COMMAND).flat().map(envVarOf));
}

/**
 * Fills `parsed` with the flags of `command` (a key of FLAGS_BY_COMMAND, or the command line's
 * first word; others read no variable) that its command line does not give and `env` does.
 *
 * @throws UsageError (`INVALID_REQUEST`, exit 64) naming the variable, for a boolean that is not
 *   1, true, 0 or false.
 * @example
 * const p = parse(['host', '--port', '7070']);
 * flagsFromEnv('host', { CLOUDBURST_LISTEN: '0.0.0.0', CLOUDBURST_PORT: '1' }, p); // listen 0.0.0.0, port stays 7070
 */
export function flagsFromEnv(command: string, env: Readonly<Record<string, string | undefined>>, parsed: Parsed): Parsed {
  const list = FLAGS_BY_COMMAND[(COMMAND_FLAGS[command] ?? command) as keyof typeof FLAGS_BY_COMMAND] as readonly string[] | undefined;
  for (const flag of list ?? []) {
    const variable = envVarOf(flag);
    const value = env[variable];
    if (parsed.flags.has(flag) || value === undefined || value === '') continue;
    if (BOOLEAN_FLAGS.has(flag)) {
      const v = value.trim().toLowerCase();
      if (v === '0' || v === 'false') continue;
      if (v !== '1' && v !== 'true') throw new UsageError( `${variable}=${JSON.stringify(value)}: a boolean variable is 1, true, 0 or false (it sets --${flag})`);
      parsed.flags.set(flag, ['true']);
    } else {
      parsed.flags.set(flag, [value]);
    }
    parsed.fromEnv.set(flag, variable);
  }
  return parsed;
}

/**
 * How an error names a flag: `--port`, or `CLOUDBURST_PORT (--port)` when its value came from
 * the environment, so that a bad value is found where it was set.
 */
export function flagLabel(p: Parsed, name: string): string {
  const variable = p.fromEnv.get(name);
  return variable === undefined ? `--${name}` : `${variable} (--${name})`;
}

/**
 * Splits a command line into positional arguments and flags (`--name value`, `--name=value`,
 * `-o`), knowing from the table (commands.ts) which flags take no value. It does not judge which
 * flags a command takes (check.ts does, with suggestions): an unknown flag with nothing after it
 * is kept as given, for that check to name.
 *
 * @throws UsageError for a known flag that needs a value and has none.
 */
export function parse(argv: string[]): Parsed {
  const out: Parsed = { positional: [], flags: new Map(), ordered: [], fromEnv: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      for (const rest of argv.slice(i + 1)) {
        out.positional.push(rest);
        out.ordered.push({ value: rest });
      }
      break;
    }
    if (a.startsWith('--') || (a.startsWith('-') && a.length === 2 && !/^-\d/.test(a))) {
      let name = a.replace(/^--?/, '');
      let value: string | undefined;
      const eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      name = SHORT[name] ?? name;
      if (value === undefined && !BOOLEAN_FLAGS.has(name)) {
        value = argv[i + 1];
        if (value === undefined && name in FLAGS) throw new UsageError(`--${name} needs a value`);
        // An unknown flag followed by another flag takes no value (check.ts names it).
        if (value !== undefined && !(name in FLAGS) && value.startsWith('--')) value = undefined;
        else if (value !== undefined) i++;
      }
      out.flags.set(name, [...(out.flags.get(name) ?? []), value ?? 'true']);
      if (name === 'ref') out.ordered.push({ ref: value! });
      if (name === 'future') out.ordered.push({ future: value! });
    } else {
      out.positional.push(a);
      out.ordered.push({ value: a });
    }
  }
  return out;
}

/**
 * The command line `parse` reads, for the flags of `names` that `p` holds: what `up` passes
 * its children explicitly (their environment has no CLOUDBURST_* flag variable).
 *
 * @example
 * forwardFlags(parse(['up', '--workers', '4', '--autoscale']), ['workers', 'autoscale']) // ['--workers', '4', '--autoscale']
 */
export function forwardFlags(p: Parsed, names: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of names) {
    for (const value of p.flags.get(name) ?? []) {
      if (BOOLEAN_FLAGS.has(name)) out.push(`--${name}`);
      else out.push(`--${name}`, value);
    }
  }
  return out;
}

/** `env` without any variable of the rule (the cluster secret and other variables stay). */
export function withoutFlagVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const drop = flagVariables();
  return Object.fromEntries(Object.entries(env).filter(([k]) => !drop.has(k)));
}
