// Rewrites built wasm modules, and assembles small ones, for tests of upload validation: just
// enough of the binary format to rename imports, repoint exports and replace the types
// section while everything else (code, data, the other sections) stays byte for byte.

import { TYPES_SECTION } from '../../guest/abi.ts';

export type ValType = 'i32' | 'i64' | 'f32' | 'f64';

const VAL_CODES: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c };

export interface Section {
  id: number;
  payload: Uint8Array;
}

interface Cursor {
  bytes: Uint8Array;
  at: number;
}

function readU32(c: Cursor): number {
  let result = 0;
  for (let shift = 0; ; shift += 7) {
    const b = c.bytes[c.at++];
    if (b === undefined) throw new RangeError('truncated LEB128');
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return result >>> 0;
  }
}

function readName(c: Cursor): string {
  const len = readU32(c);
  const text = new TextDecoder().decode(c.bytes.subarray(c.at, c.at + len));
  c.at += len;
  return text;
}

export function u32(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function name(s: string): number[] {
  const b = new TextEncoder().encode(s);
  return [...u32(b.length), ...b];
}

export function vec(items: number[][]): number[] {
  return [...u32(items.length), ...items.flat()];
}

export function section(id: number, payload: ArrayLike<number>): number[] {
  return [id, ...u32(payload.length), ...Array.from(payload)];
}

export function splitSections(wasm: Uint8Array): Section[] {
  const c: Cursor = { bytes: wasm, at: 8 };
  const out: Section[] = [];
  while (c.at < wasm.length) {
    const id = wasm[c.at++]!;
    const size = readU32(c);
    out.push({ id, payload: wasm.subarray(c.at, c.at + size) });
    c.at += size;
  }
  return out;
}

export function joinSections(sections: Section[]): Uint8Array<ArrayBuffer> {
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...sections.flatMap((s) => section(s.id, s.payload))]);
}

interface ImportEntry {
  module: string;
  name: string;
  kind: number;
  /** The import's descriptor, as it was. */
  desc: Uint8Array;
}

function readLimits(c: Cursor): void {
  const flags = c.bytes[c.at++]!;
  readU32(c);
  if (flags & 1) readU32(c);
}

function decodeImports(payload: Uint8Array): ImportEntry[] {
  const c: Cursor = { bytes: payload, at: 0 };
  const out: ImportEntry[] = [];
  for (let n = readU32(c); n > 0; n--) {
    const module = readName(c);
    const field = readName(c);
    const kind = payload[c.at++]!;
    const start = c.at;
    if (kind === 0) readU32(c);
    else if (kind === 1) { c.at++; readLimits(c); }
    else if (kind === 2) readLimits(c);
    else if (kind === 3) c.at += 2;
    else throw new Error(`import kind ${kind} not handled`);
    out.push({ module, name: field, kind, desc: payload.subarray(start, c.at) });
  }
  return out;
}

interface ExportEntry {
  name: string;
  kind: number;
  index: number;
}

function decodeExports(payload: Uint8Array): ExportEntry[] {
  const c: Cursor = { bytes: payload, at: 0 };
  const out: ExportEntry[] = [];
  for (let n = readU32(c); n > 0; n--) {
    const field = readName(c);
    const kind = payload[c.at++]!;
    out.push({ name: field, kind, index: readU32(c) });
  }
  return out;
}

function replaceSection(wasm: Uint8Array, id: number, edit: (payload: Uint8Array) => number[]): Uint8Array<ArrayBuffer> {
  const sections = splitSections(wasm);
  const s = sections.find((x) => x.id === id);
  if (!s) throw new Error(`the module has no section ${id}`);
  s.payload = Uint8Array.from(edit(s.payload));
  return joinSections(sections);
}

/** The function imports of a module, in order: `module.name`. */
export function functionImports(wasm: Uint8Array): string[] {
  const s = splitSections(wasm).find((x) => x.id === 2);
  return s ? decodeImports(s.payload).filter((i) => i.kind === 0).map((i) => `${i.module}.${i.name}`) : [];
}

/** The names of a module's function exports. */
export function functionExports(wasm: Uint8Array): string[] {
  const s = splitSections(wasm).find((x) => x.id === 7);
  return s ? decodeExports(s.payload).filter((e) => e.kind === 0).map((e) => e.name) : [];
}

/**
 * Renames the `which`-th function import (`module.name` -> `to`): the module stays valid, and
 * now imports `to` with the signature the renamed import had.
 */
export function renameImport(wasm: Uint8Array, which: number, to: { module: string; name: string }): Uint8Array<ArrayBuffer> {
  return replaceSection(wasm, 2, (payload) => {
    const entries = decodeImports(payload);
    const fn = entries.filter((e) => e.kind === 0)[which];
    if (!fn) throw new Error(`no function import ${which}`);
    fn.module = to.module;
    fn.name = to.name;
    return vec(entries.map((e) => [...name(e.module), ...name(e.name), e.kind, ...e.desc]));
  });
}

/** Makes export `exportName` name the function that export `target` names (its signature too). */
export function repointExport(wasm: Uint8Array, exportName: string, target: string): Uint8Array<ArrayBuffer> {
  return replaceSection(wasm, 7, (payload) => {
    const entries = decodeExports(payload);
    const to = entries.find((e) => e.name === target && e.kind === 0);
    const from = entries.find((e) => e.name === exportName && e.kind === 0);
    if (!to || !from) throw new Error(`no function export ${exportName} or ${target}`);
    from.index = to.index;
    return vec(entries.map((e) => [...name(e.name), e.kind, ...u32(e.index)]));
  });
}

/** Renames a function export. */
export function renameExport(wasm: Uint8Array, from: string, to: string): Uint8Array<ArrayBuffer> {
  return replaceSection(wasm, 7, (payload) => {
    const entries = decodeExports(payload);
    const e = entries.find((x) => x.name === from);
    if (!e) throw new Error(`no export ${from}`);
    e.name = to;
    return vec(entries.map((x) => [...name(x.name), x.kind, ...u32(x.index)]));
  });
}

/** Whether `s` is the `cloudburst.types` custom section. */
export function isTypesSection(s: Section): boolean {
  if (s.id !== 0) return false;
  const c: Cursor = { bytes: s.payload, at: 0 };
  return readName(c) === TYPES_SECTION;
}

/** The JSON of a module's types section. */
export function typesJson(wasm: Uint8Array): unknown {
  const s = splitSections(wasm).find(isTypesSection);
  if (!s) throw new Error('no types section');
  const c: Cursor = { bytes: s.payload, at: 0 };
  readName(c);
  return JSON.parse(new TextDecoder().decode(s.payload.subarray(c.at)));
}

/** Replaces the types section's content with `json` (a string is written as is). */
export function withTypes(wasm: Uint8Array, json: unknown): Uint8Array<ArrayBuffer> {
  const text = typeof json === 'string' ? json : JSON.stringify(json);
  const payload = Uint8Array.from([...name(TYPES_SECTION), ...new TextEncoder().encode(text)]);
  return joinSections(splitSections(wasm).map((s) => (isTypesSection(s) ? { id: 0, payload } : s)));
}

/** A types section entry. */
export function typed(fn: string, params: [string, string][], result: string): { name: string; params: { name: string; type: string }[]; result: string } {
  return { name: fn, params: params.map(([n, type]) => ({ name: n, type })), result };
}

export interface AssembledFunction {
  type: number;
  /** The body's instructions, without locals and the final `end`. */
  code: number[];
  export?: string;
}

/**
 * Assembles a module that imports `env.memory` (1 page) and the given functions, defines
 * `functions` and exports them by name, with a types section. Function indices: the imports
 * first, in order, then the defined functions.
 */
export function assemble(opts: {
  types: [ValType[], ValType[]][];
  imports: { module: string; name: string; type: number }[];
  functions: AssembledFunction[];
  typesSection: unknown;
}): Uint8Array<ArrayBuffer> {
  const valtypes = (ts: ValType[]) => vec(ts.map((t) => [VAL_CODES[t]]));
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(opts.types.map(([p, r]) => [0x60, ...valtypes(p), ...valtypes(r)]))),
    ...section(2, vec([
      [...name('env'), ...name('memory'), 0x02, 0x00, 0x01],
      ...opts.imports.map((i) => [...name(i.module), ...name(i.name), 0x00, ...u32(i.type)]),
    ])),
    ...section(3, vec(opts.functions.map((f) => u32(f.type)))),
    ...section(7, vec(opts.functions.flatMap((f, i) => (f.export ? [[...name(f.export), 0x00, ...u32(opts.imports.length + i)]] : [])))),
    ...section(10, vec(opts.functions.map((f) => {
      const body = [0x00, ...f.code, 0x0b]; // no locals
      return [...u32(body.length), ...body];
    }))),
    ...section(0, [...name(TYPES_SECTION), ...new TextEncoder().encode(JSON.stringify(opts.typesSection))]),
  ];
  return Uint8Array.from(bytes);
}

/** Opcodes the tests' hand-assembled functions use. */
export const OP = { localGet: 0x20, call: 0x10, i64ExtendI32S: 0xac, i32WrapI64: 0xa7, drop: 0x1a, i32Const: 0x41 } as const;

/** The minimum (in pages) of the memory a module imports. */
export function memoryMinimum(wasm: Uint8Array): number {
  const s = splitSections(wasm).find((x) => x.id === 2);
  const memory = s ? decodeImports(s.payload).find((i) => i.kind === 2) : undefined;
  if (!memory) throw new Error('the module imports no memory');
  return readU32({ bytes: memory.desc, at: 1 });
}

/** The module with its memory import's limits set to `min` and `max` pages. */
export function withMemoryLimits(wasm: Uint8Array, min: number, max: number): Uint8Array<ArrayBuffer> {
  return replaceSection(wasm, 2, (payload) => vec(decodeImports(payload).map((i) => [
    ...name(i.module), ...name(i.name), i.kind,
    ...(i.kind === 2 ? [1, ...u32(min), ...u32(max)] : Array.from(i.desc)),
  ])));
}

/** The module without its custom sections named `sectionName` (the others as they were). */
export function withoutCustomSection(wasm: Uint8Array, sectionName: string): Uint8Array<ArrayBuffer> {
  return joinSections(splitSections(wasm).filter((s) => s.id !== 0 || readName({ bytes: s.payload, at: 0 }) !== sectionName));
}
