// The host's side of the types section, whose contract (lists, limits, reader) is
// guest/types-section.ts, shared with the build: the upload refuses a module without the
// section or with nothing the host can call, and the registry keeps what calls need.
import { TYPES_SECTION } from '../guest/abi.ts';
import { readTypesSection, type ArrayType, type GuestTypes } from '../guest/types-section.ts';
import { CloudburstError } from '../common/index.ts';

/** What the registry keeps of a module's types section (the skipped exports are the author's business). */
export type ModuleTypes = Pick<GuestTypes, 'exports' | 'classIds'>;

/** Element size in bytes of each typed array type. */
export const ELEMENT_BYTES: Record<ArrayType, number> = {
  Uint8Array: 1, Int8Array: 1, Uint8ClampedArray: 1, Int16Array: 2, Uint16Array: 2, Int32Array: 4,
  Uint32Array: 4, Int64Array: 8, Uint64Array: 8, Float32Array: 4, Float64Array: 8,
};

/**
 * Reads and validates the types section of an uploaded module (untrusted input: the reader
 * refuses a bad section with `MISSING_TYPES`), and refuses a module with nothing to call.
 */
export function readModuleTypes(module: WebAssembly.Module): ModuleTypes {
  const types = readTypesSection(module);
  if (types === undefined) {
    throw new CloudburstError('MISSING_TYPES', `the module has no "${TYPES_SECTION}" section: build it with \`cloudburst build\``);
  }
  if (types.exports.length === 0) {
    const why = types.skipped.map(s => `${s.name}: ${s.reason}`).join('; ');
    throw new CloudburstError('MISSING_TYPES', `the module exports no typed functions${why ? ` (${why})` : ''}`);
  }
  return { exports: types.exports, classIds: types.classIds };
}
