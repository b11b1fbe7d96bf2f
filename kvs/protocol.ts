/**
 * The wire format of a KV node, in one place: routes, limits, headers, content types, key
 * rules and the batch frame. Server and client both import from here; nothing else defines
 * a path or a limit.
 */
import { Buffer } from 'node:buffer';
import { CloudburstError, JSON_CONTENT_TYPE } from '../common/index.ts';
import { ByteReader, ByteWriter, isWellFormed } from './lattice/bytes.ts';

/**
 * Size limits. Bodies over a limit are rejected while they stream in, never buffered whole.
 *
 * @example
 * if (bytes.byteLength > KV_LIMITS.maxValueBytes) throw new CloudburstError('KV_VALUE_TOO_LARGE');
 */
export const KV_LIMITS = {
  /** A key is 1..1024 bytes of UTF-8. */
  maxKeyBytes: 1024,
  /** One encoded lattice, as sent in a PUT and as stored after a merge. */
  maxValueBytes: 64 * 1024 * 1024,
  /**
   * The bytes of one register value that hosts accept (`put`, `PUT /v1/kv`): the encoding adds
   * a header (stamp, writer id, causal metadata) that must fit in the last KiB. Hosts also
   * check the encoded, merged value against maxValueBytes before they acknowledge a write.
   */
  maxRegisterBytes: 64 * 1024 * 1024 - 1024,
  /** Any request body (the batch routes). */
  maxBodyBytes: 128 * 1024 * 1024,
  /** Entries of one batch merge frame, keys of one batch get. */
  maxBatchEntries: 10_000,
} as const;

/**
 * The paths of a KV node. Keys go URL-encoded (encodeURIComponent) after `keys`.
 *
 * @example
 * `${url}${KV_PATHS.healthz}`
 */
export const KV_PATHS = {
  keys: '/kv/v1/keys/',
  batchMerge: '/kv/v1/batch/merge',
  batchGet: '/kv/v1/batch/get',
  healthz: '/kv/v1/healthz',
  /** 200 once the node joined its ring and caught up with its replicas; 503 before and while it stops. */
  readyz: '/kv/v1/readyz',
  stats: '/kv/v1/stats',
  ring: '/kv/v1/ring',
  ringRemove: '/kv/v1/ring/remove',
  subscriptions: '/kv/v1/subscriptions',
  // Node to node (kvs/cluster): not for clients.
  gossip: '/kv/v1/cluster/gossip',
  push: '/kv/v1/cluster/push',
  digest: '/kv/v1/cluster/digest',
  repair: '/kv/v1/cluster/repair',
  sync: '/kv/v1/cluster/sync',
} as const;

/**
 * Where a KV node pushes changes of subscribed keys, under the subscriber's base URL: a
 * `POST` with a merge frame body (key + encoded merged lattice per entry).
 *
 * @example
 * `${subscriber}${SUBSCRIBER_PUSH_PATH}` // http://127.0.0.1:7070/v1/internal/kv/push
 */
export const SUBSCRIBER_PUSH_PATH = '/v1/internal/kv/push';

/**
 * The routes table: what the server serves and the router (common/router.ts, in `raw` mode)
 * matches. `*key` matches the rest of the path, as sent: the handler decodes the key. A new
 * route is a row here plus a handler in server.ts (or cluster/routes.ts). `access`: `open`
 * routes answer anyone; `cluster` routes only a request signed with the cluster credential
 * (kvs/README.md, "Authentication"), checked before the body is read.
 *
 * @example
 * KV_ROUTES.find((r) => r.name === 'getKey')!.method // 'GET'
 */
export const KV_ROUTES = [
  { name: 'getKey', method: 'GET', path: `${KV_PATHS.keys}*key`, access: 'cluster' },
  { name: 'mergeKey', method: 'PUT', path: `${KV_PATHS.keys}*key`, access: 'cluster' },
  { name: 'batchMerge', method: 'POST', path: KV_PATHS.batchMerge, access: 'cluster' },
  { name: 'batchGet', method: 'POST', path: KV_PATHS.batchGet, access: 'cluster' },
  { name: 'healthz', method: 'GET', path: KV_PATHS.healthz, access: 'open' },
  { name: 'readyz', method: 'GET', path: KV_PATHS.readyz, access: 'open' },
  { name: 'stats', method: 'GET', path: KV_PATHS.stats, access: 'cluster' },
  { name: 'ring', method: 'GET', path: KV_PATHS.ring, access: 'cluster' },
  { name: 'ringRemove', method: 'POST', path: KV_PATHS.ringRemove, access: 'cluster' },
  { name: 'subscriptions', method: 'POST', path: KV_PATHS.subscriptions, access: 'cluster' },
  { name: 'gossip', method: 'POST', path: KV_PATHS.gossip, access: 'cluster' },
  { name: 'push', method: 'POST', path: KV_PATHS.push, access: 'cluster' },
  { name: 'digest', method: 'POST', path: KV_PATHS.digest, access: 'cluster' },
  { name: 'repair', method: 'POST', path: KV_PATHS.repair, access: 'cluster' },
  { name: 'sync', method: 'POST', path: KV_PATHS.sync, access: 'cluster' },
] as const;

/**
 * One row of KV_ROUTES, and the names handlers are keyed by.
 *
 * @example
 * const handlers: Record<KvRouteName, Handler> = { getKey, mergeKey, ... };
 */
export type KvRoute = (typeof KV_ROUTES)[number];
export type KvRouteName = KvRoute['name'];

/**
 * Content types: lattices and frames travel as raw bytes, everything else as JSON.
 *
 * @example
 * res.setHeader('content-type', KV_CONTENT_TYPES.lattice);
 */
export const KV_CONTENT_TYPES = {
  lattice: 'application/octet-stream',
  frame: 'application/octet-stream',
  json: JSON_CONTENT_TYPE,
} as const;

/**
 * Headers of the KV protocol. `node` names the node that answered. `ringVersion` is on every
 * response (the node's ring) and on clients' writes (theirs): a client whose version differs
 * refreshes its ring. `from` names the sending node on node-to-node routes; `buckets` lists
 * anti-entropy buckets; `next` is the cursor of a paged sync.
 *
 * @example
 * res.headers[KV_HEADERS.node]
 */
export const KV_HEADERS = {
  node: 'x-cloudburst-kv-node',
  ringVersion: 'x-cloudburst-ring-version',
  from: 'x-cloudburst-kv-from',
  buckets: 'x-cloudburst-buckets',
  next: 'x-cloudburst-next',
  /** On a batch merge: the writer's subscriber URL; a commit of exactly what it sent is not pushed back to it. */
  origin: 'x-cloudburst-kv-origin',
  /**
   * On a push to a subscriber: when (ms since the epoch, the KV node's clock) the oldest change
   * in the batch was merged, so the subscriber can tell how late changes reach it.
   */
  changedAt: 'x-cloudburst-changed-at',
} as const;

/**
 * valLen of a frame entry whose key has no value (batch get responses only).
 *
 * @example
 * if (len === FRAME_MISSING) results.push(undefined);
 */
export const FRAME_MISSING = 0xffffffff;

/**
 * Checks a key: a string of 1..1024 bytes of UTF-8 (no lone surrogates).
 *
 * @throws CloudburstError `INVALID_KEY`
 * @example
 * const key = checkKey(decodeURIComponent(raw));
 */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw new CloudburstError('INVALID_KEY', 'the key must be a non-empty string');
  // Each UTF-16 unit is at least one UTF-8 byte: a cheap reject before measuring.
  if (key.length > KV_LIMITS.maxKeyBytes || Buffer.byteLength(key, 'utf8') > KV_LIMITS.maxKeyBytes) {
    throw new CloudburstError('INVALID_KEY', `the key is over ${KV_LIMITS.maxKeyBytes} bytes of UTF-8`);
  }
  if (!isWellFormed(key)) throw new CloudburstError('INVALID_KEY', 'the key is not valid UTF-8 (lone surrogate)');
  return key;
}

/**
 * The path of a key's resource.
 *
 * @example
 * keyPath('default/k/a b') // '/kv/v1/keys/default%2Fk%2Fa%20b'
 */
export function keyPath(key: string): string {
  return KV_PATHS.keys + encodeURIComponent(checkKey(key));
}

/**
 * One entry of a batch frame; `value` undefined is a missing value (FRAME_MISSING).
 *
 * @example
 * const e: FrameEntry = { key: 'default/k/a', value: encode(v) };
 */
export interface FrameEntry {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

function badFrame(message: string): CloudburstError {
  return new CloudburstError('INVALID_REQUEST', `malformed batch frame: ${message}`);
}

/**
 * Encodes a batch frame: repeated `[keyLen u16 LE][key UTF-8][valLen u32 LE][val]`, with
 * valLen 0xFFFFFFFF (and no bytes) for a missing value.
 *
 * @throws CloudburstError `INVALID_KEY` for a key that does not fit a u16 length.
 * @example
 * const body = encodeFrame([{ key: 'a', value: encode(v) }]);
 */
export function encodeFrame(entries: readonly FrameEntry[]): Uint8Array {
  let size = 0;
  const keyLens = new Array<number>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const { key, value } = entries[i]!;
    if (!isWellFormed(key)) throw new CloudburstError('INVALID_KEY', 'the key is not valid UTF-8 (lone surrogate)');
    const n = Buffer.byteLength(key, 'utf8');
    if (n > 0xffff) throw new CloudburstError('INVALID_KEY', `a frame key is limited to 65535 bytes, got ${n}`);
    if (value && value.byteLength >= FRAME_MISSING) throw new CloudburstError('KV_VALUE_TOO_LARGE');
    keyLens[i] = n;
    size += 6 + n + (value ? value.byteLength : 0);
  }
  const w = new ByteWriter(size);
  for (let i = 0; i < entries.length; i++) {
    const { key, value } = entries[i]!;
    w.u16(keyLens[i]!);
    w.utf8(key, keyLens[i]!);
    if (value) {
      w.u32(value.byteLength);
      w.bytes(value);
    } else {
      w.u32(FRAME_MISSING);
    }
  }
  return w.finish();
}

/**
 * Decodes a batch frame. Values are views into `bytes` (decode them before reusing it). Keys
 * are only checked to be UTF-8 here: length rules are per entry (`checkKey`), so one bad key
 * fails its entry, not the batch.
 *
 * @throws CloudburstError `INVALID_REQUEST` when the frame is truncated, a key is not UTF-8,
 *   or it has more than `maxEntries` entries.
 * @example
 * for (const { key, value } of decodeFrame(body)) { ... }
 */
export function decodeFrame(bytes: Uint8Array, maxEntries: number = KV_LIMITS.maxBatchEntries): FrameEntry[] {
  const r = new ByteReader(bytes, badFrame);
  const entries: FrameEntry[] = [];
  while (r.remaining > 0) {
    if (entries.length >= maxEntries) throw badFrame(`more than ${maxEntries} entries`);
    const key = r.utf8(r.u16('key length'), 'key');
    const len = r.u32('value length');
    entries.push({ key, value: len === FRAME_MISSING ? undefined : r.view(len, 'value') });
  }
  return entries;
}
