import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Dispatcher, Pool } from 'undici';
import { newClusterSecret } from '../../common/index.ts';
import { PACKAGE_ROOT } from '../build/build.ts';
import { givenClusterSecret } from '../cli/cluster-secret.ts';
import { withMallocTuning } from '../cli/malloc-env.ts';

export const CLI = join(PACKAGE_ROOT, 'tools', 'bin', 'cloudburst.js');

/**
 * Spawns `node ...args` (with `env`, default this process's) and resolves once its stdout matches
 * `ready`. The `cloudburst` command runs as its `#!` line runs it (`withMallocTuning`).
 */
export function startChild(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: args[0] === CLI ? withMallocTuning(env) : env });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve({ child, match: m });
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)));
  });
}

export async function post(pool: Pool, path: string, body: string): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const res = await pool.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json' } });
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
}


/**
 * The cluster secret of the KV nodes a bench starts and talks to: read as the CLI reads it
 * (CLOUDBURST_CLUSTER_SECRET), else a new one for this run.
 */
export function benchClusterSecret(): Buffer {
  return givenClusterSecret(undefined) ?? Buffer.from(newClusterSecret());
}

/**
 * A Pool that sends `authorization: Bearer <token>` with every request (a platform with
 * authentication on, as users run it). Request headers must be a plain object.
 */
export function withToken<D extends Dispatcher>(dispatcher: D, token: string): D {
  return dispatcher.compose((dispatch) => (opts, handler) => {
    const headers = { ...(opts.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` };
    return dispatch({ ...opts, headers }, handler);
  }) as unknown as D;
}

/** A metric of the host `pool` serves (its `/metrics`), NaN when absent. */
export async function metric(pool: Pool, name: string): Promise<number> {
  const res = await pool.request({ method: 'GET', path: '/metrics' });
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await res.body.text());
  return m ? Number(m[1]) : Number.NaN;
}

/** Resolves once the host's outbox is empty (`cloudburst_outbox_keys` 0), or `timeoutMs` passed. */
export async function outboxDrained(pool: Pool, timeoutMs = 120_000, pollMs = 200): Promise<void> {
  for (const until = Date.now() + timeoutMs; Date.now() < until && (await metric(pool, 'cloudburst_outbox_keys')) !== 0;) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
