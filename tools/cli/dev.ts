/**
 * `cloudburst dev [ENTRY.ts...] [--name MODULE] [--url URL] [--port 7070] [--data DIR] [--json]`:
 * the inner loop. Starts the embedded platform (as `cloudburst up` does, without the examples)
 * or uses the one at `--url`, builds and deploys each entry, then watches the sources: every
 * save rebuilds and redeploys, and says how long it took from the save to the moment the new
 * version was callable (and how much of that was asc). A build that fails prints asc's
 * diagnostics and changes nothing: the version deployed before stays callable. The log lines of
 * the deployed functions are streamed (the logs API, log-stream.ts). Ctrl-C stops everything.
 *
 * Without ENTRY, the project's: `entries` of ./asconfig.json (`cloudburst init` writes it), else
 * src/index.ts. One entry is deployed as `--name`, else package.json's `cloudburst.module` or
 * `name`, else the file's name; several entries each under their file's name.
 *
 * The watcher is chokidar (maintained; `fs.watch` alone misses the rename-over saves of many
 * editors and is not recursive on every platform).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { watch } from 'chokidar';
import { CloudburstError } from '../../common/index.ts';
import { hostPath } from '../../host/index.ts';
import { checkModuleName } from '../../host/keys.ts';
import { BuildError } from '../build/build.ts';
import { BuildWorker } from './build-worker.ts';
import { findToken } from './auth.ts';
import { HostClient } from './client.ts';
import { startEmbedded, type Embedded } from './embedded.ts';
import { flag, has, int } from './flag-values.ts';
import type { Parsed } from './flags.ts';
import { followLog, formatLogLine, type LogLine } from './log-stream.ts';

/** An entry file and the module it is deployed as. */
export interface DevTarget {
  entry: string;
  module: string;
}

/** Saves closer together than this make one rebuild (an editor saving several files). */
const DEBOUNCE_MS = 30;
/** Folders never watched: dependencies, git's, the platform's data and build output. */
const NEVER_WATCHED = new Set(['node_modules', '.git', '.cloudburst', 'build', 'dist']);

/**
 * The entries and their module names (see the file's comment).
 *
 * @throws CloudburstError `INVALID_REQUEST` when there is no entry, an entry is missing, or
 *   `--name` comes with several entries; `INVALID_NAME` for a bad `--name`.
 * @example
 * devTargets([], undefined, '/home/me/hello'); // [{ entry: '/home/me/hello/src/index.ts', module: 'hello' }]
 */
export function devTargets(given: string[], name: string | undefined, cwd: string): DevTarget[] {
  const entries = (given.length > 0 ? given : projectEntries(cwd)).map((e) => resolve(cwd, e));
  for (const entry of entries) {
    if (!existsSync(entry)) throw new CloudburstError('INVALID_REQUEST', `cloudburst dev: ${entry}: no such file`);
  }
  if (entries.length > 1) {
    if (name !== undefined) throw new CloudburstError('INVALID_REQUEST', 'cloudburst dev: --name names the module of one entry; several entries are each deployed under their file\'s name');
    return entries.map((entry) => ({ entry, module: checkModuleName(basename(entry, extname(entry))) }));
  }
  const module = name ?? packageModule(cwd) ?? basename(entries[0]!, extname(entries[0]!));
  return [{ entry: entries[0]!, module: checkModuleName(module) }];
}

function readJson(file: string): Record<string, unknown> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new CloudburstError('MALFORMED_JSON', `${file}: ${(err as Error).message}`);
  }
}

function projectEntries(cwd: string): string[] {
  const entries = readJson(join(cwd, 'asconfig.json'))?.entries;
  if (Array.isArray(entries) && entries.length > 0 && entries.every((e) => typeof e === 'string')) return entries as string[];
  if (existsSync(join(cwd, 'src', 'index.ts'))) return ['src/index.ts'];
  throw new CloudburstError('INVALID_REQUEST', 'cloudburst dev: no entry here (no asconfig.json "entries", no src/index.ts): give one, `cloudburst dev FILE.ts`, or make a project with `cloudburst init NAME`');
}

/** package.json's `cloudburst.module`, else its name when that is a module name. */
function packageModule(cwd: string): string | undefined {
  const pkg = readJson(join(cwd, 'package.json'));
  const own = (pkg?.cloudburst as { module?: unknown } | undefined)?.module;
  if (typeof own === 'string') return own;
  return typeof pkg?.name === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/.test(pkg.name) ? pkg.name : undefined;
}

interface Output {
  /** A result (deployed, failed, a log line): always shown; a JSON line under --json. */
  event: (human: string, machine: Record<string, unknown>, toStderr?: boolean) => void;
  /** Progress ("building..."): only on a terminal, never under --json. */
  progress: (line: string) => void;
}

function output(json: boolean): Output {
  const tty = process.stderr.isTTY === true && !json;
  return {
    event: (human, machine, toStderr = false) => {
      if (json) console.log(JSON.stringify(machine));
      else if (toStderr) console.error(human);
      else console.log(human);
    },
    progress: (line) => {
      if (tty) console.error(line);
    },
  };
}

type Signature = { name: string; params: { name: string; type: string }[]; result: string };
const signature = (f: Signature): string => `${f.name}(${f.params.map((q) => `${q.name}: ${q.type}`).join(', ')}): ${f.result}`;

/** Runs `cloudburst dev` until SIGINT/SIGTERM; resolves with the exit code. */
export async function devCommand(p: Parsed): Promise<number> {
  const cwd = process.cwd();
  const targets = devTargets(p.positional.slice(1), flag(p, 'name'), cwd);
  const out = output(has(p, 'json'));
  const dataDir = resolve(flag(p, 'data') ?? '.cloudburst');
  const given = flag(p, 'url');

  let platform: Embedded | undefined;
  let url: string;
  let token: string | undefined;
  if (given === undefined) {
    out.progress('starting the platform...');
    platform = await startEmbedded({
      dataDir, port: int(p, 'port', 7070), kvsPort: int(p, 'kvs-port', 0), deployExamples: false, log: out.progress,
    });
    url = platform.host.url;
    token = platform.token;
  } else {
    url = given;
    token = findToken(url, { token: flag(p, 'token'), dataDir: flag(p, 'data') });
  }
  const client = new HostClient(url, { token });
  const builder = new BuildWorker();
  const streams = new Map<string, { stop: () => Promise<void> }>();
  const showLine = (line: LogLine): void => out.event(formatLogLine(line), { event: 'log', ...line });
  let noLogsApi = false;
  const follow = (fn: string): void => {
    if (streams.has(fn) || noLogsApi) return;
    streams.set(fn, followLog({
      url, fn, token, onLine: showLine,
      onUnavailable: (reason) => {
        // A host without the logs API says so for every function: once is enough.
        if (reason.includes('UNKNOWN_ROUTE')) {
          if (noLogsApi) return;
          noLogsApi = true;
          out.event(`logs are not streamed: the host at ${url} has no logs API`, { event: 'logs-unavailable', reason }, true);
          return;
        }
        out.event(`logs of ${fn} are not streamed: the host refused (${reason})`, { event: 'logs-unavailable', fn, reason }, true);
      },
    }));
  };

  /** Builds and deploys one target; `saved` is when the change that caused it was saved. */
  const deploy = async (t: DevTarget, saved: number | undefined): Promise<void> => {
    const rel = relative(cwd, t.entry) || t.entry;
    out.progress(`building ${rel}...`);
    const started = Date.now();
    let wasm: Uint8Array;
    try {
      // The release target, as `cloudburst build` and `fn deploy` build: asc's debug target was
      // no faster here (p50 2.0 s against 0.95 s for the project init makes, npm run bench -- dev).
      const built = await builder.build(t.entry, true);
      if (built.stderr.trim()) out.event(built.stderr.trimEnd(), { event: 'build-warnings', module: t.module, diagnostics: built.stderr }, true);
      wasm = built.wasm;
    } catch (err) {
      if (!(err instanceof BuildError)) throw err;
      const kept = saved === undefined ? 'nothing is deployed yet' : 'the version deployed before stays callable';
      out.event(`build failed for ${t.module} (${rel}); ${kept}:\n${err.message}`, { event: 'build-failed', module: t.module, entry: t.entry, code: 'BUILD_FAILED', message: err.message, diagnostics: err.diagnostics }, true);
      return;
    }
    const built = Date.now();
    let functions: Signature[];
    try {
      ({ functions } = await client.json<{ functions: Signature[] }>('PUT', hostPath.module(t.module), wasm, true));
    } catch (err) {
      if (!(err instanceof CloudburstError)) throw err;
      out.event(`deploy of ${t.module} refused: ${err.code}: ${err.message}`, { event: 'deploy-failed', module: t.module, code: err.code, message: err.message }, true);
      return;
    }
    const callable = Date.now();
    const ascMs = built - started;
    const deployMs = callable - built;
    const timing = saved === undefined
      ? `asc ${ascMs} ms, deploy ${deployMs} ms`
      : `${callable - saved} ms from save to callable: asc ${ascMs} ms, the rest ${callable - saved - ascMs} ms`;
    out.event(`${saved === undefined ? 'deployed' : 'redeployed'} ${t.module} (${timing})\n${functions.map((f) => `  ${signature(f)}`).join('\n')}`, {
      event: 'deployed', module: t.module, functions: functions.map((f) => f.name), ascMs, deployMs,
      ...(saved === undefined ? {} : { saveToCallableMs: callable - saved }),
    });
    for (const f of functions) follow(f.name);
  };

  let stopping = false;
  let pendingSince: number | undefined;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const rebuild = (): void => {
    if (running !== undefined || stopping) return;
    running = (async () => {
      while (pendingSince !== undefined && !stopping) {
        const saved = pendingSince;
        pendingSince = undefined;
        for (const t of targets) await deploy(t, saved);
      }
    })().catch((err: unknown) => {
      out.event(`error: ${(err as Error).message}`, { event: 'error', message: (err as Error).message }, true);
    }).finally(() => {
      running = undefined;
      if (pendingSince !== undefined) rebuild();
    });
  };
  const changed = (path: string): void => {
    let at = Date.now();
    try {
      at = Math.min(at, Math.floor(statSync(path).mtimeMs));
    } catch {
      // removed: now is when
    }
    pendingSince = Math.min(pendingSince ?? at, at);
    clearTimeout(timer);
    timer = setTimeout(rebuild, DEBOUNCE_MS);
  };

  const folders = [...new Set(targets.map((t) => dirname(t.entry)))];
  const watcher = watch(folders, {
    ignoreInitial: true,
    ignored: (path, stats) => {
      // Only the part under the watched folder counts: a project may live under a folder named build.
      const under = folders.map((f) => relative(f, path)).find((r) => !r.startsWith('..')) ?? '';
      return under.split(sep).some((part) => NEVER_WATCHED.has(part)) || path === dataDir || path.startsWith(dataDir + sep)
        || (stats?.isFile() === true && !path.endsWith('.ts'));
    },
  });
  watcher.on('add', changed).on('change', changed).on('unlink', changed);
  const watching = new Promise<void>((r) => watcher.once('ready', () => r()));

  const stop = async (): Promise<void> => {
    stopping = true;
    clearTimeout(timer);
    await watcher.close();
    await running;
    await Promise.all([...streams.values()].map((s) => s.stop()));
    await builder.close();
    await client.close();
    await platform?.close();
  };
  try {
    for (const t of targets) await deploy(t, undefined);
    await watching;
  } catch (err) {
    await stop();
    throw err;
  }
  const where = folders.map((f) => relative(cwd, f) || '.').join(', ');
  out.event(
    `cloudburst dev: ${platform ? `platform on ${url} (data in ${relative(cwd, dataDir) || dataDir})` : `deploying to ${url}`}; watching ${where}; logs below; stop: Ctrl-C`,
    { event: 'ready', url, modules: targets.map((t) => t.module), watching: folders },
  );
  return new Promise((resolveExit) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      out.progress('stopping...');
      stop().then(() => resolveExit(0), (err: unknown) => {
        console.error(err);
        resolveExit(2);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
