// Reads a module's import section, with what WebAssembly.Module.imports() leaves out in Node 20:
// function signatures and memory limits. Test-only; just enough of the binary format.

export type ValType = 'i32' | 'i64' | 'f32' | 'f64';

export type WasmImport =
  | { module: string; name: string; kind: 'function'; params: ValType[]; results: ValType[] }
  | { module: string; name: string; kind: 'memory'; minimum: number; maximum: number | undefined }
  | { module: string; name: string; kind: 'table' | 'global' };

const VAL_TYPES: Record<number, ValType> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64' };

export function readImports(wasm: Uint8Array): WasmImport[] {
  let pos = 8; // magic + version
  const byte = (): number => {
    if (pos >= wasm.length) throw new RangeError('truncated module');
    return wasm[pos++]!;
  };
  const u32 = (): number => {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      const b = byte();
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
    }
  };
  const name = (): string => {
    const length = u32();
    const text = new TextDecoder().decode(wasm.subarray(pos, pos + length));
    pos += length;
    return text;
  };
  const valType = (): ValType => {
    const code = byte();
    const type = VAL_TYPES[code];
    if (!type) throw new TypeError(`unexpected value type 0x${code.toString(16)}`);
    return type;
  };
  const limits = (): { minimum: number; maximum: number | undefined } => {
    const flags = byte();
    const minimum = u32();
    return { minimum, maximum: flags & 1 ? u32() : undefined };
  };

  const types: { params: ValType[]; results: ValType[] }[] = [];
  const imports: WasmImport[] = [];
  while (pos < wasm.length) {
    const id = byte();
    const size = u32();
    const end = pos + size;
    if (id === 1) {
      for (let i = u32(); i > 0; i--) {
        if (byte() !== 0x60) throw new TypeError('unsupported type form');
        const params = Array.from({ length: u32() }, valType);
        const results = Array.from({ length: u32() }, valType);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let i = u32(); i > 0; i--) {
        const module = name();
        const field = name();
        const kind = byte();
        if (kind === 0) {
          const type = types[u32()];
          if (!type) throw new TypeError(`import ${module}.${field} has an unknown type index`);
          imports.push({ module, name: field, kind: 'function', ...type });
        } else if (kind === 2) {
          imports.push({ module, name: field, kind: 'memory', ...limits() });
        } else {
          throw new TypeError(`import ${module}.${field}: kind ${kind} not handled`);
        }
      }
      return imports;
    }
    pos = end;
  }
  return imports;
}
