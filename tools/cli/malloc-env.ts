/**
 * How the platform's processes ask glibc's malloc to give freed memory back.
 *
 * By default glibc raises its mmap threshold (to as much as 32 MiB) whenever a large block it had
 * mapped is freed, and its trim threshold to twice that: from then on, blocks of up to 32 MiB
 * come from the heap arenas, and a freed run of them stays in the process unless 64 MiB lie free
 * at the very top of an arena. One 50 MB value through `cloudburst up` (a request body read in
 * 64 KiB pieces on the KV node's thread, copies on the host's) left the process's anonymous
 * memory at 125-165 MiB against an 86 MiB start for as long as it ran, after V8 had freed every
 * buffer (`process.memoryUsage().arrayBuffers` back to its start): 51 MiB in the main arena,
 * 49 MiB in a thread's. A fixed threshold (which also turns the adjusting off) gave it back to
 * 88-90 MiB within 10 s, in 3 runs of 3 each way.
 *
 * glibc reads the setting once, when the process starts: it travels by environment. Every way
 * the platform starts a server sets it (the `cloudburst` command's `#!` line, `npm start`, the
 * processes `cloudburst up` starts, the container image); a value the user set wins, and other
 * C libraries ignore it. test/tools/malloc-env.unit.test.ts checks that they all agree.
 */

/** The variables, and their values: blocks over 128 KiB are mapped, and unmapped when freed. */
export const MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };

/** `env` with `MALLOC_ENV` added, unless it already tunes malloc (its own value wins). */
export function withMallocTuning(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.MALLOC_MMAP_THRESHOLD_ !== undefined || /glibc\.malloc\./.test(env.GLIBC_TUNABLES ?? '')) return env;
  return { ...env, ...MALLOC_ENV };
}
