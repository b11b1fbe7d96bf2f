// Where in the user's code a guest trapped or aborted: the wasm frames of a V8 stack
// (`at traps/outOfBounds (wasm://wasm/5280ef7e:wasm-function[20]:0xfea)`), each offset
// mapped through the module's source map (host/source-map.ts), and the innermost frame in
// the user's sources (not `~lib/`) picked for the error's message.
import { lookup, type SourceMapIndex, type SourcePosition } from '../source-map.ts';

/**
 * How many frames V8 records in an Error's stack in an executor thread (its default is 10:
 * a trap deep in the standard library would lose the user's frames). Set by worker.ts.
 */
export const GUEST_STACK_FRAMES = 32;
/** Frames kept in an error's `stack` detail. */
const MAX_FRAMES = 32;
/** Characters of a function name kept (the name section is the uploader's). */
const MAX_NAME = 128;

/** One frame of `details.stack`: where it maps (absent without a map) and the module offset. */
export interface GuestFrame {
  file?: string;
  line?: number;
  column?: number;
  function?: string;
  /** The byte offset in the module, as V8 shows it (`0xfea`). */
  offset: string;
}

export interface GuestWhere {
  /** `at traps.ts:5:10 (outOfBounds)`: the innermost frame in the user's sources; absent without a map, or when no frame is the user's. */
  where?: string;
  /** Every wasm frame, innermost first. */
  stack: GuestFrame[];
}

// `    at NAME (wasm://wasm/HASH:wasm-function[N]:0xOFF)` or, without a name section, `    at wasm://wasm/HASH:wasm-function[N]:0xOFF`.
const WASM_FRAME = /^\s*at (?:(.*) \()?wasm:\/\/wasm\/[^\s:]*:wasm-function\[\d+\]:0x([0-9a-f]{1,8})\)?$/;

/**
 * The name to show for a function of the name section: asc names functions after their file
 * (`traps/outOfBounds`, `export:traps/fail`, `~lib/array/Array<i32>#__get`); the file is in
 * the position already.
 *
 * @example
 * functionName('export:traps/fail'); // 'fail'
 * functionName('~lib/map/Map<~lib/string/String,i32>#get'); // 'Map<~lib/string/String,i32>#get'
 */
export function functionName(raw: string): string {
  // eslint-disable-next-line no-control-regex
  let name = raw.replace(/[\u0000-\u001f\u007f]/g, '').replace(/^export:/, '');
  const generic = name.indexOf('<');
  const head = generic < 0 ? name : name.slice(0, generic);
  const slash = head.lastIndexOf('/');
  if (slash >= 0) name = name.slice(slash + 1);
  return name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}...` : name;
}

/**
 * Maps the wasm frames of `stack` (an Error's `.stack`) through `index`.
 *
 * @example
 * guestWhere(err.stack, spec.sourceMap);
 * // { where: 'at traps.ts:5:10 (outOfBounds)', stack: [{ file: '~lib/array.ts', line: 114, column: 63, function: 'outOfBounds', offset: '0xfea' }] }
 */
export function guestWhere(stack: string | undefined, index: SourceMapIndex | undefined): GuestWhere {
  const frames: GuestFrame[] = [];
  let where: string | undefined;
  for (const text of (stack ?? '').split('\n')) {
    if (frames.length >= MAX_FRAMES) break;
    const m = WASM_FRAME.exec(text);
    if (!m) continue;
    const offset = Number.parseInt(m[2]!, 16);
    const fn = m[1] ? functionName(m[1]) : undefined;
    const found = index ? lookup(index, offset) : {};
    const frame: GuestFrame = { ...(found.at ?? {}), ...(fn ? { function: fn } : {}), offset: `0x${offset.toString(16)}` };
    frames.push(frame);
    if (where === undefined && found.user) where = describe(found.user, fn);
  }
  return where === undefined ? { stack: frames } : { where, stack: frames };
}

/** `at index.ts:12:5 (greet)`, the suffix of a trap's or abort's message. */
export function describe(p: SourcePosition, fn: string | undefined): string {
  return `at ${p.file}:${p.line}:${p.column}${fn ? ` (${fn})` : ''}`;
}
