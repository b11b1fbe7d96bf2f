/**
 * The "cloudburst.types" custom section (TYPES_SECTION in ./abi.ts): which exports of a guest
 * the host may call, with their parameter and result types. The one contract of the section:
 * its type lists, its limits, its reader ({@link readTypesSection}, used by the build and by
 * the registry on every upload) and its writer ({@link encodeTypesSection}). The section is
 * written at build time by the asc transform tools/build/types-transform.js, plain JS that
 * Node loads without TypeScript, so it keeps its own copy of the lists and limits;
 * test/guest/types-contract.unit.test.ts checks that copy against this file, and that the
 * section of every built test guest is what encodeTypesSection writes for it, byte for byte.
 *
 * An upload is untrusted input: the reader checks every field and refuses with
 * `MISSING_TYPES`, so the build and the host refuse the very same sections.
 *
 * @example
 * const types = readTypesSection(await readFile('build/guests/math.wasm'));
 * // { version: 1,
 * //   exports: [{ name: 'increment', params: [{ name: 'x', type: 'i64' }], result: 'i64' }, ...],
 * //   skipped: [], classIds: {} }
 */

import { CloudburstError } from '../common/index.ts';
import { RUNTIME_EXPORTS, TYPES_SECTION, TYPES_VERSION } from './abi.ts';

/** Scalar types, passed as wasm values. `usize`/`isize` appear as `u32`/`i32` (wasm32), `bool` travels as an i32 0 or 1. */
export const SCALAR_TYPES = ['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f32', 'f64', 'bool'] as const;

/** Typed arrays, passed as asc ArrayBufferView objects in guest memory; the host allocates them by class id. */
export const ARRAY_TYPES = [
  'Uint8Array', 'Int8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
  'Uint32Array', 'Int64Array', 'Uint64Array', 'Float32Array', 'Float64Array',
] as const;

/** Parameter types: the scalars, `string` (an asc String, class id 2) and the typed arrays. */
export const VALUE_TYPES = [...SCALAR_TYPES, 'string', ...ARRAY_TYPES] as const;

/** Result types: any parameter type, or `void`. */
export const RESULT_TYPES = [...VALUE_TYPES, 'void'] as const;

export type ScalarType = (typeof SCALAR_TYPES)[number];
export type ArrayType = (typeof ARRAY_TYPES)[number];
export type ValueType = (typeof VALUE_TYPES)[number];
export type ResultType = (typeof RESULT_TYPES)[number];

/** Most parameters a callable export may take. */
export const MAX_PARAMS = 32;

/** Names of callable exports and of their parameters: ASCII identifiers of at most 128 characters. */
export const NAME_PATTERN = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;

/** Export names with this prefix belong to asc's runtime (`__new`, `__pin`...): never callable. */
export const RESERVED_PREFIX = '__';

/**
 * Largest runtime class id a section may give. Ids 0-2 are Object, ArrayBuffer and String in
 * every asc program, so a typed array's id is at least 3; a million classes is no real program.
 */
export const MAX_CLASS_ID = 0xf_ffff;

/** One export the host can call. */
export interface ExportSignature {
  name: string;
  params: { name: string; type: ValueType }[];
  result: ResultType;
}

/** An exported function the host must refuse to call, and why (shown to the author). */
export interface SkippedExport {
  name: string;
  reason: string;
}

/** The decoded section. */
export interface GuestTypes {
  version: typeof TYPES_VERSION;
  /** In declaration order. */
  exports: ExportSignature[];
  skipped: SkippedExport[];
  /** Runtime class id (asc's `idof<T>()`) of each typed array an export takes or returns, for `__new(12, id)`. */
  classIds: Partial<Record<ArrayType, number>>;
}

/** A section the reader refuses (or the writer will not write), naming the first problem. */
function refuse(problem: string, options?: { cause?: unknown }): never {
  throw new CloudburstError('MISSING_TYPES', `${TYPES_SECTION}: ${problem}`, undefined, options);
}

export function isArrayType(type: string): type is ArrayType {
  return (ARRAY_TYPES as readonly string[]).includes(type);
}

/**
 * Reads and validates the types section of a module, or returns undefined when it has none (a
 * module not built by `cloudburst build`). Besides the section's own rules, every name it
 * lists must be an exported function of the module, and a module whose callable exports pass
 * strings or arrays must export asc's runtime (RUNTIME_EXPORTS). Throws a `MISSING_TYPES`
 * error naming the first problem.
 *
 * @example
 * readTypesSection(await readFile('build/guests/math.wasm'))?.exports.map(e => e.name); // ['increment', 'square']
 */
export function readTypesSection(wasm: BufferSource | WebAssembly.Module): GuestTypes | undefined {
  const module = wasm instanceof WebAssembly.Module ? wasm : new WebAssembly.Module(wasm);
  const sections = WebAssembly.Module.customSections(module, TYPES_SECTION);
  if (sections.length === 0) return undefined;
  if (sections.length > 1) refuse(`${sections.length} sections, expected one`);
  const types = decodeTypesSection(new Uint8Array(sections[0]!));

  const functions = new Set(WebAssembly.Module.exports(module).filter(e => e.kind === 'function').map(e => e.name));
  for (const { name } of [...types.exports, ...types.skipped]) {
    if (!functions.has(name)) refuse(`${name} is not an exported function of the module`);
  }
  const passesObjects = types.exports.some(e => [...e.params.map(p => p.type), e.result].some(t => t === 'string' || isArrayType(t)));
  if (passesObjects) {
    for (const fn of RUNTIME_EXPORTS.map(signature => signature.slice(0, signature.indexOf('(')))) {
      if (!functions.has(fn)) refuse(`the exports take or return strings or arrays, but the module does not export ${fn} (build with --exportRuntime)`);
    }
  }
  return types;
}

/**
 * Decodes and validates the bytes of a types section (UTF-8 JSON).
 *
 * @example
 * decodeTypesSection(encodeTypesSection(types)); // deep-equals types
 */
export function decodeTypesSection(bytes: Uint8Array): GuestTypes {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    refuse('not UTF-8 JSON', { cause });
  }
  return parseGuestTypes(json);
}

/**
 * The bytes of a types section: canonical JSON (fields in the order of {@link GuestTypes},
 * classIds sorted by name), the layout the transform writes. Validates first (a
 * `MISSING_TYPES` error for what {@link decodeTypesSection} would refuse), so what it writes
 * decodes back to the same value.
 *
 * @example
 * encodeTypesSection({ version: 1, exports: [], skipped: [], classIds: {} });
 * // the UTF-8 of {"version":1,"exports":[],"skipped":[],"classIds":{}}
 */
export function encodeTypesSection(types: GuestTypes): Uint8Array<ArrayBuffer> {
  const canonical = parseGuestTypes(types);
  canonical.classIds = Object.fromEntries(Object.entries(canonical.classIds).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return new TextEncoder().encode(JSON.stringify(canonical));
}

/**
 * Validates the decoded JSON of a types section and returns it with only the fields of
 * {@link GuestTypes}, in their documented order.
 *
 * @example
 * parseGuestTypes({ version: 1, exports: [], skipped: [], classIds: {} });
 */
export function parseGuestTypes(json: unknown): GuestTypes {
  if (!isRecord(json)) return refuse('not a JSON object');
  if (json['version'] !== TYPES_VERSION) return refuse(`unsupported version ${String(json['version'])}, expected ${TYPES_VERSION}`);
  // A section may leave out `skipped` and `classIds` when they are empty (hand-made sections
  // did before the build's reader and the host's became one); the writer always writes them.
  const { exports, skipped = [], classIds = {} } = json;
  if (!Array.isArray(exports)) return refuse('exports is not an array');
  if (!Array.isArray(skipped)) return refuse('skipped is not an array');
  if (!isRecord(classIds)) return refuse('classIds is not an object');

  const names = new Set<string>();
  const unique = (name: string): string => {
    if (names.has(name)) refuse(`export ${name} is listed twice`);
    names.add(name);
    return name;
  };

  const callable = exports.map((entry: unknown, i): ExportSignature => {
    if (!isRecord(entry)) return refuse(`exports[${i}] is not an object`);
    const name = entry['name'];
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) return refuse(`exports[${i}] has no valid name (an ASCII identifier of at most 128 characters)`);
    if (name.startsWith(RESERVED_PREFIX)) return refuse(`export ${name}: names starting with ${RESERVED_PREFIX} are reserved for the runtime`);
    unique(name);
    const { params, result } = entry;
    if (!Array.isArray(params)) return refuse(`export ${name}: params is not an array`);
    if (params.length > MAX_PARAMS) return refuse(`export ${name}: ${params.length} parameters, at most ${MAX_PARAMS}`);
    if (!isOneOf(result, RESULT_TYPES)) return refuse(`export ${name}: unsupported result type ${String(result)}`);
    return {
      name,
      params: params.map((param: unknown, j) => {
        if (!isRecord(param) || typeof param['name'] !== 'string' || !NAME_PATTERN.test(param['name'])) return refuse(`export ${name}: params[${j}] has no valid name`);
        const type = param['type'];
        if (!isOneOf(type, VALUE_TYPES)) return refuse(`export ${name}: parameter ${param['name']} has unsupported type ${String(type)}`);
        return { name: param['name'], type };
      }),
      result,
    };
  });

  const refused = skipped.map((entry: unknown, i): SkippedExport => {
    if (!isRecord(entry)) return refuse(`skipped[${i}] is not an object`);
    // Any export name asc allows: a name the host refuses is a reason to skip its export.
    const name = entry['name'];
    if (typeof name !== 'string' || name === '') return refuse(`skipped[${i}] has no name`);
    unique(name);
    if (typeof entry['reason'] !== 'string') return refuse(`skipped export ${name} has no reason`);
    return { name, reason: entry['reason'] };
  });

  const ids: GuestTypes['classIds'] = {};
  for (const [type, id] of Object.entries(classIds)) {
    if (!isOneOf(type, ARRAY_TYPES)) return refuse(`classIds: ${type} is not a typed array`);
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 3 || id > MAX_CLASS_ID) return refuse(`classIds: bad id for ${type}: ${String(id)}, expected an integer from 3 to ${MAX_CLASS_ID}`);
    ids[type] = id;
  }
  for (const { name, params, result } of callable) {
    for (const type of [...params.map(p => p.type), result]) {
      if (isArrayType(type) && ids[type] === undefined) return refuse(`export ${name} uses ${type}, which has no class id`);
    }
  }

  return { version: TYPES_VERSION, exports: callable, skipped: refused, classIds: ids };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOneOf<T extends string>(value: unknown, options: readonly T[]): value is T {
  return typeof value === 'string' && (options as readonly string[]).includes(value);
}
