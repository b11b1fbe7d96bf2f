import { randomBytes } from 'node:crypto';
import { CloudburstError } from '../../common/index.ts';

/**
 * The on-disk format of one outbox record (`outbox-v2`): one record per commit, naming every
 * key the commit wrote.
 *
 * Its id (the LMDB key, 14 bytes) is the commit's wall-clock millisecond (6 bytes, big
 * endian, so that records sort oldest first), the id of the `HostCache` instance that wrote
 * it (4 random bytes: every thread has its own instance) and that instance's counter (4
 * bytes). Ids are unique without reading anything at commit time (a commit pays no cursor
 * read for the last id); the order is the commit order up to ties within a millisecond
 * between threads and clock steps, which only change which record the flusher takes first.
 *
 * Its value is the list of keys: each one a u32 (little endian) byte length and the key's
 * UTF-8 bytes.
 *
 * @example
 * const ids = new RecordIds();
 * db.putSync(ids.next(), encodeKeys(['default/k/a', 'default/k/b'], scratch));
 */
export const RECORD_ID_BYTES = 14;
/** Where the instance part of an id starts (after the 6-byte time). */
const INSTANCE_AT = 6;
const COUNTER_AT = 10;
/** Bytes of a key's length prefix. */
const LEN_BYTES = 4;

/** Makes the ids of one instance's records (see the file's comment). */
export class RecordIds {
  readonly #id = Buffer.alloc(RECORD_ID_BYTES);
  #counter = 0;

  constructor() {
    randomBytes(4).copy(this.#id, INSTANCE_AT);
  }

  /** The next id, in a buffer reused by the next call (LMDB copies a key at `putSync`). */
  next(now = Date.now()): Buffer {
    this.#id.writeUIntBE(now, 0, 6);
    this.#counter = (this.#counter + 1) >>> 0;
    this.#id.writeUInt32BE(this.#counter, COUNTER_AT);
    return this.#id;
  }
}

/** The smallest id of millisecond `ms`: where a scan for records of that millisecond on starts. */
export function firstIdOf(ms: number): Buffer {
  const id = Buffer.alloc(RECORD_ID_BYTES);
  id.writeUIntBE(Math.max(0, ms), 0, 6);
  return id;
}

/** The millisecond an id was made in. */
export function msOfId(id: Uint8Array): number {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).readUIntBE(0, 6);
}

/** A growing buffer for record values, reused across commits of one thread. */
export class RecordScratch {
  #buf = Buffer.allocUnsafe(4096);

  /** The encoded list of `keys`, valid until the next call (LMDB copies it at `putSync`). */
  encode(keys: Iterable<string>): Buffer {
    let buf = this.#buf;
    let at = 0;
    for (const key of keys) {
      // A UTF-16 unit takes at most 3 UTF-8 bytes.
      const room = LEN_BYTES + key.length * 3;
      if (at + room > buf.length) {
        const grown = Buffer.allocUnsafe(Math.max(buf.length * 2, at + room));
        buf.copy(grown, 0, 0, at);
        buf = this.#buf = grown;
      }
      const n = buf.write(key, at + LEN_BYTES, 'utf8');
      buf.writeUInt32LE(n, at);
      at += LEN_BYTES + n;
    }
    return buf.subarray(0, at);
  }
}

/**
 * The keys of a record's value. Every length is checked against what is left, so a damaged
 * record throws (INTERNAL: the host's own disk is corrupt) instead of reading past its end.
 */
export function decodeKeys(raw: Uint8Array): string[] {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const keys: string[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + LEN_BYTES > buf.length) throw corrupt(at);
    const n = buf.readUInt32LE(at);
    at += LEN_BYTES;
    if (n > buf.length - at) throw corrupt(at);
    keys.push(buf.toString('utf8', at, at + n));
    at += n;
  }
  return keys;
}

function corrupt(at: number): CloudburstError {
  return new CloudburstError('INTERNAL', `an outbox record is damaged at byte ${at} (the host's cache folder is corrupt)`);
}
