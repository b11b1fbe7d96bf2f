/**
 * The CLI's one table of commands and flags: what each command is called, what it takes, and
 * every flag it accepts with its type, choices and default. The parser (flags.ts), the strict
 * check (check.ts: an unknown or misspelled flag, a value outside its choices, a number that is
 * not one: refused before anything starts, with a suggestion), `--help` of every command
 * (help.ts) and the general usage all read it, so a flag documented here is a flag accepted,
 * and no other is.
 *
 * Adding a command: one entry in COMMANDS (its words, usage, summary, flags), its flags in
 * FLAGS if they are new, a `case` in main.ts's `run()` (tools/README.md, "Adding a command").
 *
 * Why a table of our own rather than `util.parseArgs` (strict) or a parser package: parseArgs
 * knows option names and types but not choices, defaults shown in help, per-command flag sets
 * under noun-verb commands, the `CLOUDBURST_<FLAG>` rule or suggestions; all of those would be
 * this table anyway, and the tokenizer it would replace is thirty lines (flags.ts). A parser
 * package would be a new dependency for the same table.
 */

/** How a flag's value is read and checked (check.ts). */
export type FlagType = 'string' | 'boolean' | 'int' | 'duration' | 'json';

export interface FlagSpec {
  /** Default `string`. `boolean` flags take no value. */
  type?: FlagType;
  /** The only values allowed (`--fsync batch|always|off`). */
  choices?: readonly string[];
  /** The default, as help shows it (a command may override it: CommandSpec.defaults). */
  default?: string;
  /** The placeholder of its value in help (`DIR`, `N`). */
  value?: string;
  /** May be given several times (each value kept, in order). */
  repeat?: boolean;
  /** One line for `--help`. */
  help: string;
}

const duration = (help: string, dflt?: string): FlagSpec => ({ type: 'duration', value: 'DURATION', help, ...(dflt ? { default: dflt } : {}) });
const int = (help: string, dflt?: string, value = 'N'): FlagSpec => ({ type: 'int', value, help, ...(dflt ? { default: dflt } : {}) });

/** Every flag of the CLI, by name (without `--`). */
export const FLAGS = {
  // Every command
  help: { type: 'boolean', help: 'show this help and exit' },
  json: { type: 'boolean', help: 'machine output: JSON on stdout, errors as {"error": {"code", "message"}} on stderr' },
  // Servers
  data: { value: 'DIR', help: 'the data folder', default: '.cloudburst' },
  port: int('the port to listen on (0: a free one)', '7070', 'PORT'),
  'kvs-port': int('the embedded KV node\'s port (0: a free one)', '0', 'PORT'),
  'kvs-nodes': int('KV node processes (more than 1: one process per node, cluster.json)', '1'),
  hosts: int('function host processes', '1'),
  replication: int('copies of every key', 'min(3, KV nodes in the ring)'),
  supervise: { type: 'boolean', help: 'restart a process of the cluster that dies' },
  'no-examples': { type: 'boolean', help: 'deploy none of guest/examples/' },
  fsync: { choices: ['batch', 'always', 'off'], default: 'batch', help: 'when the KV tier fsyncs (README, "Durability")' },
  listen: { value: 'ADDR', default: '127.0.0.1', help: 'the address to listen on (0.0.0.0 or :: need --advertise)' },
  advertise: { value: 'URL', help: 'the URL the others reach this process at (default http(s)://LISTEN:PORT)' },
  workers: int('executor workers to start with', 'cores, at least 2'),
  'max-workers': int('executor workers at most', '4 x cores'),
  'scale-up-wait': duration('how long a call waits for a worker before another starts', '20ms'),
  'idle-timeout': duration('an idle worker above --workers stops after', '30s'),
  'flush-max-delay': duration('how late, under sustained writes, a write reaches the KV tier', '20ms'),
  'drain-timeout': duration('on SIGTERM, how long calls in flight may finish', '30s'),
  autoscale: { type: 'boolean', help: 'add and drain host processes with the load (needs --max-hosts)' },
  'max-hosts': int('autoscale: hosts at most'),
  'min-hosts': int('autoscale: hosts at least', '--hosts'),
  'scale-out-window': duration('autoscale: busy for this long adds a host', '1s'),
  'scale-in-window': duration('autoscale: idle for this long drains a host', '5s'),
  'scale-out-cooldown': duration('autoscale: nothing else for this long after adding', '3s'),
  'scale-in-cooldown': duration('autoscale: no drain for this long after an action', '10s'),
  'guest-memory-mib': int('linear memory of one call, MiB (GUEST_OUT_OF_MEMORY beyond)', '256'),
  'worker-memory-mib': int('heap of one executor worker, MiB', '512'),
  'cache-mib': int('the host cache\'s size on disk, MiB', '1024'),
  'cache-keys': int('keys the host cache keeps', '500000'),
  'value-memo-mib': int('each executor worker\'s memo of values read, MiB (0: off)', '32'),
  'tls-cert': { value: 'FILE', help: 'serve the host API over https with this certificate (PEM)' },
  'tls-key': { value: 'FILE', help: 'the certificate\'s private key (PEM)' },
  ca: { value: 'FILE', repeat: true, help: 'trust this CA too (PEM; repeatable)' },
  'cluster-secret-file': { value: 'PATH', help: 'the cluster secret (default $CLOUDBURST_CLUSTER_SECRET; up keeps one in <data>/cluster-secret)' },
  insecure: { type: 'boolean', help: 'no authentication at all: never on a network' },
  seeds: { value: 'HOST:PORT,...', help: 'KV nodes to join (DNS names: every address)' },
  leave: { type: 'boolean', help: 'on SIGTERM, hand the keys over and leave the ring' },
  'leave-on-stop': { type: 'boolean', help: 'on SIGTERM, hand the keys over and leave the ring' },
  kvs: { value: 'HOST:PORT,...', help: 'KV nodes (DNS names: every address)' },
  explore: { value: 'P', default: '0.1', help: 'the share of calls placed at random' },
  quotas: { type: 'json', value: 'JSON', help: 'quotas as a JSON object (host/README.md, "Quotas")' },
  queue: { choices: ['share', 'fair', 'fifo'], default: 'share', help: 'how queued calls of tenants take turns' },
  force: { type: 'boolean', help: 'SIGKILL what is still running after --wait' },
  // Client commands
  url: { value: 'URL', default: '$CLOUDBURST_URL or http://127.0.0.1:7070', help: 'the host API' },
  token: { value: 'TOKEN', default: '$CLOUDBURST_TOKEN, the config file, <data>/admin-token', help: 'the bearer token' },
  tenant: { value: 'T', help: 'act in tenant T (an admin token)' },
  session: { value: 'FILE', help: 'keep a client session in FILE (read-your-writes on any host)' },
  out: { value: 'FILE.wasm', default: 'FILE.wasm next to FILE.ts', help: 'where the module goes (also -o)' },
  name: { value: 'NAME', help: 'the name' },
  args: { value: 'JSON|@FILE|-', help: 'the arguments as JSON, or @FILE to read them from a file, or - from stdin' },
  ref: { value: 'KEY', repeat: true, help: 'an argument passed by reference to a key (in order with the others)' },
  future: { value: 'ID', repeat: true, help: 'an argument that is a future\'s result (waits for it)' },
  timeout: int('the call\'s deadline, ms', 'the host\'s', 'MS'),
  consistency: { choices: ['lww', 'rr', 'causal'], default: 'lww', help: 'the consistency of the request (README)' },
  logs: { type: 'boolean', help: 'print the call\'s log lines (stderr)' },
  follow: { type: 'boolean', help: 'keep printing new lines as they come (Ctrl-C stops)' },
  since: { value: 'CURSOR', help: 'only the lines after this cursor (printed with --json as "next")' },
  limit: { type: 'int', value: 'N', default: '100', help: 'lines at most per answer' },
  async: { type: 'boolean', help: 'answer a future id at once' },
  wait: duration('how long to wait for the result', '0'),
  fn: { value: 'FN', repeat: true, help: 'a function of the DAG' },
  edge: { value: 'FROM:TO', repeat: true, help: 'an edge of the DAG' },
  placement: { type: 'json', value: 'JSON', help: 'where steps run: {"FN": "HOSTID"}' },
  type: { choices: ['lww', 'counter', 'set', 'max'], default: 'lww', help: 'the lattice type of the value' },
  scope: { value: 'SCOPES', help: 'deploy,invoke,state,read,admin' },
  expires: { value: 'DURATION', help: 'expiry (90s, 15m, 12h, 30d)' },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof FLAGS;

/** The help sections of the general usage, in order. */
export const SECTIONS = ['Platform', 'Functions', 'DAGs', 'State', 'Access'] as const;

export interface CommandSpec {
  /** The command's words (`fn call`). */
  words: string;
  section: (typeof SECTIONS)[number];
  /** What follows the words, e.g. `FN [ARG...]`. */
  args?: string;
  summary: string;
  /** Flags besides `help` (and `json` where listed). */
  flags: readonly FlagName[];
  /** Defaults that differ from FLAGS' for this command. */
  defaults?: Partial<Record<FlagName, string>>;
  /** More lines for `--help`. */
  notes?: readonly string[];
}

const ADDRESS = ['listen', 'advertise'] as const;
const WORKERS = ['workers', 'max-workers', 'scale-up-wait', 'idle-timeout', 'flush-max-delay'] as const;
const MEMORY = ['guest-memory-mib', 'worker-memory-mib', 'cache-mib', 'cache-keys', 'value-memo-mib'] as const;
const TLS = ['tls-cert', 'tls-key', 'ca'] as const;
const SECRET = ['cluster-secret-file', 'insecure'] as const;
const AUTOSCALE = ['autoscale', 'max-hosts', 'min-hosts', 'scale-out-window', 'scale-in-window', 'scale-out-cooldown', 'scale-in-cooldown'] as const;
/** What every client of the host API takes (`data`: where `<data>/admin-token` is looked for). */
const CLIENT = ['url', 'token', 'tenant', 'ca', 'json', 'session', 'data'] as const;

/** Every command. Order: the general usage's. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    words: 'up', section: 'Platform', summary: 'the platform on this machine: one process (KV node + host), or one process per node with --kvs-nodes/--hosts; deploys the examples',
    flags: ['data', 'port', 'kvs-port', 'kvs-nodes', 'hosts', 'replication', 'supervise', 'no-examples', 'fsync', ...ADDRESS, ...WORKERS, 'drain-timeout', ...AUTOSCALE, ...MEMORY, ...TLS, ...SECRET],
    notes: [
      'With --kvs-nodes or --hosts (even 1 and 1): one process per node, listed in <data>/cluster.json; without: one process.',
      'Ctrl-C stops it cleanly; `cloudburst cluster down` stops a cluster from another terminal.',
      'Its cluster secret is <data>/cluster-secret (created 0600); its admin token <data>/admin-token.',
    ],
  },
  {
    words: 'cluster status', section: 'Platform', summary: 'every process of the cluster in <data>/cluster.json (or the KV nodes of --kvs): health, readiness, ring',
    flags: ['data', 'kvs', 'ca', 'cluster-secret-file', 'json'],
    notes: ['Exit 0: every process up; 2: some are down (or cluster.json is stale: its processes are gone); 3: the cluster was stopped.'],
  },
  {
    words: 'cluster down', section: 'Platform', summary: 'stops the cluster <data>/cluster.json lists (SIGTERM: hosts drain first, then KV nodes), waits, reports',
    flags: ['data', 'wait', 'force', 'json'], defaults: { wait: '60s' },
    notes: ['Only processes that are still this cluster\'s are signalled (a reused pid is left alone).'],
  },
  {
    words: 'kvs', section: 'Platform', summary: 'one KV node',
    flags: ['data', 'port', 'seeds', 'replication', 'fsync', 'leave', 'leave-on-stop', ...ADDRESS, 'ca', ...SECRET], defaults: { data: '.cloudburst/kv', port: '7100' },
    notes: [
      'On SIGTERM: hands its keys over and leaves the ring with --leave-on-stop or when <data>/leave exists; else just stops (a restart).',
      'The cluster secret: --cluster-secret-file PATH or $CLOUDBURST_CLUSTER_SECRET (or --insecure).',
    ],
  },
  {
    words: 'host', section: 'Platform', args: '--kvs HOST:PORT[,...]', summary: 'one function host',
    flags: ['data', 'port', 'kvs', ...ADDRESS, ...WORKERS, 'explore', 'quotas', 'queue', 'drain-timeout', ...MEMORY, ...TLS, ...SECRET], defaults: { data: '.cloudburst/host' },
    notes: [
      'On SIGTERM: drains (host/README.md, "Readiness and draining"); GET /readyz is 200 once it can serve.',
      '--kvs takes DNS names: every address a name resolves to, looked up again every 10 s.',
      'The cluster secret: --cluster-secret-file PATH or $CLOUDBURST_CLUSTER_SECRET (or --insecure).',
    ],
  },
  {
    words: 'init', section: 'Functions', args: '[DIR]', summary: 'a function project: src/index.ts, asconfig.json, package.json, a test, README (DIR new or empty)',
    flags: ['name', 'json'], defaults: { name: 'the folder\'s name' },
  },
  {
    words: 'dev', section: 'Functions', args: '[FILE.ts...]', summary: 'the platform (or the one at --url): builds and deploys, rebuilds and redeploys on every save, streams the logs',
    flags: ['name', 'port', 'kvs-port', 'data', 'url', 'token', 'json'], defaults: { name: 'package.json\'s name, else the file\'s', url: 'none: starts its own platform' },
    notes: ['The entries: the FILE.ts given, else asconfig.json\'s "entries" (src/index.ts in a project `init` made).', 'Ctrl-C stops it; the platform\'s data stays in --data.'],
  },
  { words: 'build', section: 'Functions', args: 'FILE.ts', summary: 'compiles AssemblyScript with the SDK on its path (asc)', flags: ['out', 'json'] },
  { words: 'fn deploy', section: 'Functions', args: 'FILE.ts|FILE.wasm', summary: 'builds (if .ts) and uploads a module, then lists its functions', flags: ['name', ...CLIENT], defaults: { name: 'the file\'s name' } },
  { words: 'fn list', section: 'Functions', summary: 'the deployed functions with their types', flags: CLIENT },
  { words: 'fn show', section: 'Functions', args: 'FN', summary: 'one function', flags: CLIENT },
  { words: 'fn delete', section: 'Functions', args: 'MODULE', summary: 'deletes a module and its functions', flags: CLIENT },
  {
    words: 'fn call', section: 'Functions', args: 'FN [ARG...]', summary: 'calls a function; strings as typed, other arguments as JSON',
    flags: ['args', 'ref', 'future', 'timeout', 'consistency', 'logs', 'async', ...CLIENT],
    notes: ['--args @big.json (a file) or --args - (stdin) for arguments too large for a command line.'],
  },
  {
    words: 'logs', section: 'Functions', args: 'FN', summary: 'a function\'s recent log lines over every host, failed calls included',
    flags: ['follow', 'since', 'limit', ...CLIENT.filter((f) => f !== 'session')],
    notes: ['--follow keeps printing new lines until Ctrl-C, reconnecting from the last line it printed.'],
  },
  { words: 'future get', section: 'Functions', args: 'ID', summary: 'a future\'s result (exit 3 while pending)', flags: ['wait', ...CLIENT] },
  { words: 'dag create', section: 'DAGs', args: 'NAME', summary: 'registers a DAG of functions', flags: ['fn', 'edge', ...CLIENT] },
  { words: 'dag call', section: 'DAGs', args: 'NAME', summary: 'calls a DAG', flags: ['args', 'placement', 'timeout', 'consistency', 'async', ...CLIENT], notes: ['--args is {"FN": [ARG...]}, or @FILE, or - (stdin).'] },
  { words: 'dag list', section: 'DAGs', summary: 'the DAGs', flags: CLIENT },
  { words: 'dag show', section: 'DAGs', args: 'NAME', summary: 'one DAG', flags: CLIENT },
  { words: 'dag delete', section: 'DAGs', args: 'NAME', summary: 'deletes a DAG', flags: CLIENT },
  { words: 'kv get', section: 'State', args: 'KEY', summary: 'a key\'s value', flags: CLIENT },
  { words: 'kv put', section: 'State', args: 'KEY VALUE', summary: 'writes a value (merged into the key\'s lattice)', flags: ['type', ...CLIENT] },
  { words: 'kv delete', section: 'State', args: 'KEY', summary: 'deletes a key', flags: CLIENT },
  { words: 'tenant create', section: 'Access', args: 'NAME', summary: 'a tenant (admin token)', flags: ['quotas', ...CLIENT] },
  { words: 'tenant list', section: 'Access', summary: 'the tenants', flags: CLIENT },
  { words: 'tenant show', section: 'Access', args: 'NAME', summary: 'one tenant', flags: CLIENT },
  { words: 'tenant delete', section: 'Access', args: 'NAME', summary: 'deletes a tenant and revokes its tokens', flags: CLIENT },
  { words: 'token create', section: 'Access', summary: 'a token, printed once', flags: ['tenant', 'scope', 'name', 'expires', 'url', 'token', 'ca', 'json', 'data'] },
  { words: 'token list', section: 'Access', summary: 'the tokens, without their secrets', flags: CLIENT },
  { words: 'token revoke', section: 'Access', args: 'NAME', summary: 'revokes a token on every host within a second', flags: CLIENT },
  { words: 'token bootstrap', section: 'Access', summary: 'the first admin token of a cluster no `up` made, straight into the KV tier (printed once)', flags: ['kvs', 'name', 'cluster-secret-file', 'json'], defaults: { name: 'admin' } },
  { words: 'login', section: 'Access', summary: 'keeps a token for a URL in ~/.config/cloudburst/config.json', flags: ['url', 'token', 'json'] },
];
