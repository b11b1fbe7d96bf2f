import type { Registry as PromRegistry } from 'prom-client';
import { counterFrom, gaugeFrom } from '../metrics.ts';
import type { GuestLog } from '../executor/protocol.ts';
import { levelName, type ErrorEntry, type LogLine } from './log-line.ts';
import { LineRing } from './ring.ts';

/**
 * The bounds of a host's logs (host/README.md, "Logs"). A guest logs at most 64 KiB per call
 * (executor/guest-state.ts), but calls are many: every buffer here has a bound in lines and
 * in bytes, and what the bounds drop is counted (`cloudburst_log_lines_dropped_total`).
 */
export interface LogBounds {
  /** Lines kept per function (per tenant). Default 1,000. */
  linesPerFunction: number;
  /** Bytes kept per function: the oldest lines go first when over. Default 1 MiB. */
  bytesPerFunction: number;
  /** Functions with a ring on this host, every tenant's: the least recently written ring goes when over. Default 1,024. */
  maxFunctions: number;
  /** Bytes of every ring together: least recently written rings go first when over. Default 32 MiB. */
  maxBytes: number;
  /** Failed calls kept per tenant for `GET /v1/errors`. Default 50. */
  errorsPerTenant: number;
  /** Tenants with failed calls kept: the one whose last failure is oldest goes when over. Default 64. */
  errorTenants: number;
  /** Bytes of log lines kept with one failed call (its last lines; the failure's line always). Default 4 KiB. */
  bytesPerError: number;
}

export const DEFAULT_LOG_BOUNDS: LogBounds = {
  linesPerFunction: 1000,
  bytesPerFunction: 1024 * 1024,
  maxFunctions: 1024,
  maxBytes: 32 * 1024 * 1024,
  errorsPerTenant: 50,
  errorTenants: 64,
  bytesPerError: 4096,
};

/** What a line costs beyond its message: the object, its strings, the ring's slot (an estimate). */
const LINE_OVERHEAD_BYTES = 160;

/** A call's failure, as the executor answered it. */
export interface CallFailure {
  code: string;
  message: string;
}

/** What one host answers for one function's lines (the public route merges these over hosts, merge.ts). */
export interface HostLines {
  host: string;
  /** The host's last seq when it answered: a cursor at it skips nothing that existed then. */
  head: number;
  lines: LogLine[];
  /** Whether lines after those were left out by the limit. */
  more: boolean;
  /** Lines of this function dropped by the bounds on this host so far. */
  dropped: number;
}

type Listener = (line: LogLine) => void;

const ringKey = (tenant: string, fn: string): string => `${tenant}\n${fn}`;

/**
 * A host's recent guest log lines: one ring per function per tenant (ring.ts), numbered by one
 * sequence over the whole host (the cursor of `GET /v1/functions/{fn}/logs` is a seq per host,
 * cursor.ts), and each tenant's recent failed calls with their lines. Followers of a function
 * (the log stream) are told of each line as it is recorded.
 */
export class LogStore {
  readonly #hostId: string;
  readonly #bounds: LogBounds;
  /** Map order is the order of last writes: the first ring is the least recently written. */
  readonly #rings = new Map<string, LineRing>();
  /** Each tenant's failed calls, oldest first; Map order as for rings. */
  readonly #errors = new Map<string, ErrorEntry[]>();
  readonly #listeners = new Map<string, Set<Listener>>();
  #seq = 0;
  #bytes = 0;
  #dropped = 0;

  constructor(hostId: string, bounds: Partial<LogBounds> = {}) {
    this.#hostId = hostId;
    this.#bounds = { ...DEFAULT_LOG_BOUNDS, ...bounds };
  }

  /** The last seq given to a line. */
  get head(): number {
    return this.#seq;
  }

  /** Lines the bounds dropped on this host (all functions). */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Records one call's lines (in the order it logged them) and, for a failed call, one more
   * line of level `error` with its code and message, and the call among the tenant's failures.
   */
  record(tenant: string, fn: string, callId: string, logs: readonly GuestLog[], failure?: CallFailure): void {
    if (logs.length === 0 && !failure) return;
    const key = ringKey(tenant, fn);
    let ring = this.#rings.get(key);
    if (ring) this.#rings.delete(key); // moved to the end: the most recently written
    else ring = new LineRing(this.#bounds.linesPerFunction);
    this.#rings.set(key, ring);
    const now = Date.now();
    const added: LogLine[] = [];
    const [bytesBefore, droppedBefore] = [ring.bytes, ring.dropped];
    const add = (line: LogLine): void => {
      ring.push(line, line.message.length + LINE_OVERHEAD_BYTES);
      while (ring.bytes > this.#bounds.bytesPerFunction && ring.size > 1) ring.dropOldest();
      added.push(line);
    };
    for (const l of logs) {
      add({ seq: ++this.#seq, time: l.time ?? now, host: this.#hostId, callId, fn, level: levelName(l.level), message: l.message });
    }
    if (failure) {
      add({ seq: ++this.#seq, time: now, host: this.#hostId, callId, fn, level: 'error', message: failure.message, code: failure.code });
      this.#failed(tenant, { time: now, host: this.#hostId, fn, callId, code: failure.code, message: failure.message, logs: this.#tail(added) });
    }
    this.#bytes += ring.bytes - bytesBefore;
    this.#dropped += ring.dropped - droppedBefore;
    this.#evict(key);
    const listeners = this.#listeners.get(key);
    if (listeners) for (const l of added) for (const listener of listeners) listener(l);
  }

  /** Rings over the host's bounds go, least recently written first (never `keep`, just written). */
  #evict(keep: string): void {
    for (const [key, ring] of this.#rings) {
      if (key === keep) break;
      if (this.#rings.size <= this.#bounds.maxFunctions && this.#bytes <= this.#bounds.maxBytes) break;
      this.#rings.delete(key);
      this.#bytes -= ring.bytes;
      this.#dropped += ring.size;
    }
  }

  /** The last lines of a failed call within `bytesPerError`, its failure's line always kept. */
  #tail(lines: LogLine[]): LogLine[] {
    let bytes = 0;
    let from = lines.length;
    while (from > 0) {
      const cost = lines[from - 1]!.message.length;
      if (from < lines.length && bytes + cost > this.#bounds.bytesPerError) break;
      bytes += cost;
      from--;
    }
    return lines.slice(from);
  }

  #failed(tenant: string, entry: ErrorEntry): void {
    const list = this.#errors.get(tenant) ?? [];
    this.#errors.delete(tenant);
    this.#errors.set(tenant, list);
    list.push(entry);
    if (list.length > this.#bounds.errorsPerTenant) list.shift();
    if (this.#errors.size > this.#bounds.errorTenants) this.#errors.delete(this.#errors.keys().next().value!);
  }

  /**
   * The lines of `tenant`'s function `fn` after `after` (a seq of this host), oldest first, at
   * most `limit`; with `after` undefined, the newest `limit` lines (a tail).
   */
  read(tenant: string, fn: string, after: number | undefined, limit: number): HostLines {
    const ring = this.#rings.get(ringKey(tenant, fn));
    const head = this.#seq;
    if (!ring) return { host: this.#hostId, head, lines: [], more: false, dropped: 0 };
    const lines = after === undefined ? ring.last(limit) : ring.after(after, limit + 1);
    const more = lines.length > limit;
    if (more) lines.length = limit;
    return { host: this.#hostId, head, lines, more, dropped: ring.dropped };
  }

  /** `tenant`'s failed calls on this host, newest first, at most `limit`. */
  errors(tenant: string, limit: number): ErrorEntry[] {
    return [...(this.#errors.get(tenant) ?? [])].reverse().slice(0, limit);
  }

  /** Forgets the rings and failures of `tenant`'s functions named `{prefix}...` (a module deleted: `prefix` is `module.`). */
  forget(tenant: string, prefix: string): void {
    const keyPrefix = ringKey(tenant, prefix);
    for (const [key, ring] of this.#rings) {
      if (!key.startsWith(keyPrefix)) continue;
      this.#rings.delete(key);
      this.#bytes -= ring.bytes;
    }
    const list = this.#errors.get(tenant);
    if (list) {
      const kept = list.filter((e) => !e.fn.startsWith(prefix));
      if (kept.length === 0) this.#errors.delete(tenant);
      else this.#errors.set(tenant, kept);
    }
  }

  /** Calls `listener` with each line of `tenant`'s `fn` recorded from now on; answers the unsubscribe. */
  subscribe(tenant: string, fn: string, listener: Listener): () => void {
    const key = ringKey(tenant, fn);
    let set = this.#listeners.get(key);
    if (!set) this.#listeners.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(key) === set) this.#listeners.delete(key);
    };
  }

  registerMetrics(registry: PromRegistry): void {
    counterFrom(registry, 'cloudburst_log_lines_dropped_total', 'Guest log lines the host dropped from its log buffers to stay within their bounds (lines per function, bytes)', () => this.#dropped);
    gaugeFrom(registry, 'cloudburst_log_buffer_bytes', 'Bytes the host\'s guest log buffers hold (estimated: messages plus a fixed overhead per line)', () => this.#bytes);
  }
}
