/**
 * The "cloudburst.types" custom section: which exports of a guest the host may call, with
 * their parameter and result types. `cloudburst build` writes it (tools/build/types-transform.js);
 * the host reads it with {@link readTypesSection} to lift JSON arguments into wasm values and
 * lower results. This file imports nothing from asc, so the host can use it cheaply.
 *
 * @example
 * const types = readTypesSection(module);
 * // { version: 1,
 * //   exports: [{ name: 'square', params: [{ name: 'x', type: 'i64' }], result: 'i64' }],
 * //   skipped: [], classIds: {} }
 */

import { TYPES_SECTION, TYPES_VERSION } from '../../guest/abi.ts';

/** Typed arrays a guest export may take or return; the host allocates them by class id. */
export const TYPED_ARRAY_TYPES = [
  'Uint8Array', 'Int8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
  'Uint32Array', 'Int64Array', 'Uint64Array', 'Float32Array', 'Float64Array',
] as const;

/**
 * Parameter types of a callable export. `usize`/`isize` appear as `u32`/`i32` (wasm32), `bool`
 * travels as an i32 0 or 1, the 64-bit integers as BigInt, `string` as an asc String (class id 2).
 */
export const PARAM_TYPES = [
  'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f32', 'f64', 'bool', 'string',
  ...TYPED_ARRAY_TYPES,
] as const;

/** Result types: any parameter type, or `void`. */
export const RESULT_TYPES = [...PARAM_TYPES, 'void'] as const;

export type TypedArrayType = (typeof TYPED_ARRAY_TYPES)[number];
export type ParamType = (typeof PARAM_TYPES)[number];
export type ResultType = (typeof RESULT_TYPES)[number];

/** One export the host can call. */
export interface TypedExport {
  name: string;
  params: { name: string; type: ParamType }[];
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
  exports: TypedExport[];
  skipped: SkippedExport[];
  /**
   * Runtime class id (asc's `idof<T>()`) of each typed array that an export takes or returns,
   * for `__new(12, id)`. Strings are always id 2 and ArrayBuffer id 1, so they are not listed.
   */
  classIds: Partial<Record<TypedArrayType, number>>;
}

/**
 * Reads and validates the types section of a guest, or returns undefined when there is none
 * (a module not built by `cloudburst build`). Throws a TypeError naming the first problem when
 * the section is present but malformed, since the upload may be hostile.
 *
 * @example
 * const types = readTypesSection(await readFile('build/guests/math.wasm'));
 * types?.exports.map(e => e.name); // ['increment', 'square']
 */
export function readTypesSection(wasm: BufferSource | WebAssembly.Module): GuestTypes | undefined {
  const module = wasm instanceof WebAssembly.Module ? wasm : new WebAssembly.Module(wasm);
  const sections = WebAssembly.Module.customSections(module, TYPES_SECTION);
  if (sections.length === 0) return undefined;
  if (sections.length > 1) throw new TypeError(`${TYPES_SECTION}: ${sections.length} sections, expected one`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(sections[0]));
  } catch (cause) {
    throw new TypeError(`${TYPES_SECTION}: not UTF-8 JSON`, { cause });
  }
  return parseGuestTypes(json);
}

/**
 * Validates the decoded JSON of a types section.
 *
 * @example
 * parseGuestTypes({ version: 1, exports: [], skipped: [], classIds: {} });
 */
export function parseGuestTypes(json: unknown): GuestTypes {
  const fail = (what: string): never => {
    throw new TypeError(`${TYPES_SECTION}: ${what}`);
  };
  if (!isRecord(json)) return fail('not a JSON object');
  if (json['version'] !== TYPES_VERSION) return fail(`unsupported version ${String(json['version'])}, expected ${TYPES_VERSION}`);
  const { exports, skipped, classIds } = json;
  if (!Array.isArray(exports)) return fail('exports is not an array');
  if (!Array.isArray(skipped)) return fail('skipped is not an array');
  if (!isRecord(classIds)) return fail('classIds is not an object');

  const names = new Set<string>();
  const checkName = (name: unknown, where: string): string => {
    if (typeof name !== 'string' || name === '') return fail(`${where} has no name`);
    if (names.has(name)) return fail(`export ${name} is listed twice`);
    names.add(name);
    return name;
  };

  const typedExports = exports.map((entry: unknown, i): TypedExport => {
    if (!isRecord(entry)) return fail(`exports[${i}] is not an object`);
    const name = checkName(entry['name'], `exports[${i}]`);
    const { params, result } = entry;
    if (!Array.isArray(params)) return fail(`export ${name}: params is not an array`);
    if (!isOneOf(result, RESULT_TYPES)) return fail(`export ${name}: unsupported result type ${String(result)}`);
    return {
      name,
      params: params.map((param: unknown, j) => {
        if (!isRecord(param) || typeof param['name'] !== 'string') return fail(`export ${name}: params[${j}] has no name`);
        const type = param['type'];
        if (!isOneOf(type, PARAM_TYPES)) return fail(`export ${name}: parameter ${param['name']} has unsupported type ${String(type)}`);
        return { name: param['name'], type };
      }),
      result,
    };
  });

  const skippedExports = skipped.map((entry: unknown, i): SkippedExport => {
    if (!isRecord(entry)) return fail(`skipped[${i}] is not an object`);
    const name = checkName(entry['name'], `skipped[${i}]`);
    if (typeof entry['reason'] !== 'string') return fail(`skipped export ${name} has no reason`);
    return { name, reason: entry['reason'] };
  });

  const ids: GuestTypes['classIds'] = {};
  for (const [type, id] of Object.entries(classIds)) {
    if (!isOneOf(type, TYPED_ARRAY_TYPES)) return fail(`classIds: ${type} is not a typed array`);
    // Ids 0-2 are Object, ArrayBuffer and String in every asc program.
    if (typeof id !== 'number' || !Number.isInteger(id) || id <= 2 || id > 0xffff_ffff) return fail(`classIds: bad id for ${type}`);
    ids[type] = id;
  }
  for (const { name, params, result } of typedExports) {
    for (const type of [...params.map(p => p.type), result]) {
      if (isOneOf(type, TYPED_ARRAY_TYPES) && ids[type] === undefined) return fail(`export ${name} uses ${type}, which has no class id`);
    }
  }

  return { version: TYPES_VERSION, exports: typedExports, skipped: skippedExports, classIds: ids };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOneOf<T extends string>(value: unknown, options: readonly T[]): value is T {
  return typeof value === 'string' && (options as readonly string[]).includes(value);
}
