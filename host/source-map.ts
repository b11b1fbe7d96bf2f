// The guest's source map: asc's (Binaryen's) source map of a module, which `cloudburst build`
// embeds in the module's SOURCE_MAP_SECTION custom section. A wasm source map has one
// generated line, and its "columns" are byte offsets in the module: the offsets V8 shows in
// a trap's stack (`wasm-function[20]:0xfea`). The host decodes it at upload (an upload is
// hostile: every field is checked and bounded, a bad map refuses the module) into a compact
// index a worker looks offsets up in when a call traps or aborts (guest-stack.ts).
import { CloudburstError } from '../common/index.ts';

/** Bounds of what the host accepts in a source map section (documented in guest/README.md, "Source positions"). */
export const SOURCE_MAP_LIMITS = {
  /** The section's bytes: asc's map of a small module is a few KiB once its sources' text is left out. */
  maxBytes: 1024 * 1024,
  /** Entries of `sources`. */
  maxSources: 4096,
  /** Characters of one source's name. */
  maxSourceName: 512,
} as const;

/** What a file name starts with when it is AssemblyScript's standard library (the SDK included). */
export const LIBRARY_PREFIX = '~lib/';

/**
 * A decoded map, as plain data (typed arrays and strings) so that it crosses to the executor
 * threads with the module's spec. Segment `i` covers module offsets from `offsets[i]` up to
 * the next segment's; `source[i]` is -1 for a segment that maps to nothing.
 */
export interface SourceMapIndex {
  sources: string[];
  offsets: Uint32Array;
  source: Int32Array;
  /** 0-based, as in the map. */
  line: Uint32Array;
  /** 0-based, as in the map. */
  column: Uint32Array;
  /** Where each function body starts (WasmShape.bodyStarts): a lookup that walks back stays in its function. */
  bodyStarts: Uint32Array;
}

/** A position in a source file: 1-based line and column, the way asc's diagnostics print them. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i;
/** A VLQ digit's continuation bit, and its value bits. */
const VLQ_CONTINUE = 32;
const VLQ_MASK = 31;
/** Digits of one VLQ value: 7 x 5 bits hold 32 bits and the sign. */
const VLQ_MAX_DIGITS = 7;
const INT32_MAX = 2 ** 31 - 1;

function malformed(why: string): never {
  throw new CloudburstError('INVALID_WASM', `the module's source map is malformed: ${why} (rebuild it with \`cloudburst build\`, or upload it without the section)`);
}

/**
 * Decodes the `mappings` of a wasm source map into segments. Each segment is 1, 4 or 5 VLQ
 * fields (offset; source, line, column; name), each a delta from the previous segment's.
 * Throws `INVALID_WASM` for anything out of shape: a second generated line, a bad digit, a
 * value over 32 bits, a source index out of range, a negative line or column, offsets that go
 * backwards.
 *
 * @example
 * decodeMappings('gBAAA,EAAC', 1); // offsets [16, 18], source [0, 0], line [0, 1], column [0, 0]
 */
export function decodeMappings(mappings: string, sourceCount: number): Omit<SourceMapIndex, 'sources' | 'bodyStarts'> {
  if (mappings.includes(';')) malformed('a wasm source map has one generated line, this one has several');
  // Each segment takes two characters at least (a field and a comma): no array grows past this.
  const most = Math.ceil((mappings.length + 1) / 2);
  const offsets = new Uint32Array(most);
  const source = new Int32Array(most);
  const line = new Uint32Array(most);
  const column = new Uint32Array(most);
  const fields = [0, 0, 0, 0, 0];
  let n = 0;
  let at = 0;
  let offset = 0;
  let src = 0;
  let ln = 0;
  let col = 0;
  while (at < mappings.length) {
    let count = 0;
    while (at < mappings.length && mappings.charCodeAt(at) !== 0x2c /* , */) {
      if (count === 5) malformed(`a segment of the mappings has more than 5 fields (at character ${at})`);
      let value = 0;
      let digits = 0;
      for (;;) {
        const code = mappings.charCodeAt(at++);
        const digit = code < 128 ? BASE64_VALUE[code]! : -1;
        if (digit < 0) malformed(`the mappings hold a character that is not base64 (at character ${at - 1})`);
        if (++digits > VLQ_MAX_DIGITS) malformed(`a number of the mappings is too long (at character ${at - 1})`);
        value += (digit & VLQ_MASK) * 2 ** (5 * (digits - 1));
        if ((digit & VLQ_CONTINUE) === 0) break;
        if (at >= mappings.length) malformed('the mappings end inside a number');
      }
      const magnitude = Math.floor(value / 2);
      if (magnitude > INT32_MAX) malformed(`a number of the mappings does not fit 32 bits (at character ${at - 1})`);
      fields[count++] = value % 2 === 1 ? -magnitude : magnitude;
    }
    at++; // the comma (or the end)
    if (count === 0) malformed(`an empty segment in the mappings (at character ${at - 1})`);
    if (count !== 1 && count !== 4 && count !== 5) malformed(`a segment of the mappings has ${count} fields (1, 4 or 5 are allowed)`);
    offset += fields[0]!;
    if (fields[0]! < 0 && n > 0) malformed(`the mappings go backwards (to offset ${offset})`);
    if (offset < 0 || offset > 0xffffffff) malformed(`an offset of the mappings is out of range (${offset})`);
    offsets[n] = offset;
    if (count === 1) {
      source[n] = -1;
    } else {
      src += fields[1]!;
      ln += fields[2]!;
      col += fields[3]!;
      if (src < 0 || src >= sourceCount) malformed(`a segment names source ${src}, but the map has ${sourceCount}`);
      if (ln < 0 || col < 0 || ln > INT32_MAX || col > INT32_MAX) malformed(`a segment has line ${ln + 1}, column ${col + 1}`);
      source[n] = src;
      line[n] = ln;
      column[n] = col;
    }
    n++;
  }
  return { offsets: offsets.slice(0, n), source: source.slice(0, n), line: line.slice(0, n), column: column.slice(0, n) };
}

/**
 * Reads a source map section (bytes of UTF-8 JSON, version 3) into an index. Throws
 * `INVALID_WASM` with what is wrong: over the size limit, not UTF-8 or JSON, fields of the
 * wrong type, too many or too long sources, bad mappings. `names` and `sourcesContent` are
 * ignored (function names come from the module's name section, through V8's stack).
 *
 * @example
 * const index = readSourceMap(section, readWasm(bytes).bodyStarts);
 * lookup(index, 0xfea); // { file: 'index.ts', line: 5, column: 10, user: true } (or a ~lib file)
 */
export function readSourceMap(section: Uint8Array, bodyStarts: readonly number[]): SourceMapIndex {
  if (section.byteLength > SOURCE_MAP_LIMITS.maxBytes) {
    malformed(`the section has ${section.byteLength} bytes, over the limit of ${SOURCE_MAP_LIMITS.maxBytes}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(section));
  } catch {
    malformed('the section is not UTF-8 JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) malformed('the section is not a JSON object');
  const { version, sources, mappings } = json as Record<string, unknown>;
  if (version !== 3) malformed(`version ${JSON.stringify(version)} (3 is supported)`);
  if (!Array.isArray(sources) || sources.length > SOURCE_MAP_LIMITS.maxSources) {
    malformed(`"sources" must be a list of at most ${SOURCE_MAP_LIMITS.maxSources} names`);
  }
  for (const s of sources) {
    if (typeof s !== 'string' || s.length === 0 || s.length > SOURCE_MAP_LIMITS.maxSourceName || /[\u0000-\u001f\u007f]/.test(s)) {
      malformed(`a source name must be 1 to ${SOURCE_MAP_LIMITS.maxSourceName} characters without control characters`);
    }
  }
  if (typeof mappings !== 'string') malformed('"mappings" must be a string');
  return { sources: sources as string[], ...decodeMappings(mappings, sources.length), bodyStarts: Uint32Array.from(bodyStarts) };
}

/** The index of the last element of a sorted array at or below `value`, or -1. */
function floorIndex(sorted: Uint32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= value) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

function position(index: SourceMapIndex, i: number): SourcePosition {
  return { file: index.sources[index.source[i]!]!, line: index.line[i]! + 1, column: index.column[i]! + 1 };
}

export const isLibrary = (file: string): boolean => file.startsWith(LIBRARY_PREFIX);

/**
 * What a module offset maps to: `at`, the nearest mapped segment at or before it in the same
 * function (V8 reports a frame at its call or trapping instruction, which Binaryen often
 * leaves unmapped: the segment before it is the expression it belongs to), and `user`, the
 * position in the user's sources: `at` itself when that is not a `~lib/` file, else the
 * nearest user position before it in the same function: where the optimizer inlined a
 * library function (Array's `[]`, an assertion), that is the user's expression that called
 * it. `user` is undefined when the function has none (library code: the caller's frame has
 * the user's position); both are undefined when nothing in the function is mapped.
 *
 * @example
 * lookup(index, 0xfea); // { at: { file: '~lib/array.ts', line: 114, column: 63 }, user: { file: 'traps.ts', line: 5, column: 10 } }
 */
export function lookup(index: SourceMapIndex, offset: number): { at?: SourcePosition; user?: SourcePosition } {
  const bodyAt = floorIndex(index.bodyStarts, offset);
  const bodyStart = bodyAt < 0 ? 0 : index.bodyStarts[bodyAt]!;
  let at: SourcePosition | undefined;
  for (let i = floorIndex(index.offsets, offset); i >= 0 && index.offsets[i]! >= bodyStart; i--) {
    if (index.source[i]! < 0) continue;
    const p = position(index, i);
    at ??= p;
    if (!isLibrary(p.file)) return { at, user: p };
  }
  return at ? { at } : {};
}
