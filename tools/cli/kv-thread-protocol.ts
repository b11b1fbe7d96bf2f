/**
 * What the host's main thread and the embedded KV node's thread (kv-thread.ts) say to each
 * other: one start, one ready or failed, one close and its answer. Errors cross as plain
 * records (structured clone keeps an Error's message but not a CloudburstError's code) and are
 * made again on the other side, so a KV node that cannot start fails `cloudburst up` with the
 * same error as when it ran on the main thread (e.g. EADDRINUSE for a busy --kvs-port).
 */
import { CloudburstError, isErrorCode } from '../../common/index.ts';
import type { FsyncPolicy } from '../../kvs/index.ts';

/** The thread's workerData: the KvNodeOptions `cloudburst up` gives its KV node. */
export interface KvThreadInit {
  dataDir: string;
  port: number;
  fsync?: FsyncPolicy;
  ca?: Uint8Array;
  clusterSecret?: Uint8Array;
  insecure?: boolean;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** A CloudburstError's code, or a system error's (EADDRINUSE). */
  code?: string;
  details?: Record<string, unknown>;
}

/** From the KV thread to the main thread. */
export type KvThreadMessage =
  | { type: 'ready'; url: string; port: number; nodeId: string }
  | { type: 'failed'; error: SerializedError }
  | { type: 'closed'; error?: SerializedError };

/** From the main thread to the KV thread. */
export type KvThreadRequest = { type: 'close' };

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const e = err as Error & { code?: unknown; details?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(e.stack !== undefined ? { stack: e.stack } : {}),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(e.details && typeof e.details === 'object' ? { details: e.details as Record<string, unknown> } : {}),
  };
}

export function deserializeError(s: SerializedError): Error {
  const err = s.name === 'CloudburstError' && isErrorCode(s.code)
    ? new CloudburstError(s.code, s.message, s.details)
    : Object.assign(new Error(s.message), s.code !== undefined ? { code: s.code } : {});
  if (s.stack !== undefined) err.stack = s.stack;
  return err;
}
