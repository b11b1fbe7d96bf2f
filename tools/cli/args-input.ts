/**
 * `--args` of `fn call` and `dag call`: JSON on the command line, `@FILE` (read from a file) or
 * `-` (read from stdin), for arguments too large for a command line (Linux caps one argument at
 * 128 KiB). What is read is bounded by the host's body limit (HOST_LIMITS.bodyBytes): the host
 * would refuse more, and the CLI says so before sending anything.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { CloudburstError } from '../../common/index.ts';
import { HOST_LIMITS } from '../../host/index.ts';

/** The most `--args @FILE` or `--args -` reads: what the host accepts as a body. */
export const ARGS_MAX_BYTES = HOST_LIMITS.bodyBytes;

const tooLarge = (where: string, max: number): CloudburstError =>
  new CloudburstError('BODY_TOO_LARGE', `--args ${where} is over ${max} bytes, the host's limit for a request body: pass large values by reference (cloudburst kv put, then --ref KEY)`);

/** A file's bytes, up to `max` (refused beyond, without reading it all). */
function readFileBounded(path: string, max: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new CloudburstError('INVALID_REQUEST', `--args @${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    if (fstatSync(fd).size > max) throw tooLarge(`@${path}`, max);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > max) throw tooLarge(`@${path}`, max);
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/** A stream's bytes, up to `max`. */
async function readStreamBounded(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    total += b.length;
    if (total > max) {
      stream.destroy();
      throw tooLarge('- (stdin)', max);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/**
 * The JSON text of `--args VALUE`: VALUE itself, the file after `@`, or stdin for `-`.
 *
 * @example
 * await argsText('[1, 2]')          // '[1, 2]'
 * await argsText('@big.json')       // the file's text
 * await argsText('-', process.stdin) // what was piped in
 */
export async function argsText(value: string, stdin: Readable = process.stdin, max = ARGS_MAX_BYTES): Promise<string> {
  if (value === '-') return (await readStreamBounded(stdin, max)).toString('utf8');
  if (value.startsWith('@')) return readFileBounded(value.slice(1), max).toString('utf8');
  return value;
}

/** Where `--args VALUE` came from, for an error: `--args @big.json`, `--args - (stdin)`, `--args`. */
export const argsSource = (value: string): string => (value === '-' ? '--args - (stdin)' : value.startsWith('@') ? `--args ${value}` : '--args');
