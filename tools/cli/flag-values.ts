// The values of the server commands' flags, read and checked once (tools/cli/flags.ts parses
// the command line and fills it from the environment): whole numbers, durations, JSON, and the
// groups of flags a host's options take together. A bad value's error names where it came from.
import { CloudburstError } from '../../common/index.ts';
import { DEFAULT_DRAIN_TIMEOUT_MS } from '../../host/index.ts';
import { flagLabel, type Parsed } from './flags.ts';

export const flag = (p: Parsed, name: string): string | undefined => p.flags.get(name)?.at(-1);
export const has = (p: Parsed, name: string): boolean => p.flags.has(name);
/** The host's memory settings given as flags (HostOptions names them). */
export const memoryFlags = (p: Parsed): { guestMemoryMiB?: number; workerMemoryMiB?: number; cacheMiB?: number; cacheKeys?: number; valueMemoMiB?: number } => ({
  ...(flag(p, 'guest-memory-mib') === undefined ? {} : { guestMemoryMiB: int(p, 'guest-memory-mib', 256) }),
  ...(flag(p, 'worker-memory-mib') === undefined ? {} : { workerMemoryMiB: int(p, 'worker-memory-mib', 512) }),
  ...(flag(p, 'cache-mib') === undefined ? {} : { cacheMiB: int(p, 'cache-mib', 1024) }),
  ...(flag(p, 'cache-keys') === undefined ? {} : { cacheKeys: int(p, 'cache-keys', 500_000) }),
  ...(flag(p, 'value-memo-mib') === undefined ? {} : { valueMemoMiB: int(p, 'value-memo-mib', 32) }),
});

/** A flag whose value is JSON (checked further by what takes it). */
export const parseJsonFlag = (p: Parsed, name: string): unknown => {
  try {
    return JSON.parse(flag(p, name)!);
  } catch {
    throw new CloudburstError('INVALID_REQUEST', `${flagLabel(p, name)} must be JSON`);
  }
};

export const queueFlag = (p: Parsed): 'share' | 'fair' | 'fifo' => {
  const q = flag(p, 'queue');
  if (q !== 'share' && q !== 'fair' && q !== 'fifo') throw new CloudburstError('INVALID_REQUEST', `${flagLabel(p, 'queue')} must be share, fair or fifo`);
  return q;
};
/** `--listen ADDR` and `--advertise URL` of `host` (common/address.ts checks them). */
export const addressFlags = (p: Parsed): { listen?: string; advertise?: string } => ({
  ...(flag(p, 'listen') === undefined ? {} : { listen: flag(p, 'listen')! }),
  ...(flag(p, 'advertise') === undefined ? {} : { advertise: flag(p, 'advertise')! }),
});
/** What `serverCredential` (cluster-secret.ts) reads of the command line. */
export const secretFlags = (p: Parsed): { secretFile: string | undefined; insecure: boolean } => ({ secretFile: flag(p, 'cluster-secret-file'), insecure: has(p, 'insecure') });

/** How the host's executor pool grows and shrinks, given as flags (HostOptions names them; host/README.md, "Executor scaling"). */
export const scalingFlags = (p: Parsed): { maxWorkers?: number; scaleUpWaitMs?: number; idleTimeoutMs?: number } => ({
  ...(flag(p, 'max-workers') === undefined ? {} : { maxWorkers: int(p, 'max-workers', 0) }),
  ...(flag(p, 'scale-up-wait') === undefined ? {} : { scaleUpWaitMs: duration(flag(p, 'scale-up-wait')!) }),
  ...(flag(p, 'idle-timeout') === undefined ? {} : { idleTimeoutMs: duration(flag(p, 'idle-timeout')!) }),
});

/** `--flush-max-delay 20ms`: the cap of the host's group-commit window (HostOptions.flushMaxDelayMs; host/README.md, "Write-behind"). */
export const writeBehindFlags = (p: Parsed): { flushMaxDelayMs?: number } =>
  (flag(p, 'flush-max-delay') === undefined ? {} : { flushMaxDelayMs: duration(flag(p, 'flush-max-delay')!) });

export const int = (p: Parsed, name: string, fallback: number): number => {
  const v = flag(p, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new CloudburstError('INVALID_REQUEST', `${flagLabel(p, name)} must be a whole number`);
  return n;
};

/** "5s", "250ms", "2m" or a number of milliseconds. */
export function duration(text: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new CloudburstError('INVALID_REQUEST', `${JSON.stringify(text)} is not a duration (use 500ms, 5s, 1m)`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1);
}

/** `--drain-timeout` (a duration), else the host's default. */
export const drainTimeout = (p: Parsed): number => {
  const v = flag(p, 'drain-timeout');
  return v === undefined ? DEFAULT_DRAIN_TIMEOUT_MS : duration(v);
};
