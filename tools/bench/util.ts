import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Pool } from 'undici';
import { PACKAGE_ROOT } from '../build/build.ts';

export const CLI = join(PACKAGE_ROOT, 'tools', 'bin', 'cloudburst.js');

/** Spawns `node ...args` and resolves once its stdout matches `ready`. */
export function startChild(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
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

