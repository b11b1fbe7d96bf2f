import { randomBytes } from 'node:crypto';
import { CloudburstError, type ErrorCode } from '../common/index.ts';
import { lww, type Hlc, type Lattice } from '../kvs/index.ts';
import { SPACES, storageKey } from './keys.ts';
import type { ReadThroughCache } from './cache/read-through.ts';

export type FutureStatus = 'pending' | 'done' | 'failed';

/** A future as stored in the KV tier (JSON in an LWW register) and as `GET /v1/futures/{id}` shows it. */
export interface FutureRecord {
  future: string;
  status: FutureStatus;
  function: string;
  createdAt: string;
  finishedAt?: string;
  /** Where the call ran. */
  host?: string;
  /** The client's session token after the call (see host/README.md, "Client sessions"). */
  session?: string;
  result?: unknown;
  error?: { code: ErrorCode; message: string };
}

const ID = /^[0-9a-f]{32}$/;
/** How often a waiter reads the tier again, in case the push that should wake it was missed. */
export const DEFAULT_REREAD_MS = 2000;

export function checkFutureId(id: unknown): string {
  if (typeof id !== 'string' || !ID.test(id)) throw new CloudburstError('FUTURE_NOT_FOUND', `${JSON.stringify(id)} is not a future id`);
  return id;
}

function recordOf(v: Lattice | undefined): FutureRecord | undefined {
  if (v === undefined || v.type !== 'lww' || v.tombstone) return undefined;
  return JSON.parse(Buffer.from(v.value).toString('utf8')) as FutureRecord;
}

export interface FuturesOptions {
  /** See DEFAULT_REREAD_MS. */
  rereadMs?: number;
}

/**
 * Futures: the results of asynchronous calls, stored under a result key in the KV tier so that
 * any host can answer for any future. A future is its tenant's (`{tenant}/fut/{id}`): another
 * tenant asking for its id finds no record, FUTURE_NOT_FOUND like an id that never existed.
 *
 * The pending record reaches the tier before the future's id is handed out, so a future that
 * no replica knows never existed, on any host: it is FUTURE_NOT_FOUND at once. A waiter is
 * woken by the completion when the call was started here, and by the tier's push of the
 * future's key otherwise (the host subscribed to the key when it read it); it reads the tier
 * again only every `rereadMs`, in case a push was missed.
 */
export class Futures {
  readonly #readThrough: ReadThroughCache;
  readonly #hlc: Hlc;
  readonly #rereadMs: number;
  /** Waiters by the future's storage key, woken with the finished record (or without, when the host stops). */
  readonly #waiters = new Map<string, Set<(r?: FutureRecord) => void>>();
  #stopping = false;
  readonly #unlisten: () => void;

  constructor(readThrough: ReadThroughCache, hlc: Hlc, opts: FuturesOptions = {}) {
    this.#readThrough = readThrough;
    this.#hlc = hlc;
    this.#rereadMs = opts.rereadMs ?? DEFAULT_REREAD_MS;
    this.#unlisten = readThrough.onTierValue((key, value) => {
      if (!this.#waiters.has(key)) return;
      const record = recordOf(value);
      if (record && record.status !== 'pending') this.#wake(key, record);
    });
  }

  #key(tenant: string, id: string): string {
    return storageKey(tenant, SPACES.future, id);
  }

  #value(record: FutureRecord): Lattice {
    return lww.write(Buffer.from(JSON.stringify(record)), this.#hlc.now());
  }

  /**
   * Registers a pending future of `tenant` for a call of `fn` and resolves with its id once the
   * KV tier has acknowledged the record (KV_UNAVAILABLE otherwise: then nobody heard of the id).
   */
  async create(tenant: string, fn: string): Promise<string> {
    const id = randomBytes(16).toString('hex');
    await this.#readThrough.mergeToTier(this.#key(tenant, id), this.#value({ future: id, status: 'pending', function: fn, createdAt: new Date().toISOString() }));
    return id;
  }

  /**
   * Stores the outcome and wakes the waiters of this host. Never throws (it runs when a
   * background call ends): a result too large to store (over the value limit, or beyond what
   * JSON can hold) makes the future fail with KV_VALUE_TOO_LARGE instead of staying pending.
   */
  complete(tenant: string, id: string, fn: string, createdAt: string, outcome: { result: unknown; host: string; session?: string } | { error: CloudburstError }): FutureRecord {
    const base = { future: id, function: fn, createdAt, finishedAt: new Date().toISOString() };
    const failed = (e: CloudburstError): FutureRecord => ({ ...base, status: 'failed', error: { code: e.code, message: e.message } });
    let record: FutureRecord = 'error' in outcome
      ? failed(outcome.error)
      : { ...base, status: 'done', result: outcome.result, host: outcome.host, ...(outcome.session ? { session: outcome.session } : {}) };
    const key = this.#key(tenant, id);
    try {
      this.#store(key, record);
    } catch (err) {
      if (record.status !== 'done') {
        console.error(`future ${id}: its outcome could not be stored:`, err);
        return record;
      }
      const why = err instanceof CloudburstError ? err.message : `it cannot be written as JSON (${String(err)})`;
      record = failed(new CloudburstError('KV_VALUE_TOO_LARGE', `the call succeeded, but its result is too large to keep for a future: ${why}`));
      try {
        this.#store(key, record);
      } catch (again) {
        console.error(`future ${id}: its outcome could not be stored:`, again);
      }
    }
    this.#wake(key, record);
    return record;
  }

  #store(key: string, record: FutureRecord): void {
    // Written through the cache and its outbox: durable on this host at once (kill -9), in the
    // tier a moment later (flushed at once, not after the group-commit window: waiters of
    // other hosts are woken by the tier's push).
    this.#readThrough.write(new Map([[key, this.#value(record)]]), { awaited: true });
  }

  #wake(key: string, record: FutureRecord): void {
    const waiters = this.#waiters.get(key);
    if (!waiters) return;
    this.#waiters.delete(key);
    for (const w of waiters) w(record);
  }

  /**
   * The future's record once it is finished, or as it is when `waitMs` runs out (no cap: a
   * call waiting for a future argument waits within its own deadline; the route caps `wait`).
   * A future that no replica of the tier knows is FUTURE_NOT_FOUND at once.
   */
  async get(tenant: string, id: string, waitMs: number): Promise<FutureRecord> {
    checkFutureId(id);
    const key = this.#key(tenant, id);
    const deadline = Date.now() + Math.max(0, waitMs);
    let finished: FutureRecord | undefined;
    let wake: (() => void) | undefined;
    const waiter = (r?: FutureRecord): void => {
      if (r) finished = r;
      wake?.();
    };
    // Registered before the first read: a completion between that read and the wait wakes it.
    let waiters = this.#waiters.get(key);
    if (!waiters) this.#waiters.set(key, (waiters = new Set()));
    waiters.add(waiter);
    try {
      // The cache, else one replica (the host then subscribes to the key); absent there, the
      // merged value of every replica decides.
      let last = recordOf(await this.#readThrough.read(key)) ?? recordOf(await this.#readThrough.fetchMerged(key));
      if (!last && !finished) throw new CloudburstError('FUTURE_NOT_FOUND', `no future ${id}`);
      while (!finished && last?.status === 'pending') {
        if (this.#stopping) throw new CloudburstError('SHUTTING_DOWN', `this host is stopping: ask another host for future ${id}`);
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, Math.min(remaining, this.#rereadMs));
        });
        clearTimeout(timer);
        wake = undefined;
        if (!finished && Date.now() < deadline) last = recordOf(await this.#readThrough.read(key, { fresh: true })) ?? last;
      }
      return finished ?? last!;
    } finally {
      waiters.delete(waiter);
      if (waiters.size === 0 && this.#waiters.get(key) === waiters) this.#waiters.delete(key);
    }
  }

  /**
   * The host is stopping: long-polls end now (503 SHUTTING_DOWN while their future is still
   * pending), rather than hold up the stop for up to their whole wait.
   */
  stopWaiting(): void {
    this.#stopping = true;
    for (const waiters of this.#waiters.values()) for (const w of waiters) w();
  }

  close(): void {
    this.#unlisten();
  }
}
