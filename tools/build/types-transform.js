// asc transform that records the host-callable exports of a guest in the custom section
// "cloudburst.types" (TYPES_SECTION in guest/abi.ts), so the host can lift JSON arguments into
// wasm values and lower results without running asc's JavaScript glue. The section's contract
// (layout, type lists, limits, reader and writer) is guest/types-section.ts.
//
// Plain ESM JavaScript because asc loads transforms with `import()`; it is named in the
// repository's asconfig.json, so asc run by hand with that config applies it just like
// `cloudburst build` does. Node cannot import guest/types-section.ts from here (it is
// TypeScript), so the lists and limits below are a copy of its own: the exported constants are
// compared with it by test/guest/types-contract.unit.test.ts, which also checks that the section of
// every built test guest is, byte for byte, what encodeTypesSection writes for its types.
// Change both together.

import { Transform } from 'assemblyscript/transform';
import { CommonFlags, DiagnosticCode, ElementKind, SourceKind, TypeKind } from 'assemblyscript';

/** TYPES_SECTION and TYPES_VERSION of guest/abi.ts. */
export const SECTION_NAME = 'cloudburst.types';
export const SECTION_VERSION = 1;

/** MAX_PARAMS, NAME_PATTERN and RESERVED_PREFIX of guest/types-section.ts. */
export const MAX_PARAMS = 32;
export const NAME_PATTERN = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;
export const RESERVED_PREFIX = '__';

/** SCALAR_TYPES of guest/types-section.ts, by asc TypeKind. usize/isize are 32-bit: guests are wasm32. */
export const SCALAR_TYPES = new Map([
  [TypeKind.Bool, 'bool'],
  [TypeKind.I8, 'i8'], [TypeKind.U8, 'u8'],
  [TypeKind.I16, 'i16'], [TypeKind.U16, 'u16'],
  [TypeKind.I32, 'i32'], [TypeKind.U32, 'u32'],
  [TypeKind.I64, 'i64'], [TypeKind.U64, 'u64'],
  [TypeKind.Isize, 'i32'], [TypeKind.Usize, 'u32'],
  [TypeKind.F32, 'f32'], [TypeKind.F64, 'f64'],
]);

/** ARRAY_TYPES of guest/types-section.ts, by the internal name of their standard library class. */
export const ARRAY_TYPES = new Map(
  [
    'Uint8Array', 'Int8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
    'Uint32Array', 'Int64Array', 'Uint64Array', 'Float32Array', 'Float64Array',
  ].map(name => [`~lib/typedarray/${name}`, name]),
);

const STRING_CLASS = '~lib/string/String';

/**
 * @typedef {{ name: string, type: string }} Param
 * @typedef {{ name: string, params: Param[], result: string }} TypedExport
 * @typedef {{ name: string, reason: string }} SkippedExport
 */

export default class TypesTransform extends Transform {
  /** @param {import("binaryen").Module} module */
  afterCompile(module) {
    const program = this.program;
    const exported = functionExportNames(this.binaryen, module);
    /** @type {TypedExport[]} */
    const exports = [];
    /** @type {SkippedExport[]} */
    const skipped = [];
    /** @type {Map<string, number>} */
    const classIds = new Map();

    for (const [name, fn] of userFunctionExports(program)) {
      // asc does not export what it could not compile (generic functions, for one).
      if (!exported.has(name)) continue;
      const described = describe(name, fn, classIds);
      if ('reason' in described) {
        skipped.push(described);
        // A warning at the declaration, so `cloudburst build` tells the author why the host
        // will refuse to call this export.
        program.warning(
          DiagnosticCode.Transform_0_1,
          fn.identifierNode.range,
          'cloudburst',
          `export '${name}' cannot be called by the host: ${described.reason}`,
        );
      } else {
        exports.push(described);
      }
    }

    const section = {
      version: SECTION_VERSION,
      exports,
      skipped,
      classIds: Object.fromEntries([...classIds].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    };
    module.addCustomSection(SECTION_NAME, new TextEncoder().encode(JSON.stringify(section)));
  }
}

/**
 * Names of the function exports that made it into the binaryen module.
 * @param {typeof import("binaryen").default} binaryen
 * @param {import("binaryen").Module} module
 */
function functionExportNames(binaryen, module) {
  const names = new Set();
  for (let i = 0, n = module.getNumExports(); i < n; i++) {
    const info = binaryen.getExportInfo(module.getExportByIndex(i));
    if (info.kind === binaryen.ExternalFunction) names.add(info.name);
  }
  return names;
}

/**
 * Exported functions of the user's entry files, under their exported names, in declaration
 * order: the same walk as asc's Compiler#compileModuleExports, minus the runtime's entry file.
 * @param {import("assemblyscript").Program} program
 * @returns {Generator<[string, import("assemblyscript").Function]>}
 */
function* userFunctionExports(program) {
  const seen = new Set();
  for (const file of program.filesByName.values()) {
    if (file.source.sourceKind !== SourceKind.UserEntry) continue;
    // The runtime (~lib/rt/index-incremental) is parsed as an entry too: it owns the __* exports.
    if (file.source.internalPath.startsWith('~lib/')) continue;
    yield* fileExports(program, file, seen);
  }
}

/**
 * @param {import("assemblyscript").Program} program
 * @param {import("assemblyscript").File} file
 * @param {Set<unknown>} seen files already walked (export * cycles)
 * @returns {Generator<[string, import("assemblyscript").Function]>}
 */
function* fileExports(program, file, seen) {
  if (seen.has(file)) return;
  seen.add(file);
  for (const [name, element] of file.exports ?? []) {
    if (element.kind !== ElementKind.FunctionPrototype || element.is(CommonFlags.Generic)) continue;
    const fn = program.resolver.resolveFunction(element, null);
    if (fn) yield [name, fn];
  }
  for (const starred of file.exportsStar ?? []) yield* fileExports(program, starred, seen);
}

/**
 * The export's entry for the section, or the reason the host cannot call it.
 * @param {string} name
 * @param {import("assemblyscript").Function} fn
 * @param {Map<string, number>} classIds typed-array classes used so far, filled in
 * @returns {TypedExport | SkippedExport}
 */
function describe(name, fn, classIds) {
  if (name.startsWith(RESERVED_PREFIX)) {
    return { name, reason: `names starting with ${RESERVED_PREFIX} are reserved for the runtime` };
  }
  if (!NAME_PATTERN.test(name)) {
    return { name, reason: 'its name is not an ASCII identifier of at most 128 characters' };
  }
  const signature = fn.signature;
  if (signature.parameterTypes.length > MAX_PARAMS) {
    return { name, reason: `it has ${signature.parameterTypes.length} parameters, at most ${MAX_PARAMS}` };
  }
  const paramNodes = fn.prototype.functionTypeNode.parameters;
  /** @type {Param[]} */
  const params = [];
  /** @type {Map<string, number>} */
  const used = new Map();
  for (let i = 0; i < signature.parameterTypes.length; i++) {
    const paramName = paramNodes[i]?.name.text ?? `arg${i}`;
    if (i >= signature.requiredParameters) {
      // An optional parameter makes asc export a varargs stub that must be told the argument
      // count through __setArgumentsLength: more glue than the host wants to replicate.
      return { name, reason: `parameter ${paramName} is optional (give it no default value)` };
    }
    const type = valueType(signature.parameterTypes[i], used);
    if (type === undefined) {
      return { name, reason: `parameter ${paramName} has unsupported type ${display(signature.parameterTypes[i])}` };
    }
    // Arguments are passed by position: a name the section does not allow is only replaced.
    params.push({ name: NAME_PATTERN.test(paramName) ? paramName : `arg${i}`, type });
  }
  const result = signature.returnType.kind === TypeKind.Void ? 'void' : valueType(signature.returnType, used);
  if (result === undefined) {
    return { name, reason: `result has unsupported type ${display(signature.returnType)}` };
  }
  for (const [className, id] of used) classIds.set(className, id);
  return { name, params, result };
}

/**
 * The section's name for a parameter or result type, or undefined if the host cannot pass it.
 * Records the runtime class id of typed arrays in `used`.
 * @param {import("assemblyscript").Type} type
 * @param {Map<string, number>} used
 */
function valueType(type, used) {
  if (!type.isReference) return SCALAR_TYPES.get(type.kind);
  // The host lowers null for no parameter and lifts no nullable result: JSON null has no
  // single meaning for a string or a typed array, so make the author say what they mean.
  if (type.isNullableReference) return undefined;
  const cls = type.getClass();
  if (!cls) return undefined;
  if (cls.internalName === STRING_CLASS) return 'string';
  const typedArray = ARRAY_TYPES.get(cls.internalName);
  if (typedArray !== undefined) used.set(typedArray, cls.id);
  return typedArray;
}

/** How the author wrote the type, for messages: `Foo`, `Array<i32>`, `string | null`. */
function display(type) {
  const cls = type.isReference ? type.getClass() : null;
  const base = cls ? (cls.internalName === STRING_CLASS ? 'string' : cls.name) : type.toString();
  return type.isNullableReference && cls ? `${base} | null` : base;
}
