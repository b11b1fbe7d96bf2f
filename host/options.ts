import { availableParallelism } from 'node:os';
import { checkAddresses, checkCa, checkServerTls, CloudburstError, CLUSTER_SECRET_MIN_BYTES, type ServerTls } from '../common/index.ts';
import { KV_LIMITS } from '../kvs/index.ts';
import type { AuditEntry } from './auth/audit.ts';
import type { FsyncPolicy } from './cache/cache.ts';
import type { LogBounds } from './logs/log-store.ts';
import type { FollowOptions } from './logs/follow.ts';
import { DEFAULT_MAX_DELAY_MS, DEFAULT_MIN_DELAY_MS } from './cache/flush-policy.ts';
import { DEFAULT_REREAD_MS } from './futures.ts';
import { DEFAULT_TENANT } from './keys.ts';
import { HOST_LIMITS } from './protocol.ts';
import { defaultQuotas, parseQuotas, type TenantQuotas } from './quotas/tenant-quotas.ts';

export interface HostOptions {
  /** Folder for the host's cache and identity. */
  dataDir: string;
  /** Base URL of a KV node, e.g. `http://127.0.0.1:7100`. */
  kvsUrl: string;
  /** More KV nodes of the same cluster, tried when `kvsUrl` does not answer. */
  kvsSeeds?: string[];
  /** Lease of the host's cache subscriptions on the KV tier, in ms (renewed every third). Default 30 s. */
  subscriptionTtlMs?: number;
  /**
   * How long a commit waits before its writes are flushed to the KV tier while writes are
   * rare. Default 2 ms. (Durable puts and `PUT /v1/kv` flush at once.)
   */
  flushDelayMs?: number;
  /**
   * The cap of the adaptive group commit: under sustained writes the wait before a flush grows
   * with the commit rate up to this, so that many calls' writes travel together (host/README.md,
   * "Write-behind"). A visibility delay only: writes are durable on the host before. Default
   * 20 ms; at least `flushDelayMs`. Flag `--flush-max-delay`.
   */
  flushMaxDelayMs?: number;
  /** Port of the HTTP API; 0 picks a free one. Default 7070. */
  port?: number;
  /** Address to listen on (an IPv6 literal with or without brackets). Default 127.0.0.1. */
  listen?: string;
  /**
   * The URL other hosts and the KV tier reach this host at, announced in the directory and in
   * subscriptions (common/address.ts). Default `http(s)://listen:port`; required when `listen`
   * is a wildcard (`0.0.0.0`, `::`).
   */
  advertise?: string;
  /** Executor worker threads the host starts with and never goes below. Default: the number of cores (at least 2). */
  workers?: number;
  /**
   * Executor worker threads the host may grow to when calls wait (host/README.md, "Executor
   * scaling"). Default 4 x the number of cores, at least `workers`. Each may hold up to
   * `workerMemoryMiB` (see "Memory").
   */
  maxWorkers?: number;
  /** A call that waited this long for a worker starts one more (ms). Default 20. */
  scaleUpWaitMs?: number;
  /** A worker idle this long is stopped, down to `workers` (ms). Default 30 s. */
  idleTimeoutMs?: number;
  /** How hard the cache tries to reach the disk (README, "Durability"). Default `batch`. */
  fsync?: FsyncPolicy;
  /** Memory limit of each guest instance, in MiB. Default 256. */
  guestMemoryMiB?: number;
  /**
   * Memory budget of each executor worker (its heap and the linear memories of its warm
   * instances), in MiB: a worker over it after a call is replaced. Default guestMemoryMiB + 256.
   */
  workerMemoryMiB?: number;
  /** Largest module upload, in bytes, at most the largest value the KV tier stores. Default 8 MiB. */
  maxModuleBytes?: number;
  /** Largest JSON body of a call or KV write, in bytes. Default 64 MiB. */
  maxBodyBytes?: number;
  /** Call deadline unless the call asks for another. Default 10 s. */
  defaultTimeoutMs?: number;
  /** Longest deadline a call may ask for. Default 5 min. */
  maxTimeoutMs?: number;
  /** Probability that a call is placed on a random host (exploration). Default 0.1. */
  explore?: number;
  /** Hosts busier than this (busy and waiting calls / maxWorkers, taken now: cluster/load.ts) are avoided. Default 0.7. */
  maxUtilization?: number;
  /** How often the host publishes its key summary and load, and reads the others'. Default 500 ms. */
  publishIntervalMs?: number;
  /**
   * Holds `GET /readyz` at 503 NOT_READY, with this reason, until `Host.setReady()`: for a
   * starter that has more to do before the host should get work (`cloudburst up` deploys the
   * examples). Default: nothing held.
   */
  holdReady?: string | undefined;
  /** Size budget of the cache (keys and values), in MiB; clean keys are evicted past it. Default 1024. */
  cacheMiB?: number;
  /** Keys the cache may hold (each costs the main thread's heap a few hundred bytes). Default 500,000. */
  cacheKeys?: number;
  /**
   * Each executor worker's memo of the register values its calls read, in MiB (host/README.md,
   * "Value memo"): a plain `get` of a kept key skips LMDB. Counts toward `workerMemoryMiB`.
   * 0 turns it off. Default 32. Flag `--value-memo-mib`.
   */
  valueMemoMiB?: number;
  /**
   * How often a long-poll on a future reads the KV tier again, in case the push that should
   * wake it was missed. Default 2 s.
   */
  futureRereadMs?: number;
  /**
   * How long a key a guest read and the KV tier had no value for is believed absent without
   * asking the tier again (host/cache/absent-keys.ts; the host subscribes to it meanwhile, so a
   * write anywhere is pushed at once). 0: every such read asks the tier. Default 10 s.
   */
  absentTtlMs?: number;
  /**
   * Where guest log lines go, with the tenant of the call that logged them. Default: stdout,
   * prefixed with the function name (and the tenant, but for `default`).
   */
  onGuestLog?: (fn: string, level: number, message: string, tenant: string) => void;
  /** The bounds of the host's log buffers (logs/log-store.ts, `DEFAULT_LOG_BOUNDS`); those left out have their defaults. */
  logBounds?: Partial<LogBounds>;
  /** Log streams: how many, how often other hosts are polled, the heartbeat (logs/follow.ts, `DEFAULT_FOLLOW`). */
  logFollow?: Partial<FollowOptions>;
  /**
   * The cluster credential (common/cluster-auth.ts), shared by every host and KV node of the
   * cluster: signs this host's requests to them and checks theirs. Required unless `insecure`.
   */
  clusterSecret?: Buffer;
  /** No authentication at all (README, "Security"): for a laptop or a test, never a network. */
  insecure?: boolean;
  /**
   * Serve the HTTP API over TLS (node:https) with this PEM certificate (its chain after it)
   * and PEM private key; the host's URL is then `https://` (README, "TLS"). Default: plain HTTP.
   */
  tls?: ServerTls;
  /**
   * PEM CA certificate(s) this host trusts besides the system's when it connects to other
   * hosts and to the KV tier: the CA of their certificates when it is private or self-signed.
   */
  ca?: Buffer;
  /**
   * The quotas of every tenant (host/README.md, "Quotas"), as a tenant record's `quotas`
   * object: any of them; those left out have their defaults (`defaultQuotas`).
   */
  quotas?: Partial<TenantQuotas>;
  /**
   * How calls waiting for a worker are served: `share` (the default) one queue per tenant in
   * turn, each active tenant holding at most its share of the workers; `fair` the queues in
   * turn without shares; `fifo` one queue in arrival order, with no per-tenant bound (the last
   * two are the benchmark's baselines).
   */
  queue?: 'share' | 'fair' | 'fifo';
  /** Called with every entry of the audit log as it is written to `<dataDir>/audit.jsonl`. */
  onAudit?: ((entry: AuditEntry) => void) | undefined;
  /**
   * Run a local chain of DAG steps in one worker job (host/dag/chain.ts). Default true, unless
   * the environment has CLOUDBURST_DAG_FUSION=off: every step its own call (benchmarks, diagnosis).
   */
  dagFusion?: boolean;
}

/** Environment variable that turns `dagFusion` off by default (for `cloudburst up` and the benchmarks). */
export const DAG_FUSION_ENV = 'CLOUDBURST_DAG_FUSION';

/** HostOptions with every default filled in: what `startHost` builds the host from. */
export type ResolvedHostOptions = Required<Omit<HostOptions, 'tls' | 'ca' | 'quotas' | 'onAudit' | 'holdReady' | 'advertise'>> & { advertise: string | undefined; tls: ServerTls | undefined; ca: Buffer | undefined; quotas: TenantQuotas } & Pick<HostOptions, 'onAudit' | 'holdReady'>;

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

function logToStdout(fn: string, level: number, message: string, tenant: string): void {
  console.log(`[${tenant === DEFAULT_TENANT ? '' : `${tenant}/`}${fn}] ${LOG_LEVELS[level] ?? 'log'}: ${message}`);
}

/** Default of `valueMemoMiB`: 20,000 values of 1 KiB with room to spare, against a worker's budget of 512 MiB. */
export const DEFAULT_VALUE_MEMO_MIB = 32;

/** `valueMemoMiB`, checked: a number of MiB from 0 (off) up to a worker's whole budget. */
function valueMemoMiB(opts: HostOptions): number {
  const mib = opts.valueMemoMiB ?? DEFAULT_VALUE_MEMO_MIB;
  const budget = opts.workerMemoryMiB ?? (opts.guestMemoryMiB ?? 256) + 256;
  if (!(mib >= 0 && mib <= budget)) throw new CloudburstError('INVALID_REQUEST', `valueMemoMiB must be a number of MiB from 0 (off) to workerMemoryMiB (${budget}), not ${mib}`);
  return mib;
}

/**
 * The one place the defaults documented on `HostOptions` are applied (an option given as
 * `undefined` gets its default too), and the options checked before anything is opened.
 *
 * @throws CloudburstError `INVALID_REQUEST` when `maxModuleBytes` exceeds what the KV tier
 *   stores, `workers`/`maxWorkers` are not whole numbers with maxWorkers >= workers >= 1,
 *   `tls` or `ca` is not what it must be (which part, in the message), `quotas` is
 *   not a valid quotas object (`parseQuotas`), `listen`/`advertise` would announce no reachable
 *   URL (`checkAddresses`), or neither a cluster secret (of at least
 *   CLUSTER_SECRET_MIN_BYTES) nor `insecure` is given, or `valueMemoMiB` is out of range.
 */
/** The longest delay `setTimeout` takes (2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function resolveOptions(opts: HostOptions): ResolvedHostOptions {
  if (opts.insecure !== true && (opts.clusterSecret === undefined || opts.clusterSecret.length < CLUSTER_SECRET_MIN_BYTES)) {
    throw new CloudburstError('INVALID_REQUEST', opts.clusterSecret === undefined
      ? 'a host needs the cluster secret (clusterSecret; cloudburst up creates one), or insecure: true to run without authentication'
      : `the cluster secret is ${opts.clusterSecret.length} bytes; it must be at least ${CLUSTER_SECRET_MIN_BYTES}`);
  }
  if (opts.tls) checkServerTls(opts.tls);
  if (opts.ca) checkCa(opts.ca);
  checkAddresses({ listen: opts.listen, advertise: opts.advertise, scheme: opts.tls ? 'https' : 'http' }, 'a host');
  const maxModuleBytes = opts.maxModuleBytes ?? HOST_LIMITS.moduleBytes;
  // A module's bytes are one value in the KV tier.
  if (maxModuleBytes > KV_LIMITS.maxRegisterBytes) {
    throw new CloudburstError('INVALID_REQUEST', `maxModuleBytes may be at most ${KV_LIMITS.maxRegisterBytes} (the largest value the KV tier stores)`);
  }
  const guestMemoryMiB = opts.guestMemoryMiB ?? 256;
  const maxTimeoutMs = opts.maxTimeoutMs ?? HOST_LIMITS.maxTimeoutMs;
  const workers = opts.workers ?? Math.max(2, availableParallelism());
  const maxWorkers = opts.maxWorkers ?? Math.max(workers, 4 * availableParallelism());
  if (!Number.isInteger(workers) || workers < 1) throw new CloudburstError('INVALID_REQUEST', `workers must be a whole number of at least 1 (got ${workers})`);
  if (!Number.isInteger(maxWorkers) || maxWorkers < workers) {
    throw new CloudburstError('INVALID_REQUEST', `maxWorkers (${maxWorkers}) must be a whole number of at least workers (${workers})`);
  }
  const scaleUpWaitMs = opts.scaleUpWaitMs ?? 20;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
  if (!(scaleUpWaitMs >= 0) || !(idleTimeoutMs >= 0)) throw new CloudburstError('INVALID_REQUEST', 'scaleUpWaitMs and idleTimeoutMs must be numbers of ms, 0 or more');
  const flushMaxDelayMs = opts.flushMaxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  // A timer's longest delay (Node treats a longer one as 1 ms).
  if (!(flushMaxDelayMs >= 0 && flushMaxDelayMs <= MAX_TIMER_MS)) throw new CloudburstError('INVALID_REQUEST', `flushMaxDelayMs must be a number of ms from 0 to ${MAX_TIMER_MS} (got ${flushMaxDelayMs})`);
  return {
    dataDir: opts.dataDir,
    kvsUrl: opts.kvsUrl,
    kvsSeeds: opts.kvsSeeds ?? [],
    subscriptionTtlMs: opts.subscriptionTtlMs ?? 30_000,
    flushDelayMs: opts.flushDelayMs ?? DEFAULT_MIN_DELAY_MS,
    flushMaxDelayMs,
    port: opts.port ?? 7070,
    listen: opts.listen ?? '127.0.0.1',
    advertise: opts.advertise,
    workers,
    maxWorkers,
    scaleUpWaitMs,
    idleTimeoutMs,
    fsync: opts.fsync ?? 'batch',
    guestMemoryMiB,
    workerMemoryMiB: opts.workerMemoryMiB ?? guestMemoryMiB + 256,
    maxModuleBytes,
    maxBodyBytes: opts.maxBodyBytes ?? HOST_LIMITS.bodyBytes,
    defaultTimeoutMs: opts.defaultTimeoutMs ?? HOST_LIMITS.defaultTimeoutMs,
    maxTimeoutMs,
    explore: opts.explore ?? 0.1,
    maxUtilization: opts.maxUtilization ?? 0.7,
    publishIntervalMs: opts.publishIntervalMs ?? 500,
    cacheMiB: opts.cacheMiB ?? 1024,
    cacheKeys: opts.cacheKeys ?? 500_000,
    valueMemoMiB: valueMemoMiB(opts),
    futureRereadMs: opts.futureRereadMs ?? DEFAULT_REREAD_MS,
    absentTtlMs: opts.absentTtlMs ?? 10_000,
    onGuestLog: opts.onGuestLog ?? logToStdout,
    logBounds: opts.logBounds ?? {},
    logFollow: opts.logFollow ?? {},
    clusterSecret: opts.clusterSecret ?? Buffer.alloc(0),
    insecure: opts.insecure ?? false,
    tls: opts.tls,
    ca: opts.ca,
    queue: opts.queue ?? 'share',
    dagFusion: opts.dagFusion ?? process.env[DAG_FUSION_ENV] !== 'off',
    quotas: parseQuotas(opts.quotas ?? {}, defaultQuotas({ guestMemoryMiB, maxTimeoutMs })),
    onAudit: opts.onAudit,
    holdReady: opts.holdReady,
  };
}
