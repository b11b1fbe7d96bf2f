import { RUNTIME_EXPORTS, TYPES_SECTION, TYPES_VERSION } from '../guest/abi.ts';
import { CloudburstError } from '../common/index.ts';

/** Scalar types: passed as wasm values. */
export const SCALAR_TYPES = ['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f32', 'f64', 'bool'] as const;
/** Typed arrays: passed as AssemblyScript ArrayBufferView objects in guest memory. */
export const ARRAY_TYPES = [
  'Uint8Array', 'Int8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
  'Uint32Array', 'Int64Array', 'Uint64Array', 'Float32Array', 'Float64Array',
] as const;

export type ScalarType = (typeof SCALAR_TYPES)[number];
export type ArrayType = (typeof ARRAY_TYPES)[number];
export type ValueType = ScalarType | ArrayType | 'string';
export type ResultType = ValueType | 'void';

export interface ExportSignature {
  name: string;
  params: { name: string; type: ValueType }[];
  result: ResultType;
}

/** The validated content of a module's `cloudburst.types` section. */
export interface ModuleTypes {
  exports: ExportSignature[];
  /** Runtime class id of each typed-array class the exports use. */
  classIds: Partial<Record<ArrayType, number>>;
}

const VALUE_TYPES: ReadonlySet<string> = new Set<string>([...SCALAR_TYPES, ...ARRAY_TYPES, 'string']);
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;
const MAX_PARAMS = 32;

export function isArrayType(t: string): t is ArrayType {
  return (ARRAY_TYPES as readonly string[]).includes(t);
}

/** Element size in bytes of each typed array type. */
export const ELEMENT_BYTES: Record<ArrayType, number> = {
  Uint8Array: 1, Int8Array: 1, Uint8ClampedArray: 1, Int16Array: 2, Uint16Array: 2, Int32Array: 4,
  Uint32Array: 4, Int64Array: 8, Uint64Array: 8, Float32Array: 4, Float64Array: 8,
};

function bad(message: string): never {
  throw new CloudburstError('MISSING_TYPES', message);
}

/**
 * Reads and validates the types section of an uploaded module. The section is untrusted
 * input like the rest of the upload: every field is checked, and every described export
 * must really be an exported function of the module.
 */
export function readModuleTypes(module: WebAssembly.Module): ModuleTypes {
  const sections = WebAssembly.Module.customSections(module, TYPES_SECTION);
  if (sections.length !== 1) {
    bad(sections.length === 0
      ? `the module has no "${TYPES_SECTION}" section: build it with \`cloudburst build\``
      : `the module has ${sections.length} "${TYPES_SECTION}" sections`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(sections[0]));
  } catch {
    bad(`the "${TYPES_SECTION}" section is not UTF-8 JSON`);
  }
  const doc = raw as { version?: unknown; exports?: unknown; classIds?: unknown };
  if (typeof doc !== 'object' || doc === null) bad('the types section is not an object');
  if (doc.version !== TYPES_VERSION) bad(`types section version ${String(doc.version)} is not supported (want ${TYPES_VERSION})`);
  if (!Array.isArray(doc.exports)) bad('the types section has no "exports" list');

  const functions = new Set(
    WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name),
  );
  const exports: ExportSignature[] = [];
  const seen = new Set<string>();
  for (const entry of doc.exports as unknown[]) {
    const e = entry as { name?: unknown; params?: unknown; result?: unknown };
    if (typeof e !== 'object' || e === null || typeof e.name !== 'string' || !IDENT.test(e.name)) bad('an export has no valid name');
    if (e.name.startsWith('__')) bad(`export ${e.name} is reserved for the runtime`);
    if (!functions.has(e.name)) bad(`the types section describes ${e.name}, which is not an exported function`);
    if (seen.has(e.name)) bad(`export ${e.name} is described twice`);
    seen.add(e.name);
    if (!Array.isArray(e.params) || e.params.length > MAX_PARAMS) bad(`export ${e.name} has no valid parameter list`);
    const params = (e.params as unknown[]).map((p, i) => {
      const q = p as { name?: unknown; type?: unknown };
      if (typeof q !== 'object' || q === null || typeof q.type !== 'string' || !VALUE_TYPES.has(q.type)) {
        bad(`parameter ${i} of ${e.name} has an unsupported type`);
      }
      const name = typeof q.name === 'string' && IDENT.test(q.name) ? q.name : `arg${i}`;
      return { name, type: q.type as ValueType };
    });
    if (typeof e.result !== 'string' || (e.result !== 'void' && !VALUE_TYPES.has(e.result))) bad(`export ${e.name} has an unsupported result type`);
    exports.push({ name: e.name, params, result: e.result as ResultType });
  }
  if (exports.length === 0) bad('the module exports no typed functions');

  const classIds: Partial<Record<ArrayType, number>> = {};
  const ids = (doc.classIds ?? {}) as Record<string, unknown>;
  if (typeof ids !== 'object' || ids === null) bad('"classIds" is not an object');
  for (const [name, id] of Object.entries(ids)) {
    if (isArrayType(name) && Number.isInteger(id) && (id as number) > 2 && (id as number) < 1 << 20) classIds[name] = id as number;
  }
  const needsRuntime = exports.some((e) => e.result === 'string' || isArrayType(e.result) || e.params.some((p) => p.type === 'string' || isArrayType(p.type)));
  for (const e of exports) {
    for (const p of e.params) {
      if (isArrayType(p.type) && classIds[p.type] === undefined) bad(`the types section gives no class id for ${p.type}, which ${e.name} takes`);
    }
  }
  if (needsRuntime) {
    for (const fn of RUNTIME_EXPORTS.map((sig) => sig.slice(0, sig.indexOf('(')))) {
      if (!functions.has(fn)) bad(`the module takes or returns strings or arrays but does not export ${fn} (build with --exportRuntime)`);
    }
  }
  return { exports, classIds };
}
