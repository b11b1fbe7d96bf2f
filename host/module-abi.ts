import {
  ENV_FUNCTIONS, ENV_NAMESPACE, HOST_FUNCTIONS, IMPORT_NAMESPACE, MEMORY_IMPORT, RUNTIME_EXPORTS,
} from '../guest/abi.ts';
import { CloudburstError } from '../common/index.ts';
import type { ResultType, ValueType } from '../guest/types-section.ts';
import type { ModuleTypes } from './module-types.ts';
import { formatFuncType, sameFuncType, type FuncType, type ValType, type WasmShape } from './wasm-binary.ts';

/** One signature of guest/abi.ts, parsed. */
export interface Signature extends FuncType {
  name: string;
}

const SIGNATURE = /^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\(((?:i32|i64|f32|f64)(?:, (?:i32|i64|f32|f64))*)?\)(?: -> (i32|i64|f32|f64))?$/;

/** Parses `name(i32, i64) -> f64` (the notation of guest/abi.ts). */
export function parseSignature(text: string): Signature {
  const m = SIGNATURE.exec(text);
  if (!m) throw new Error(`not a signature: ${JSON.stringify(text)}`);
  return { name: m[1]!, params: m[2] ? (m[2].split(', ') as ValType[]) : [], results: m[3] ? [m[3] as ValType] : [] };
}

const bySignature = (list: readonly string[]): ReadonlyMap<string, Signature> => new Map(list.map(parseSignature).map((s) => [s.name, s]));

/** What the host provides to a guest: namespace -> function name -> signature (the memory aside). */
export const HOST_IMPORTS: ReadonlyMap<string, ReadonlyMap<string, Signature>> = new Map([
  [IMPORT_NAMESPACE, bySignature(HOST_FUNCTIONS)],
  [ENV_NAMESPACE, bySignature(ENV_FUNCTIONS)],
]);

/** asc's runtime exports the host calls (executor/abi.ts), by name. */
export const RUNTIME_SIGNATURES: ReadonlyMap<string, Signature> = bySignature(RUNTIME_EXPORTS);

/**
 * Refuses a module that imports anything the host does not provide, by name, kind or
 * signature. The host's import functions are JS functions: V8 would link them under any
 * signature and convert values at each call, so a guest importing `get` as `(i64) -> i32`
 * would reach the host with a BigInt where a pointer belongs.
 */
export function checkImports(shape: WasmShape): void {
  const forbidden: string[] = [];
  for (const imp of shape.imports) {
    const what = `${imp.module}.${imp.name}`;
    if (imp.module === ENV_NAMESPACE && imp.name === MEMORY_IMPORT) {
      if (imp.kind !== 'memory') forbidden.push(`${what} (a ${imp.kind}; the host provides a memory)`);
      continue;
    }
    const provided = HOST_IMPORTS.get(imp.module)?.get(imp.name);
    if (provided === undefined) {
      forbidden.push(`${what} (${imp.kind}; the host provides no such import)`);
    } else if (imp.kind !== 'function') {
      forbidden.push(`${what} (a ${imp.kind}; the host provides a function ${formatFuncType(provided)})`);
    } else if (!sameFuncType(imp.type, provided)) {
      forbidden.push(`${what} (imported as ${formatFuncType(imp.type)}; the host provides ${formatFuncType(provided)})`);
    }
  }
  if (forbidden.length > 0) {
    throw new CloudburstError('FORBIDDEN_IMPORT', `the module imports what the host does not provide: ${forbidden.join(', ')}`, { imports: forbidden });
  }
}

export interface MemoryImport {
  initialPages: number;
  maximumPages: number | undefined;
}

/**
 * The limits of the memory a module imports. The host insists that guests import their
 * memory: that is how it sets the maximum a guest may grow to. A module that defines its own
 * memory could grow to 4 GiB.
 */
export function memoryImport(shape: WasmShape): MemoryImport {
  const found = shape.imports.find((i) => i.kind === 'memory');
  if (shape.definesMemory || found === undefined || found.kind !== 'memory') {
    throw new CloudburstError('MEMORY_LIMIT', 'the module must import its memory (build with --importMemory, as `cloudburst build` does)');
  }
  if (found.shared) throw new CloudburstError('MEMORY_LIMIT', 'shared and 64-bit memories are not supported');
  return { initialPages: found.initialPages, maximumPages: found.maximumPages };
}

/** The wasm type a declared type travels as: small integers and bool as i32, strings and arrays as pointers. */
export function loweredType(type: ValueType): ValType {
  switch (type) {
    case 'i64':
    case 'u64':
      return 'i64';
    case 'f32':
      return 'f32';
    case 'f64':
      return 'f64';
    default:
      return 'i32'; // i8..u32, bool, string, typed arrays (wasm32 pointers)
  }
}

export function loweredSignature(params: readonly { type: ValueType }[], result: ResultType): FuncType {
  return { params: params.map((p) => loweredType(p.type)), results: result === 'void' ? [] : [loweredType(result)] };
}

/**
 * Refuses a types section that does not describe the module: every typed export must have
 * the wasm signature its declared types lower to, and the runtime exports the host calls
 * must have theirs. Otherwise the host would pass a BigInt where the guest takes an i32, or
 * read a number where it expects a BigInt, at every call.
 */
export function checkExports(shape: WasmShape, types: ModuleTypes): void {
  const functions = new Map<string, FuncType>();
  for (const e of shape.exports) if (e.kind === 'function') functions.set(e.name, e.type);
  const wrong: string[] = [];
  for (const sig of types.exports) {
    const actual = functions.get(sig.name);
    const declared = loweredSignature(sig.params, sig.result);
    if (actual === undefined) {
      wrong.push(`${sig.name} is not an exported function`);
    } else if (!sameFuncType(actual, declared)) {
      const decl = `(${sig.params.map((p) => `${p.name}: ${p.type}`).join(', ')}): ${sig.result}`;
      wrong.push(`${sig.name}${decl} needs the wasm signature ${formatFuncType(declared)}, but the module exports ${formatFuncType(actual)}`);
    }
  }
  // Whether they must be there at all is readModuleTypes' check (only for strings and arrays).
  for (const [name, want] of RUNTIME_SIGNATURES) {
    const actual = functions.get(name);
    if (actual !== undefined && !sameFuncType(actual, want)) {
      wrong.push(`the runtime export ${name} must be ${formatFuncType(want)}, not ${formatFuncType(actual)}`);
    }
  }
  if (wrong.length > 0) {
    throw new CloudburstError('MISSING_TYPES', `the types section does not match the module: ${wrong.join('; ')}`);
  }
}
