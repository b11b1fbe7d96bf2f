import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN_FILE, HOST_PATHS, hostPath, startHost, type TenantQuotas } from '../../host/index.ts';
import { DEFAULT_URL, findToken, login, tenantCommand, tokenCommand } from './auth.ts';
import { CloudburstError, ERROR_CODES } from '../../common/index.ts';
import { Seeds, startKvNode } from '../../kvs/index.ts';
import { BuildError, buildGuest } from '../build/build.ts';
import { HostClient } from './client.ts';
import { CLUSTER_FILE, clusterStatus, readClusterFile, startLocalCluster } from './cluster.ts';
import { existingDataDirSecret, givenClusterSecret, serverCredential } from './cluster-secret.ts';
import { BOOTSTRAP_TOKEN_NAME, bootstrapAdminToken } from './bootstrap.ts';
import { dagCommand } from './dag.ts';
import { callWithLogs, LOGS_USAGE, logsCommand } from './logs.ts';
import { deployExamples, startEmbedded } from './embedded.ts';
import { serverTls, tlsFiles, trustedCa } from './tls-flags.ts';
import { waitReady } from './ready.ts';
import { flagsFromEnv, forwardFlags, parse, UP_FORWARDS, type Parsed } from './flags.ts';
import { addressFlags, drainTimeout, duration, flag, has, int, memoryFlags, parseJsonFlag, queueFlag, scalingFlags, secretFlags, writeBehindFlags } from './flag-values.ts';
import { AUTOSCALE_FILE, autoscaleSummary } from './autoscaler.ts';
import { autoscaleFlags, startAutoscaler } from './up-autoscale.ts';

const USAGE = `cloudburst: stateful functions on WebAssembly

Platform:
  cloudburst up [--data DIR] [--port 7070] [--kvs-port 0] [--fsync batch|always|off] [--no-examples] [--drain-timeout 30s] [WORKERS] [ADDR] [TLS] [MEMORY] [SECRET]
  cloudburst up --kvs-nodes N [--hosts M] [--replication R] [--supervise] [--no-examples] [--drain-timeout 30s] [WORKERS] [--listen ADDR] [TLS] [SECRET]    (one process per node)
  cloudburst up ... --autoscale --max-hosts N [--min-hosts M] [WORKERS]   (adds and drains host processes with the load; README, "Host autoscaling")
  cloudburst cluster status [--data DIR | --kvs HOST:PORT,...] [--ca FILE] [--cluster-secret-file PATH]
  cloudburst kvs [--port 7100] [--data DIR] [--seeds HOST:PORT,...] [--replication N] [--fsync batch|always|off] [--leave-on-stop] [--ca FILE] [ADDR] SECRET
    (on SIGTERM: hands its keys over and leaves the ring with --leave-on-stop or when <data>/leave exists; else just stops)
  cloudburst host [--port 7070] [--data DIR] --kvs HOST:PORT[,...] [--explore 0.1] [--quotas JSON] [--queue share|fair|fifo] [--drain-timeout 30s] [WORKERS] [ADDR] [TLS] [MEMORY] SECRET
    (on SIGTERM: drains, host/README.md "Readiness and draining"; GET /readyz is 200 once it can serve)
    (--seeds and --kvs take DNS names too: every address a name resolves to, looked up again every 10 s)
  ADDR: [--listen 127.0.0.1] (the address to listen on) [--advertise URL] (the URL others reach it at; needed with --listen 0.0.0.0 or ::)
  SECRET: --cluster-secret-file PATH, or $CLOUDBURST_CLUSTER_SECRET; or --insecure (no authentication)
    (cloudburst up keeps one in <data>/cluster-secret; its processes get it by environment)
  WORKERS: [--workers N (cores, at least 2)] [--max-workers N (4 x cores)] [--scale-up-wait 20ms] [--idle-timeout 30s]   (host/README.md, "Executor scaling")
           [--flush-max-delay 20ms] (how late, under sustained writes, a write reaches the KV tier; host/README.md, "Write-behind")
  MEMORY: [--guest-memory-mib 256] [--worker-memory-mib 512] [--cache-mib 1024] [--cache-keys 500000]   (host/README.md, "Memory")
  TLS: [--tls-cert FILE --tls-key FILE] (serve the host API over https; default $CLOUDBURST_TLS_CERT, $CLOUDBURST_TLS_KEY)
       [--ca FILE]... (trust this CA too, for other hosts; \`up\` also trusts its own certificate)   (README, "TLS")
Functions:
  cloudburst build FILE.ts [-o FILE.wasm]
  cloudburst fn deploy FILE.ts|FILE.wasm [--name MODULE]
  cloudburst fn list | show FN | delete MODULE
  cloudburst fn call FN [ARG...] [--ref KEY]... [--future ID]... [--args JSON] [--timeout MS] [--consistency lww|rr|causal] [--logs] [--async]
  cloudburst future get ID [--wait 5s]
  ${LOGS_USAGE}   (every host's lines, oldest first; --follow until Ctrl-C; the cursor to continue from goes to stderr as next: ...)
DAGs:
  cloudburst dag create NAME --fn FN --fn FN ... [--edge FROM:TO]...
  cloudburst dag call NAME [--args '{"FN": [ARG...]}'] [--placement '{"FN": "HOSTID"}'] [--timeout MS] [--consistency lww|rr|causal] [--async]
  cloudburst dag list | show NAME | delete NAME
State:
  cloudburst kv get KEY | put KEY VALUE [--type lww|counter|set|max] | delete KEY
Access (admin token):
  cloudburst tenant create NAME [--quotas JSON] | list | show NAME | delete NAME
  cloudburst token create --tenant T --scope deploy,invoke,state,read,admin --name N [--expires 30d]   (prints the token once)
  cloudburst token list [--tenant T] | revoke NAME
  cloudburst token bootstrap --kvs HOST:PORT[,...] [--name admin] SECRET   (the first admin token, straight into the KV tier; printed once)
  cloudburst login --url URL --token TOKEN    (keeps it in ~/.config/cloudburst/config.json)

Options: --url URL (host API; default $CLOUDBURST_URL or http://127.0.0.1:7070), --json (machine output),
  --token TOKEN (default $CLOUDBURST_TOKEN, then the config file, then .cloudburst/admin-token for a host on this machine),
  --tenant T (an admin acts in tenant T),
  --session FILE (keep a client session in FILE: later calls read what earlier ones wrote, on any host),
  --ca FILE (trust this CA besides the system's, for a host whose certificate is private or self-signed; default $CLOUDBURST_CA)

Environment: every flag of up, kvs, host, cluster status and the client commands may come from CLOUDBURST_<FLAG>
  (--drain-timeout: CLOUDBURST_DRAIN_TIMEOUT; a boolean: 1, true, 0 or false; empty: unset); the command line wins.
  CLOUDBURST_CLUSTER_SECRET is the cluster secret itself.   (README, "Configuration")`;

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

async function compile(file: string, out?: string): Promise<Uint8Array> {
  const { wasm, stderr } = await buildGuest({ entry: resolve(file), ...(out ? { outFile: resolve(out) } : {}) });
  if (stderr.trim()) console.error(stderr.trimEnd());
  return wasm;
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
      if (!target) throw new CloudburstError('INVALID_REQUEST', 'usage: cloudburst fn show MODULE.FUNCTION');
      const info = await client.json('GET', hostPath.function(target));
      print(p, JSON.stringify(info, null, 2), info);
      return 0;
    }
    case 'delete': {
      if (!target) throw new CloudburstError('INVALID_REQUEST', 'usage: cloudburst fn delete MODULE');
      const out = await client.json('DELETE', hostPath.module(target));
      print(p, `deleted module ${target}`, out);
      return 0;
    }
    case 'deploy': {
      if (!target) throw new CloudburstError('INVALID_REQUEST', 'usage: cloudburst fn deploy FILE.ts|FILE.wasm [--name MODULE]');
      const name = flag(p, 'name') ?? basename(target, extname(target));
      const wasm = extname(target) === '.wasm' ? readFileSync(target) : await compile(target);
      const out = await client.json<{ functions: { name: string; params: { name: string; type: string }[]; result: string }[] }>('PUT', hostPath.module(name), wasm, true);
      print(p, out.functions.map((f) => `${f.name}(${f.params.map((q) => `${q.name}: ${q.type}`).join(', ')}): ${f.result}`).join('\n'), out);
      return 0;
    }
    case 'call': {
      if (!target) throw new CloudburstError('INVALID_REQUEST', 'usage: cloudburst fn call MODULE.FUNCTION [ARG...]');
      let args: unknown[];
      const raw = flag(p, 'args');
      if (raw !== undefined) {
        try {
          args = JSON.parse(raw) as unknown[];
        } catch {
          throw new CloudburstError('MALFORMED_JSON', '--args must be a JSON array');
        }
      } else {
        // Positional arguments are typed by the function's signature: text for strings, JSON otherwise.
        const info = await client.json<{ params: { type: string }[] }>('GET', hostPath.function(target));
        const given = p.ordered.slice(3);
        args = given.map((a, i) => {
          if ('ref' in a) return { ref: a.ref };
          if ('future' in a) return { future: a.future };
          if (info.params[i]?.type === 'string') return a.value;
          try {
            return JSON.parse(a.value) as unknown;
          } catch {
            return a.value;
          }
        });
      }
      const body: Record<string, unknown> = { args };
      if (flag(p, 'timeout')) body.timeoutMs = int(p, 'timeout', 0);
      // The host checks the value (lww or rr): a wrong one is its 400.
      if (flag(p, 'consistency')) body.consistency = flag(p, 'consistency');
      if (has(p, 'async')) {
        const out = await client.json<{ future: string }>('POST', hostPath.call(target), { ...body, async: true });
        print(p, out.future, out);
        return 0;
      }
      // --logs: the call's lines on stderr, also when it fails (logs.ts).
      const out = has(p, 'logs') ? await callWithLogs(client, target, body) : await client.json<{ result: unknown }>('POST', hostPath.call(target), body);
      print(p, show(out.result), out);
      return 0;
    }
    default:
      throw new CloudburstError('INVALID_REQUEST', `unknown command: fn ${verb ?? ''}\n\n${USAGE}`);
  }
}

const httpUrl = (address: string): string => (address.startsWith('http') ? address : `http://${address}`);

/** How long `up` waits for every process it started to answer /readyz 200. */
const UP_READY_TIMEOUT_MS = 60_000;

/** The file whose presence, at SIGTERM, makes a KV node leave the ring (kvs/README.md, "Leaving or restarting"). */
const LEAVE_FILE = 'leave';

async function futureCommand(p: Parsed, client: HostClient): Promise<number> {
  const [, verb, id] = p.positional;
  if (verb !== 'get' || !id) throw new CloudburstError('INVALID_REQUEST', 'usage: cloudburst future get ID [--wait 5s]');
  const wait = duration(flag(p, 'wait') ?? '0');
  const record = await client.json<{ status: string; result?: unknown; error?: { code: string; message: string } }>('GET', `${hostPath.future(id)}?wait=${wait}`);
  if (record.status === 'failed') {
    if (has(p, 'json')) console.log(JSON.stringify(record, null, 2));
    else console.error(`error ${record.error?.code}: ${record.error?.message} (the call behind future ${id} failed)`);
    return 1;
  }
  if (record.status === 'pending') {
    print(p, `pending: the call has not finished (wait longer with --wait)`, record);
    return 3;
  }
  print(p, show(record.result), record);
  return 0;
}

async function kvCommand(p: Parsed, client: HostClient): Promise<number> {
  const [, verb, key, value] = p.positional;
  if (!key) throw new CloudburstError('INVALID_REQUEST', 'usage: cloudburst kv get|put|delete KEY [VALUE]');
  const path = hostPath.key(key);
  switch (verb) {
    case 'get': {
      const out = await client.json<{ value?: unknown; base64?: string }>('GET', path);
      print(p, show(out.value ?? out.base64), out);
      return 0;
    }
    case 'put': {
      if (value === undefined) throw new CloudburstError('INVALID_REQUEST', 'usage: cloudburst kv put KEY VALUE [--type lww|counter|set|max]');
      const type = flag(p, 'type') ?? 'lww';
      const body = type === 'lww' ? Buffer.from(value) : type === 'set' ? JSON.stringify(value) : value;
      const out = await client.json<{ value?: unknown }>('PUT', `${path}?type=${encodeURIComponent(type)}`, body, true);
      print(p, show(out.value ?? 'ok'), out);
      return 0;
    }
    case 'delete': {
      const out = await client.json('DELETE', path);
      print(p, `deleted ${key}`, out);
      return 0;
    }
    default:
      throw new CloudburstError('INVALID_REQUEST', `unknown command: kv ${verb ?? ''}`);
  }
}

async function run(p: Parsed): Promise<number> {
  const [command] = p.positional;
  if (command === undefined || command === 'help' || has(p, 'help')) {
    console.log(USAGE);
    return command === undefined && !has(p, 'help') ? 1 : 0;
  }
  switch (command) {
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
      if (kvsNodes > 1 || hosts > 1 || scaling) {
        const replication = flag(p, 'replication') === undefined ? undefined : int(p, 'replication', 1);
        const cluster = await startLocalCluster({
          dataDir, kvsNodes, hosts, hostPort: int(p, 'port', 7070), supervise: has(p, 'supervise'),
          ...(replication ? { replication } : {}), tls: files, ...credential,
          ...(listen !== undefined ? { listen } : {}), ...(advertise !== undefined ? { advertise } : {}),
          hostArgs: forwardFlags(p, UP_FORWARDS.host), kvsArgs: forwardFlags(p, UP_FORWARDS.kvs),
          ...(scaling ? { autoscale: { minHosts: scaling.minHosts, maxHosts: scaling.maxHosts, decisions: join(dataDir, AUTOSCALE_FILE) } } : {}),
          log: (line) => console.error(line),
        });
        const first = cluster.file.processes.find((x) => x.role === 'host');
        // The examples, as the embedded default deploys them (through the first host).
        let deployed: string[] = [];
        if (first && !has(p, 'no-examples')) {
          try {
            ({ deployed } = await deployExamples(first.url, cluster.token, { dataDir, ...(ca ? { ca } : {}), log: (line) => console.error(line) }));
          } catch (err) {
            await cluster.stop();
            throw err;
          }
        }
        // "up" only once every process says it can serve.
        try {
          await waitReady(cluster.file.processes, { timeoutMs: UP_READY_TIMEOUT_MS, ca });
        } catch (err) {
          await cluster.stop();
          throw err;
        }
        console.log(`cloudburst is up: ${kvsNodes} KV nodes (replication ${cluster.file.replication}), ${hosts} hosts; processes in ${join(dataDir, CLUSTER_FILE)}`);
        if (first) console.log(`host API ${first.url}`);
        if (cluster.token !== undefined) console.log(`admin token in ${join(dataDir, ADMIN_TOKEN_FILE)} (the CLI on this machine uses it)`);
        if (deployed.length > 0) console.log(`deployed: ${deployed.join(', ')}`);
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
        log: (line) => console.error(line),
      });
      try {
        await waitReady([{ role: 'host', name: 'host', url: up.host.url }, { role: 'kvs', name: 'kv', url: up.kv.url }], { timeoutMs: UP_READY_TIMEOUT_MS, ca });
      } catch (err) {
        await up.close();
        throw err;
      }
      console.log(`cloudburst is up: host API ${up.host.url}, KV node ${up.kv.url}, data in ${dataDir}`);
      if (up.token !== undefined) console.log(`admin token in ${join(dataDir, ADMIN_TOKEN_FILE)} (the CLI on this machine uses it)`);
      if (up.deployed.length > 0) console.log(`deployed: ${up.deployed.join(', ')}`);
      console.log(tls ? `try:  npx cloudburst fn call math.square 7 --url ${up.host.url} --ca ${files.server!.cert}` : 'try:  npx cloudburst fn call math.square 7');
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
    case 'cluster': {
      if (p.positional[1] !== 'status') throw new CloudburstError('INVALID_REQUEST', 'usage: cloudburst cluster status [--data DIR] [--kvs HOST:PORT,...]');
      const kvs = flag(p, 'kvs');
      const dataDir = resolve(flag(p, 'data') ?? '.cloudburst');
      // A name resolving to several addresses (a headless Service) stands for all its nodes.
      const clusterFile = kvs ? undefined : readClusterFile(dataDir);
      const targets = kvs
        ? (await new Seeds(kvs.split(',').filter(Boolean).map(httpUrl)).urls()).map((url, i) => ({ role: 'kvs', name: `kv${i + 1}`, url }))
        : clusterFile?.processes;
      if (!targets) throw new CloudburstError('INVALID_REQUEST', `no ${CLUSTER_FILE} in the data folder: start a cluster with \`cloudburst up --kvs-nodes 3\`, or name nodes with --kvs`);
      // The KV nodes' stats are for the cluster: the given secret, else the one `up` keeps.
      const secret = givenClusterSecret(flag(p, 'cluster-secret-file')) ?? existingDataDirSecret(dataDir);
      const status = await clusterStatus(targets, { secret, ca: trustedCa(tlsFiles(p.flags, process.env)) });
      const scalar = ([, v]: [string, unknown]): boolean => v !== undefined && (typeof v !== 'object' || v === null);
      const lines = status.map((s) => `${s.name.padEnd(8)} ${s.role.padEnd(5)} ${s.url.padEnd(24)} ${s.health.padEnd(5)} ${s.ready.padEnd(13)} ${Object.entries(s.detail).filter(scalar).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`);
      // With `up --autoscale`: the host count, its bounds and the last decisions (README, "Host autoscaling").
      print(p, [...lines, ...(clusterFile ? autoscaleSummary(clusterFile) : [])].join('\n'), status);
      return status.every((s) => s.health === 'up') ? 0 : 2;
    }
    case 'build': {
      const file = p.positional[1];
      if (!file) throw new CloudburstError('INVALID_REQUEST', 'usage: cloudburst build FILE.ts [-o FILE.wasm]');
      const out = flag(p, 'out') ?? `${file.replace(/\.ts$/, '')}.wasm`;
      const wasm = await compile(file, out);
      print(p, `built ${out} (${wasm.byteLength} bytes)`, { out, bytes: wasm.byteLength });
      return 0;
    }
    case 'login': {
      const url = flag(p, 'url');
      const token = flag(p, 'token');
      if (!url || !token) throw new CloudburstError('INVALID_REQUEST', 'usage: cloudburst login --url URL --token TOKEN');
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
        const commands = { fn: fnCommand, kv: kvCommand, dag: (q: Parsed, c: HostClient) => dagCommand(q, c, USAGE), future: futureCommand };
        return await commands[command](p, client);
      } finally {
        if (sessionFile !== undefined && client.session) writeFileSync(sessionFile, `${client.session}\n`);
        await client.close();
      }
    }
    default:
      throw new CloudburstError('INVALID_REQUEST', `unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

/** A client of the host API of `--url`, with the token `findToken` finds, and `--tenant` when `actAs`. */
function clientOf(p: Parsed, actAs: boolean): HostClient {
  const url = flag(p, 'url') ?? process.env.CLOUDBURST_URL ?? DEFAULT_URL;
  const token = findToken(url, { token: flag(p, 'token'), dataDir: flag(p, 'data') });
  const ca = trustedCa(tlsFiles(p.flags, process.env));
  return new HostClient(url, { token, ca, ...(actAs && flag(p, 'tenant') !== undefined ? { tenant: flag(p, 'tenant') } : {}) });
}

/** Runs the CLI; resolves with the exit code (1: the user's mistake, 2: the system's). */
export async function main(argv: string[]): Promise<number> {
  try {
    const p = parse(argv);
    // The one rule for the environment (flags.ts): CLOUDBURST_FOO_BAR for --foo-bar.
    return await run(flagsFromEnv(p.positional[0] ?? '', process.env, p));
  } catch (err) {
    if (err instanceof BuildError) {
      console.error(`error BUILD_FAILED: ${err.message}`); // ERROR_CODES.BUILD_FAILED
      return 1;
    }
    if (err instanceof CloudburstError) {
      console.error(`error ${err.code}: ${err.message}`);
      return ERROR_CODES[err.code].userFault ? 1 : 2;
    }
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      // The flag of the port at fault: `--kvs-port` when the embedded KV node's (embedded.ts).
      console.error(`error: ${(err as Error).message}: another process uses this port; pick another with ${(err as { flag?: string }).flag ?? '--port'}`);
      return 1;
    }
    console.error(err);
    return 2;
  }
}

// `node dist/cli.js ARGS` (the container image's entrypoint, deploy/Dockerfile) runs the CLI;
// imported (tools/bin/cloudburst.js, tests), this module only exports `main`.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
