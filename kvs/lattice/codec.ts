/**
 * The binary encoding of lattice values: byte 0 codec version (1), byte 1 type tag, then the
 * type's payload (layouts in each type's file and in kvs/README.md). Canonical: equal values
 * encode to identical bytes, and decode rejects anything encode would not produce.
 */
import { CloudburstError } from '../../common/index.ts';
import { badValue, ByteReader, ByteWriter } from './bytes.ts';
import type { LatticeKind } from './kind.ts';
import { kindByTag, kindOf, type Lattice, type LatticeType } from './registry.ts';

/**
 * Byte 0 of every encoded lattice. A new layout gets a new version; decode rejects others.
 *
 * @example
 * bytes[0] === CODEC_VERSION
 */
export const CODEC_VERSION = 1;
const HEADER_BYTES = 2;

/**
 * Encodes a lattice canonically.
 *
 * @throws CloudburstError `KV_BAD_VALUE` when the value breaks its type's invariants
 *   (unsorted set, out-of-range stamp...), `KV_UNKNOWN_TYPE` for an unknown type.
 * @example
 * const bytes = encode(lww.write(new Uint8Array([1, 2]), hlc.now()));
 */
export function encode(l: Lattice): Uint8Array {
  const kind = kindOf(l.type);
  const w = new ByteWriter(HEADER_BYTES + kind.payloadSize(l));
  w.u8(CODEC_VERSION);
  w.u8(kind.tag);
  kind.writePayload(w, l);
  return w.finish();
}

function header(r: ByteReader, bytes: unknown): LatticeKind<Lattice> {
  if (!(bytes instanceof Uint8Array)) throw badValue('an encoded lattice must be a Uint8Array');
  if (r.remaining < HEADER_BYTES) throw badValue(`an encoded lattice needs at least ${HEADER_BYTES} bytes`);
  const version = r.u8('version');
  if (version !== CODEC_VERSION) throw badValue(`unsupported lattice codec version ${version}`);
  const tag = r.u8('tag');
  const kind = kindByTag(tag);
  if (!kind) throw new CloudburstError('KV_UNKNOWN_TYPE', `unknown lattice type tag ${tag}`);
  return kind;
}

/**
 * Decodes an encoded lattice. Safe on hostile input: lengths are bounds-checked before any
 * copy, and non-canonical encodings (unsorted or duplicate members, trailing bytes) are
 * rejected. The result never aliases `bytes`. Byte arrays in the result (LWW values, set
 * members) are Buffers; small ones are views into Node's shared Buffer pool, so always use
 * them with their byteOffset/byteLength and never transfer or reinterpret their `.buffer`.
 *
 * @throws CloudburstError `KV_UNKNOWN_TYPE` (unknown tag) or `KV_BAD_VALUE` (anything else).
 * @example
 * const value = decode(await res.body.bytes());
 */
export function decode(bytes: Uint8Array): Lattice {
  const r = new ByteReader(bytes instanceof Uint8Array ? bytes : new Uint8Array(0));
  const kind = header(r, bytes);
  const l = kind.readPayload(r);
  r.end();
  return l;
}

/**
 * Reads only the header: the type of an encoded lattice.
 *
 * @throws CloudburstError like `decode` for a bad header.
 * @example
 * if (peekType(bytes) !== 'counter') throw new CloudburstError('KV_TYPE_MISMATCH');
 */
export function peekType(bytes: Uint8Array): LatticeType {
  const r = new ByteReader(bytes instanceof Uint8Array ? bytes : new Uint8Array(0));
  return header(r, bytes).type;
}
