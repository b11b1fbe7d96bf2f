import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN_FILE, HOST_PATHS, hostPath, startHost, type TenantQuotas } from '../../host/index.ts';
import { DEFAULT_URL, findToken, login, tenantCommand, tokenCommand } from './auth.ts';
import { CloudburstError } from '../../common/index.ts';
import { startKvNode } from '../../kvs/index.ts';
import { BuildError } from '../build/build.ts';
import { HostClient } from './client.ts';
import { CLUSTER_FILE, startLocalCluster } from './cluster.ts';
import { clusterDownCommand, clusterStatusCommand } from './cluster-cli.ts';
import { givenClusterSecret, serverCredential } from './cluster-secret.ts';
import { BOOTSTRAP_TOKEN_NAME, bootstrapAdminToken } from './bootstrap.ts';
import { dagCommand } from './dag.ts';
import { devCommand } from './dev.ts';
import { initProject, initSummary } from './init.ts';
import { callWithLogs, logsCommand } from './logs.ts';
import { deployExamples, startEmbedded } from './embedded.ts';
import { serverTls, tlsFiles, trustedCa } from './tls-flags.ts';
import { waitReady } from './ready.ts';
import { flagsFromEnv, forwardFlags, parse, UP_FORWARDS, type Parsed } from './flags.ts';
import { checkFlags, resolveCommand } from './check.ts';
import { commandHelp, generalUsage, groupHelp } from './help.ts';
import { EXIT, exitOf, inFlagTerms, reportError, UsageError } from './exit.ts';
import { argsSource, argsText } from './args-input.ts';
import { progress } from './progress.ts';
import { compile } from './compile.ts';
import { futureCommand } from './future.ts';
import { bannerLines } from './banner.ts';
import { addressFlags, drainTimeout, duration, flag, has, int, memoryFlags, parseJsonFlag, queueFlag, scalingFlags, secretFlags, writeBehindFlags } from './flag-values.ts';
import { AUTOSCALE_FILE } from './autoscaler.ts';
import { autoscaleFlags, startAutoscaler } from './up-autoscale.ts';
import { positionalArgument } from './call-args.ts';
import { deploySummary, type DeployAnswer } from './deploy-summary.ts';


function print(p: Parsed, human: string | number | bigint | boolean | null, machine: unknown): void {
  console.log(has(p, 'json') ? JSON.stringify(machine, null, 2) : String(human));
}

function show(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
}

/** Waits for SIGINT/SIGTERM, then runs `stop` once. */
function untilSignal(stop: () => Promise<void>): Promise<number> {
  return new Promise((resolveExit) => {
    let stopping = false;
    const onSignal = (): void => {
      if (stopping) return;
      stopping = true;
      console.error('stopping...');
      stop().then(() => resolveExit(0), (err: unknown) => {
        console.error(err);
        resolveExit(2);
      });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

async function fnCommand(p: Parsed, client: HostClient): Promise<number> {
  const [, verb, target] = p.positional;
  switch (verb) {
    case 'list': {
      const { functions } = await client.json<{ functions: { name: string; params: { name: string; type: string }[]; result: string }[] }>('GET', HOST_PATHS.functions);
      const lines = functions.map((f) => `${f.name}(${f.params.map((q) => `${q.name}: ${q.type}`).join(', ')}): ${f.result}`);
      print(p, lines.join('\n') || '(no functions: deploy one with `cloudburst fn deploy FILE.ts`)', functions);
      return 0;
    }
    case 'show': {
      if (!target) throw new UsageError('usage: cloudburst fn show MODULE.FUNCTION');
      const info = await client.json('GET', hostPath.function(target));
      print(p, JSON.stringify(info, null, 2), info);
      return 0;
    }
    case 'delete': {
      if (!target) throw new UsageError('usage: cloudburst fn delete MODULE');
      const out = await client.json('DELETE', hostPath.module(target));
      print(p, `deleted module ${target}`, out);
      return 0;
    }
    case 'deploy': {
      if (!target) throw new UsageError('usage: cloudburst fn deploy FILE.ts|FILE.wasm [--name MODULE]');
      const name = flag(p, 'name') ?? basename(target, extname(target));
      if (!existsSync(target)) throw new CloudburstError('INVALID_REQUEST', `${target}: no such file (give a .ts to build, or a .wasm built by \`cloudburst build\`)`);
      const wasm = extname(target) === '.wasm' ? readFileSync(target) : await compile(p, target);
      const uploading = progress(`deploying ${name} (${wasm.byteLength} bytes)`, { quiet: has(p, 'json') });
      const out = await client.json<DeployAnswer>('PUT', hostPath.module(name), wasm, true).finally(() => uploading.done());
      print(p, deploySummary(out), out);
      return 0;
    }
    case 'call': {
      if (!target) throw new UsageError('usage: cloudburst fn call MODULE.FUNCTION [ARG...]');
      let args: unknown[];
      const given = flag(p, 'args');
      if (given !== undefined) {
        // --args JSON, @FILE or - (stdin): for arguments too large for a command line.
        const raw = await argsText(given);
        try {
          args = JSON.parse(raw) as unknown[];
        } catch (err) {
          throw new CloudburstError('MALFORMED_JSON', `${argsSource(given)} is not JSON (${(err as Error).message}): give a JSON array, e.g. --args '[7]'`);
        }
        if (!Array.isArray(args)) throw new CloudburstError('INVALID_ARGUMENTS', `${argsSource(given)} must be a JSON array of the arguments, e.g. [7] (got ${raw.trim().slice(0, 1) === '{' ? 'an object' : 'another value'})`);
      } else {
        // Positional arguments are typed by the function's signature: text for strings, JSON otherwise.
        const info = await client.json<{ params: { type: string }[] }>('GET', hostPath.function(target));
        const positional = p.ordered.slice(3);
        args = positional.map((a, i) => {
          if ('ref' in a) return { ref: a.ref };
          if ('future' in a) return { future: a.future };
          return positionalArgument(a.value, info.params[i]?.type);
        });
      }
      const body: Record<string, unknown> = { args };
      if (flag(p, 'timeout')) body.timeoutMs = int(p, 'timeout', 0);
      // One of the table's choices (commands.ts): checked before anything was sent.
      if (flag(p, 'consistency')) body.consistency = flag(p, 'consistency');
      // The host's refusal of a field the CLI filled names the flag (exit.ts).
      const send = <T>(path: string, b: unknown): Promise<T> => client.json<T>('POST', path, b).catch((err: unknown) => {
        throw inFlagTerms(err, { timeoutMs: '--timeout', args: '--args', consistency: '--consistency' });
      });
      if (has(p, 'async')) {
        const out = await send<{ future: string }>(hostPath.call(target), { ...body, async: true });
        print(p, out.future, out);
        return 0;
      }
      // --logs: the call's lines on stderr, also when it fails (logs.ts).
      const out = has(p, 'logs')
        ? await callWithLogs(client, target, body).catch((err: unknown) => {
          throw inFlagTerms(err, { timeoutMs: '--timeout', args: '--args', consistency: '--consistency' });
        })
        : await send<{ result: unknown }>(hostPath.call(target), body);
      print(p, show(out.result), out);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: fn ${verb ?? ''} (\`cloudburst fn --help\` lists its verbs)`);
  }
}

const httpUrl = (address: string): string => (address.startsWith('http') ? address : `http://${address}`);

/** How long `up` waits for every process it started to answer /readyz 200. */
const UP_READY_TIMEOUT_MS = 60_000;

/** The file whose presence, at SIGTERM, makes a KV node leave the ring (kvs/README.md, "Leaving or restarting"). */
const LEAVE_FILE = 'leave';

async function kvCommand(p: Parsed, client: HostClient): Promise<number> {
  const [, verb, key, value] = p.positional;
  if (!key) throw new UsageError('usage: cloudburst kv get|put|delete KEY [VALUE]');
  const path = hostPath.key(key);
  switch (verb) {
    case 'get': {
      const out = await client.json<{ value?: unknown; base64?: string }>('GET', path);
      print(p, show(out.value ?? out.base64), out);
      return 0;
    }
    case 'put': {
      if (value === undefined) throw new UsageError('usage: cloudburst kv put KEY VALUE [--type lww|counter|set|max]');
      const type = flag(p, 'type') ?? 'lww';
      const body = type === 'lww' ? Buffer.from(value) : type === 'set' ? JSON.stringify(value) : value;
      const out = await client.json<{ value?: unknown }>('PUT', `${path}?type=${encodeURIComponent(type)}`, body, true).catch((err: unknown) => {
        // The key, and the way out: the type it holds, or deleting it.
        if (!(err instanceof CloudburstError) || err.code !== 'KV_TYPE_MISMATCH') throw err;
        const held = /holds an? (\w+)/.exec(err.message)?.[1];
        throw new CloudburstError('KV_TYPE_MISMATCH', `key ${JSON.stringify(key)}: ${err.message} (${held ? `write it with --type ${held}, or ` : ''}delete it first: cloudburst kv delete ${key})`);
      });
      print(p, show(out.value ?? 'ok'), out);
      return 0;
    }
    case 'delete': {
      const out = await client.json('DELETE', path);
      print(p, `deleted ${key}`, out);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: kv ${verb ?? ''} (get, put, delete)`);
  }
}

/** Runs a command line that check.ts found good (its command exists, its flags are its own). */
async function run(p: Parsed): Promise<number> {
  const [command] = p.positional;
  switch (command) {
    case 'init': {
      const result = initProject(p.positional[1], flag(p, 'name'));
      print(p, initSummary(result, p.positional[1]), result);
      return 0;
    }
    case 'dev':
      return devCommand(p);
    case 'up': {
      const dataDir = resolve(flag(p, 'data') ?? '.cloudburst');
      const kvsNodes = int(p, 'kvs-nodes', 1);
      const hosts = int(p, 'hosts', 1);
      // Read and checked here, before anything starts: a bad file is one clear error.
      const files = tlsFiles(p.flags, process.env);
      const tls = serverTls(files);
      const ca = trustedCa(files, true);
      const credential = serverCredential(secretFlags(p), 'up', false);
      const listen = flag(p, 'listen');
      const advertise = flag(p, 'advertise');
      // Host autoscaling adds and drains host processes: it runs on the process cluster, even
      // for one KV node and one host (README, "Host autoscaling").
      const scaling = autoscaleFlags((n) => flag(p, n), has(p, 'autoscale'), hosts, duration);
      // --kvs-nodes or --hosts asks for the process cluster (cluster.json, `cluster status` and
      // `down`), even for one of each; without them, one process.
      const processes = has(p, 'kvs-nodes') || has(p, 'hosts') || Boolean(scaling);
      // Seconds of starting (and, the first time, building the examples): a progress line on a terminal.
      const shown = progress(processes ? `starting ${kvsNodes} KV node(s) and ${hosts} host(s)` : 'starting the platform');
      if (processes) {
        const replication = flag(p, 'replication') === undefined ? undefined : int(p, 'replication', 1);
        const cluster = await startLocalCluster({
          dataDir, kvsNodes, hosts, hostPort: int(p, 'port', 7070), supervise: has(p, 'supervise'),
          ...(replication ? { replication } : {}), tls: files, ...credential,
          ...(listen !== undefined ? { listen } : {}), ...(advertise !== undefined ? { advertise } : {}),
          hostArgs: forwardFlags(p, UP_FORWARDS.host), kvsArgs: forwardFlags(p, UP_FORWARDS.kvs),
          ...(scaling ? { autoscale: { minHosts: scaling.minHosts, maxHosts: scaling.maxHosts, decisions: join(dataDir, AUTOSCALE_FILE) } } : {}),
          upPid: process.pid, log: (line) => shown.log(line),
        }).then((c) => {
          shown.step('deploying the examples');
          return c;
        }, (err: unknown) => {
          shown.done();
          throw err;
        });
        const first = cluster.file.processes.find((x) => x.role === 'host');
        // The examples, as the embedded default deploys them (through the first host).
        let deployed: string[] = [];
        if (first && !has(p, 'no-examples')) {
          try {
            ({ deployed } = await deployExamples(first.url, cluster.token, { dataDir, ...(ca ? { ca } : {}), log: (line) => shown.log(line) }));
          } catch (err) {
            shown.done();
            await cluster.stop();
            throw err;
          }
        }
        // "up" only once every process says it can serve.
        try {
          shown.step('waiting for every process to be ready');
          await waitReady(cluster.file.processes, { timeoutMs: UP_READY_TIMEOUT_MS, ca });
        } catch (err) {
          await cluster.stop();
          throw err;
        } finally {
          shown.done();
        }
        console.log(`cloudburst is up: ${kvsNodes} KV nodes (replication ${cluster.file.replication}), ${hosts} hosts; processes in ${join(dataDir, CLUSTER_FILE)}`);
        if (first) console.log(`host API ${first.url}`);
        if (cluster.token !== undefined) console.log(`admin token in ${join(dataDir, ADMIN_TOKEN_FILE)} (the CLI on this machine uses it)`);
        if (deployed.length > 0) console.log(`deployed: ${deployed.join(', ')}`);
        if (first) for (const line of bannerLines({ url: first.url, dataDir, cert: files.server?.cert, token: cluster.token !== undefined })) console.log(line);
        const autoscaler = scaling && startAutoscaler(cluster, scaling, { dataDir, ca, print: (line) => console.log(line) });
        if (scaling) console.log(`autoscale: ${scaling.minHosts} to ${scaling.maxHosts} hosts; decisions in ${join(dataDir, AUTOSCALE_FILE)}`);
        console.log('stop: Ctrl-C');
        return untilSignal(async () => {
          await autoscaler?.stop();
          await cluster.stop();
        });
      }
      const fsync = flag(p, 'fsync') as 'batch' | 'always' | 'off' | undefined;
      const workers = int(p, 'workers', 0);
      const up = await startEmbedded({
        dataDir, port: int(p, 'port', 7070), kvsPort: int(p, 'kvs-port', 0),
        ...(listen !== undefined ? { listen } : {}), ...(advertise !== undefined ? { advertise } : {}),
        ...(workers ? { workers } : {}), ...(fsync ? { fsync } : {}),
        ...(tls ? { tls } : {}), ...(ca ? { ca } : {}),
        memory: memoryFlags(p), scaling: scalingFlags(p), writeBehind: writeBehindFlags(p), ...credential,
        deployExamples: !has(p, 'no-examples'),
        drainTimeoutMs: drainTimeout(p),
        log: (line) => shown.log(line),
      }).catch((err: unknown) => {
        shown.done();
        throw err;
      });
      try {
        await waitReady([{ role: 'host', name: 'host', url: up.host.url }, { role: 'kvs', name: 'kv', url: up.kv.url }], { timeoutMs: UP_READY_TIMEOUT_MS, ca });
      } catch (err) {
        await up.close();
        throw err;
      } finally {
        shown.done();
      }
      console.log(`cloudburst is up: host API ${up.host.url}, KV node ${up.kv.url}, data in ${dataDir}`);
      if (up.token !== undefined) console.log(`admin token in ${join(dataDir, ADMIN_TOKEN_FILE)} (the CLI on this machine uses it)`);
      if (up.deployed.length > 0) console.log(`deployed: ${up.deployed.join(', ')}`);
      for (const line of bannerLines({ url: up.host.url, dataDir, cert: files.server?.cert, token: up.token !== undefined })) console.log(line);
      console.log('stop: Ctrl-C');
      return untilSignal(() => up.close());
    }
    case 'kvs': {
      const seeds = flag(p, 'seeds')?.split(',').filter(Boolean).map(httpUrl);
      const listen = flag(p, 'listen');
      const advertise = flag(p, 'advertise');
      const replication = flag(p, 'replication') === undefined ? undefined : int(p, 'replication', 1);
      const fsync = flag(p, 'fsync') as 'batch' | 'always' | 'off' | undefined;
      // The node pushes cache changes to hosts, which may serve TLS.
      const ca = trustedCa(tlsFiles(p.flags, process.env));
      const kvDataDir = resolve(flag(p, 'data') ?? '.cloudburst/kv');
      // A leave file found at start is a past stop's: this start is no scale-in.
      const leaveFile = join(kvDataDir, LEAVE_FILE);
      rmSync(leaveFile, { force: true });
      const kv = await startKvNode({
        dataDir: kvDataDir, port: int(p, 'port', 7100), ...(fsync ? { fsync } : {}),
        ...(listen !== undefined ? { host: listen } : {}), ...(advertise !== undefined ? { advertiseUrl: advertise } : {}),
        ...(seeds ? { seeds } : {}), ...(replication ? { replication } : {}), ...(ca ? { ca } : {}), ...serverCredential(secretFlags(p), 'kvs', true),
      });
      console.log(`KV node ${kv.nodeId} listening on ${kv.url}`);
      // SIGTERM/Ctrl-C: a restart unless told this is a scale-in (kvs/README.md, "Leaving or
      // restarting"): then a graceful leave (hand every key over), then close.
      return untilSignal(async () => {
        if (!has(p, 'leave-on-stop') && !has(p, 'leave') && !existsSync(leaveFile)) return kv.close();
        console.error(`KV node ${kv.nodeId}: leaving the ring (handing its keys over)`);
        try {
          await kv.leave();
        } catch (err) {
          console.error(`KV node ${kv.nodeId}: could not leave (${(err as Error).message}); stopping without leaving`);
          await kv.close();
          throw err;
        }
        rmSync(leaveFile, { force: true });
        console.error(`KV node ${kv.nodeId}: left the ring`);
      });
    }
    case 'host': {
      const kvs = flag(p, 'kvs');
      if (!kvs) throw new CloudburstError('INVALID_REQUEST', 'cloudburst host needs --kvs HOST:PORT of a KV node');
      const workers = int(p, 'workers', 0);
      const explore = flag(p, 'explore');
      const [first, ...rest] = kvs.split(',').filter(Boolean).map(httpUrl);
      const files = tlsFiles(p.flags, process.env);
      const tls = serverTls(files);
      const ca = trustedCa(files);
      const credential = serverCredential(secretFlags(p), 'host', true);
      // Read before anything starts: a bad value is one clear error, not a host that cannot stop.
      const timeoutMs = drainTimeout(p);
      const host = await startHost({
        dataDir: resolve(flag(p, 'data') ?? '.cloudburst/host'),
        kvsUrl: first!,
        kvsSeeds: rest,
        port: int(p, 'port', 7070),
        ...addressFlags(p),
        ...(workers ? { workers } : {}),
        ...(explore !== undefined ? { explore: Number(explore) } : {}),
        ...(tls ? { tls } : {}), ...(ca ? { ca } : {}),
        ...memoryFlags(p), ...scalingFlags(p), ...writeBehindFlags(p), ...credential,
        // Every tenant's quotas (host/README.md, "Quotas"), as a JSON object; checked by the host.
        ...(flag(p, 'quotas') === undefined ? {} : { quotas: parseJsonFlag(p, 'quotas') as Partial<TenantQuotas> }),
        ...(flag(p, 'queue') === undefined ? {} : { queue: queueFlag(p) }),
      });
      console.log(`host ${host.id} listening on ${host.url}`);
      return untilSignal(() => host.drain({ timeoutMs }));
    }
    case 'cluster':
      return p.positional[1] === 'down' ? clusterDownCommand(p) : clusterStatusCommand(p);
    case 'build': {
      const file = p.positional[1];
      if (!file) throw new UsageError('usage: cloudburst build FILE.ts [-o FILE.wasm]');
      const out = flag(p, 'out') ?? `${file.replace(/\.ts$/, '')}.wasm`;
      const wasm = await compile(p, file, out);
      print(p, `built ${out} (${wasm.byteLength} bytes)`, { out, bytes: wasm.byteLength });
      return 0;
    }
    case 'login': {
      const url = flag(p, 'url');
      const token = flag(p, 'token');
      if (!url || !token) throw new UsageError('usage: cloudburst login --url URL --token TOKEN');
      print(p, `saved the token for ${url} in ${login(url, token)}`, { url });
      return 0;
    }
    case 'tenant':
    case 'token': {
      if (command === 'token' && p.positional[1] === 'bootstrap') {
        const kvs = (flag(p, 'kvs') ?? '').split(',').filter(Boolean).map(httpUrl);
        const token = await bootstrapAdminToken(kvs, givenClusterSecret(flag(p, 'cluster-secret-file')), flag(p, 'name') ?? BOOTSTRAP_TOKEN_NAME);
        print(p, token, { token, name: flag(p, 'name') ?? BOOTSTRAP_TOKEN_NAME, tenant: 'default', scopes: ['admin'] });
        console.error('an admin token of tenant default: keep it now, it is not shown again');
        return 0;
      }
      // --tenant names the token's tenant here (a field of the request), not a tenant to act in.
      const client = clientOf(p, false);
      const out = (human: string, machine: unknown): void => print(p, human, machine);
      const [, verb, name] = p.positional;
      try {
        return command === 'tenant'
          ? await tenantCommand({ verb, name, quotas: flag(p, 'quotas') }, client, out)
          : await tokenCommand({ verb, name: verb === 'create' ? flag(p, 'name') : name, tenant: flag(p, 'tenant'), filter: flag(p, 'tenant'), scope: flag(p, 'scope'), expires: flag(p, 'expires') }, client, out);
      } finally {
        await client.close();
      }
    }
    case 'logs': {
      const client = clientOf(p, true);
      try {
        return await logsCommand(p, client);
      } finally {
        await client.close();
      }
    }
    case 'fn':
    case 'kv':
    case 'dag':
    case 'future': {
      const client = clientOf(p, true);
      // --session FILE: one client session across CLI runs (read-your-writes on any host).
      const sessionFile = flag(p, 'session');
      if (sessionFile !== undefined) client.session = existsSync(sessionFile) ? readFileSync(sessionFile, 'utf8').trim() : '';
      try {
        const commands = { fn: fnCommand, kv: kvCommand, dag: (q: Parsed, c: HostClient) => dagCommand(q, c, generalUsage()), future: futureCommand };
        return await commands[command](p, client);
      } finally {
        if (sessionFile !== undefined && client.session) writeFileSync(sessionFile, `${client.session}\n`);
        await client.close();
      }
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}: \`cloudburst --help\` lists the commands`);
  }
}

/** A client of the host API of `--url`, with the token `findToken` finds, and `--tenant` when `actAs`. */
function clientOf(p: Parsed, actAs: boolean): HostClient {
  const url = flag(p, 'url') ?? process.env.CLOUDBURST_URL ?? DEFAULT_URL;
  const token = findToken(url, { token: flag(p, 'token'), dataDir: flag(p, 'data') });
  const ca = trustedCa(tlsFiles(p.flags, process.env));
  return new HostClient(url, { token, ca, ...(actAs && flag(p, 'tenant') !== undefined ? { tenant: flag(p, 'tenant') } : {}) });
}

/**
 * `--help` anywhere, `help [COMMAND]`, or nothing at all: the help asked for (stdout, exit 0),
 * or undefined when the command line asks for something else. Nothing at all prints the
 * general usage with exit 64: a script that forgot its command should not pass.
 */
function helpAsked(p: Parsed): { text: string; exit: number } | undefined {
  const words = p.positional[0] === 'help' ? p.positional.slice(1) : p.positional;
  if (p.positional.length === 0 && !has(p, 'help')) return { text: generalUsage(), exit: EXIT.usage };
  if (p.positional[0] !== 'help' && !has(p, 'help')) return undefined;
  if (words.length === 0) return { text: generalUsage(), exit: EXIT.ok };
  const group = words.length === 1 ? groupHelp(words[0]!) : undefined;
  return { text: group ?? commandHelp(resolveCommand(words)), exit: EXIT.ok };
}

/**
 * Runs the CLI; resolves with the exit code (exit.ts: 0 done, 1 the caller's mistake, 2 the
 * system's fault, 3 not there yet, 64 a usage error). The command line is checked against the
 * table (commands.ts) before anything starts.
 */
export async function main(argv: string[]): Promise<number> {
  // Errors are JSON too when the output is: decided before parsing, which may be what fails.
  let json = argv.includes('--json');
  try {
    const p = parse(argv);
    const help = helpAsked(p);
    if (help) {
      console.log(help.text);
      return help.exit;
    }
    const command = resolveCommand(p.positional);
    // The one rule for the environment (flags.ts): CLOUDBURST_FOO_BAR for --foo-bar; a variable
    // of the group meant for another of its commands (CLOUDBURST_KVS for `cluster down`) is not this one's.
    flagsFromEnv(p.positional[0] ?? '', process.env, p);
    for (const [name] of p.fromEnv) {
      if (!(command.flags as readonly string[]).includes(name)) {
        p.flags.delete(name);
        p.fromEnv.delete(name);
      }
    }
    json = has(p, 'json');
    checkFlags(command, p);
    return await run(p);
  } catch (err) {
    if (err instanceof BuildError) return reportError({ code: 'BUILD_FAILED', message: err.message }, EXIT.caller, json);
    if (err instanceof CloudburstError) return reportError(err, exitOf(err), json);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      // The flag of the port at fault: `--kvs-port` when the embedded KV node's (embedded.ts).
      const message = `${(err as Error).message}: another process uses this port; pick another with ${(err as { flag?: string }).flag ?? '--port'}`;
      return reportError({ code: 'INVALID_REQUEST', message }, EXIT.caller, json);
    }
    if (json) return reportError({ code: 'INTERNAL', message: (err as Error).stack ?? String(err) }, EXIT.system, true);
    console.error(err);
    return EXIT.system;
  }
}

// `node dist/cli.js ARGS` (the container image's entrypoint, deploy/Dockerfile) runs the CLI;
// imported (tools/bin/cloudburst.js, tests), this module only exports `main`.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
