import { CloudburstError } from '../kvs/index.ts';

export interface MemoryImport {
  initialPages: number;
  maximumPages: number | undefined;
}

/**
 * Reads the limits of the memory a module imports, straight from the binary (the JS API
 * does not expose them). Called only on modules that `WebAssembly.validate` accepted, so the
 * walk can trust the section framing; it still checks every bound it relies on.
 *
 * The host insists that guests import their memory: that is how it sets the maximum a guest
 * may grow to. A module that defines its own memory could grow to 4 GiB.
 */
export function readMemoryImport(bytes: Uint8Array): MemoryImport {
  let at = 8; // magic + version
  let found: MemoryImport | undefined;
  let definesMemory = false;

  const u32 = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (at >= bytes.length) throw new CloudburstError('INVALID_WASM', 'truncated module');
      const b = bytes[at++]!;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
      if (shift > 28) throw new CloudburstError('INVALID_WASM', 'bad LEB128');
    }
  };
  const skipName = (): string => {
    const len = u32();
    const name = Buffer.from(bytes.subarray(at, at + len)).toString('utf8');
    at += len;
    return name;
  };
  const limits = (): MemoryImport & { flags: number } => {
    const flags = bytes[at++]!;
    const initialPages = u32();
    const maximumPages = flags & 1 ? u32() : undefined;
    return { flags, initialPages, maximumPages };
  };

  while (at < bytes.length) {
    const id = bytes[at++]!;
    const size = u32();
    const end = at + size;
    if (id === 2) {
      const count = u32();
      for (let i = 0; i < count; i++) {
        skipName();
        skipName();
        const kind = bytes[at++]!;
        if (kind === 0) u32();
        else if (kind === 1) {
          at++; // reftype
          limits();
        } else if (kind === 2) {
          const l = limits();
          if (l.flags & ~1) throw new CloudburstError('MEMORY_LIMIT', 'shared and 64-bit memories are not supported');
          found = { initialPages: l.initialPages, maximumPages: l.maximumPages };
        } else if (kind === 3) at += 2; // valtype, mutability
        else throw new CloudburstError('INVALID_WASM', `unknown import kind ${kind}`);
      }
    } else if (id === 5) {
      definesMemory = u32() > 0;
    }
    at = end;
  }
  if (definesMemory || found === undefined) {
    throw new CloudburstError('MEMORY_LIMIT', 'the module must import its memory (build with --importMemory, as `cloudburst build` does)');
  }
  return found;
}
