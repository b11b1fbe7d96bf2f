// The upload's side of source maps: a module built by `cloudburst build` carries asc's map in
// its SOURCE_MAP_SECTION custom section (one file to deploy, and the map always matches the
// code it describes). The map is the uploader's bytes like the rest: decoded and bounded by
// readSourceMap, and a bad one refuses the upload (INVALID_WASM) rather than leave a module
// whose traps point nowhere. A module without the section is accepted: its traps report
// module offsets only.
import { SOURCE_MAP_SECTION } from '../guest/abi.ts';
import { CloudburstError } from '../common/index.ts';
import { readSourceMap, type SourceMapIndex } from './source-map.ts';
import type { WasmShape } from './wasm-binary.ts';

/**
 * The module's decoded source map, or undefined when it has none.
 *
 * @example
 * const sourceMap = moduleSourceMap(await WebAssembly.compile(bytes), readWasm(bytes));
 */
export function moduleSourceMap(module: WebAssembly.Module, shape: WasmShape): SourceMapIndex | undefined {
  const sections = WebAssembly.Module.customSections(module, SOURCE_MAP_SECTION);
  if (sections.length === 0) return undefined;
  if (sections.length > 1) {
    throw new CloudburstError('INVALID_WASM', `the module has ${sections.length} "${SOURCE_MAP_SECTION}" sections; a module has one source map at most`);
  }
  return readSourceMap(new Uint8Array(sections[0]!), shape.bodyStarts);
}
