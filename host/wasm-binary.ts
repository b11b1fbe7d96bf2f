import { CloudburstError } from '../common/index.ts';

/** A wasm value type, as the host's checks name it. */
export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export type WasmImport =
  | { module: string; name: string; kind: 'function'; type: FuncType }
  | { module: string; name: string; kind: 'memory'; initialPages: number; maximumPages: number | undefined; shared: boolean }
  | { module: string; name: string; kind: 'table' | 'global' | 'tag' };

export type WasmExport =
  | { name: string; kind: 'function'; type: FuncType }
  | { name: string; kind: 'table' | 'memory' | 'global' | 'tag' };

/** What the host checks of a module, read from its binary. */
export interface WasmShape {
  imports: WasmImport[];
  exports: WasmExport[];
  /** Whether the module defines a memory of its own (its memory section is not empty). */
  definesMemory: boolean;
  /**
   * Where each function body of the code section starts, as a byte offset in the module,
   * in order (the offsets V8 reports in a trap's stack are module offsets too): the source
   * map lookup keeps within one function (host/source-map.ts).
   */
  bodyStarts: number[];
}

const VAL_TYPES: Readonly<Record<number, ValType>> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };
const EXTERNAL_KINDS = ['function', 'table', 'memory', 'global', 'tag'] as const;
const SECTION = { type: 1, import: 2, function: 3, memory: 5, export: 7, code: 10 } as const;

/** `(i32, i32) -> i32`, `(i32)`, `() -> f64`: how messages show a signature. */
export function formatFuncType(t: FuncType): string {
  return `(${t.params.join(', ')})${t.results.length > 0 ? ` -> ${t.results.join(', ')}` : ''}`;
}

export function sameFuncType(a: FuncType, b: FuncType): boolean {
  return a.params.length === b.params.length && a.results.length === b.results.length
    && a.params.every((p, i) => p === b.params[i]) && a.results.every((r, i) => r === b.results[i]);
}

function invalid(message: string): never {
  throw new CloudburstError('INVALID_WASM', message);
}

/**
 * Reads the type, import, function, memory and export sections of a module: what the JS API
 * does not expose (import and export signatures, memory limits). Runs only on modules that
 * `WebAssembly.validate` accepted, but is written for hostile bytes anyway: every read is
 * bounds-checked against its section, and anything it does not understand (a type form or
 * import kind of a proposal the host does not support) is refused with `INVALID_WASM`.
 */
export function readWasm(bytes: Uint8Array): WasmShape {
  if (bytes.length < 8) invalid('the module is truncated');
  let at = 8; // magic + version
  /** End of the section being read: no read goes past it. */
  let limit = bytes.length;

  const byte = (): number => {
    if (at >= limit) invalid('a section of the module is truncated');
    return bytes[at++]!;
  };
  const u32 = (): number => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = byte();
      if (shift === 28 && b > 0x0f) invalid('a LEB128 number of the module does not fit 32 bits');
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
    }
    return invalid('a LEB128 number of the module is too long');
  };
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const name = (): string => {
    const len = u32();
    if (len > limit - at) invalid('a name in the module runs past its section');
    const start = at;
    at += len;
    try {
      return utf8.decode(bytes.subarray(start, at));
    } catch {
      return invalid('a name in the module is not UTF-8');
    }
  };
  const valType = (): ValType => {
    const code = byte();
    return VAL_TYPES[code] ?? invalid(`the module uses value type 0x${code.toString(16)}, which the host does not support`);
  };
  /** A vector's length, refused when it cannot fit in what is left of the section (each item takes a byte at least). */
  const count = (): number => {
    const n = u32();
    if (n > limit - at) invalid('a vector in the module is longer than its section');
    return n;
  };
  const limits = (what: string): { flags: number; initial: number; maximum: number | undefined } => {
    const flags = byte();
    // Bit 0: has a maximum; bit 1: shared. Anything else (64-bit memories and tables) is a
    // proposal Node does not enable by default.
    if (flags & ~0x03) invalid(`${what} has limits the host does not support (flags 0x${flags.toString(16)})`);
    const initial = u32();
    return { flags, initial, maximum: flags & 1 ? u32() : undefined };
  };

  const types: FuncType[] = [];
  const functionTypes: FuncType[] = []; // the function index space: imports first
  const imports: WasmImport[] = [];
  const exportEntries: { name: string; kind: number; index: number }[] = [];
  let definesMemory = false;
  const bodyStarts: number[] = [];
  const typeAt = (index: number): FuncType => types[index] ?? invalid(`the module refers to type ${index}, which it does not define`);

  while (at < bytes.length) {
    limit = bytes.length;
    const id = byte();
    const size = u32();
    if (size > bytes.length - at) invalid(`section ${id} of the module runs past its end`);
    const end = at + size;
    limit = end;
    switch (id) {
      case SECTION.type:
        for (let i = count(); i > 0; i--) {
          const form = byte();
          if (form !== 0x60) invalid(`the module uses type form 0x${form.toString(16)}, which the host does not support`);
          const params = Array.from({ length: count() }, valType);
          const results = Array.from({ length: count() }, valType);
          types.push({ params, results });
        }
        break;
      case SECTION.import:
        for (let i = count(); i > 0; i--) {
          const module = name();
          const field = name();
          const kind = byte();
          if (kind === 0) {
            const type = typeAt(u32());
            functionTypes.push(type);
            imports.push({ module, name: field, kind: 'function', type });
          } else if (kind === 1) {
            valType(); // the table's reference type
            limits(`table import ${module}.${field}`);
            imports.push({ module, name: field, kind: 'table' });
          } else if (kind === 2) {
            const l = limits(`memory import ${module}.${field}`);
            imports.push({ module, name: field, kind: 'memory', initialPages: l.initial, maximumPages: l.maximum, shared: (l.flags & 0x02) !== 0 });
          } else if (kind === 3) {
            valType();
            byte(); // mutability
            imports.push({ module, name: field, kind: 'global' });
          } else if (kind === 4) {
            byte(); // attribute
            typeAt(u32());
            imports.push({ module, name: field, kind: 'tag' });
          } else {
            invalid(`import ${module}.${field} has kind ${kind}, which the host does not support`);
          }
        }
        break;
      case SECTION.function:
        for (let i = count(); i > 0; i--) functionTypes.push(typeAt(u32()));
        break;
      case SECTION.memory:
        definesMemory = count() > 0;
        at = end; // the limits themselves do not matter: a module may not define a memory
        break;
      case SECTION.export:
        for (let i = count(); i > 0; i--) {
          const field = name();
          const kind = byte();
          if (kind >= EXTERNAL_KINDS.length) invalid(`export ${field} has kind ${kind}, which the host does not support`);
          exportEntries.push({ name: field, kind, index: u32() });
        }
        break;
      case SECTION.code:
        for (let i = count(); i > 0; i--) {
          const bodySize = u32();
          if (bodySize > end - at) invalid('a function body of the module runs past its section');
          bodyStarts.push(at);
          at += bodySize;
        }
        break;
      default:
        at = end; // custom sections, data...: not needed here
    }
    if (at !== end) invalid(`section ${id} of the module does not end where its size says`);
  }

  const exports = exportEntries.map(({ name: field, kind, index }): WasmExport => {
    const k = EXTERNAL_KINDS[kind]!;
    if (k !== 'function') return { name: field, kind: k };
    const type = functionTypes[index] ?? invalid(`export ${field} refers to function ${index}, which the module does not have`);
    return { name: field, kind: 'function', type };
  });
  return { imports, exports, definesMemory, bodyStarts };
}
