// Puts asc's source map inside the module it describes, as the SOURCE_MAP_SECTION custom
// section, so that a deploy uploads one file and the host always has the map of the code it
// runs (host/source-map.ts reads it). The section is appended at the end of the module: the
// code's byte offsets, which the map's "columns" are, do not move.
import { SOURCE_MAP_SECTION } from '../../guest/abi.ts';

/**
 * The map as the section stores it: version, sources and mappings. asc adds the text of every
 * source (`sourcesContent`, the standard library's included: hundreds of KiB) and a
 * `sourceRoot` naming the output file; the host needs neither.
 *
 * @example
 * slimSourceMap('{"version":3,"sources":["index.ts"],"sourcesContent":["..."],"names":[],"mappings":"gBAAA"}');
 * // '{"version":3,"sources":["index.ts"],"names":[],"mappings":"gBAAA"}'
 */
export function slimSourceMap(json: string): string {
  const map = JSON.parse(json) as { version: unknown; sources: unknown; names?: unknown; mappings: unknown };
  return JSON.stringify({ version: map.version, sources: map.sources, names: map.names ?? [], mappings: map.mappings });
}

/** `wasm` with a custom section `name` holding `payload` appended. */
export function appendCustomSection(wasm: Uint8Array, name: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const nameBytes = new TextEncoder().encode(name);
  const content = [...leb128(nameBytes.byteLength), ...nameBytes];
  const size = leb128(content.length + payload.byteLength);
  const out = new Uint8Array(wasm.byteLength + 1 + size.length + content.length + payload.byteLength);
  let at = 0;
  out.set(wasm, at);
  at += wasm.byteLength;
  out[at++] = 0; // custom section id
  out.set(size, at);
  at += size.length;
  out.set(content, at);
  at += content.length;
  out.set(payload, at);
  return out;
}

/** The module with asc's source map (JSON text) in its SOURCE_MAP_SECTION. */
export function withSourceMap(wasm: Uint8Array, sourceMapJson: string): Uint8Array<ArrayBuffer> {
  return appendCustomSection(wasm, SOURCE_MAP_SECTION, new TextEncoder().encode(slimSourceMap(sourceMapJson)));
}

function leb128(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value > 0) b |= 0x80;
    out.push(b);
  } while (value > 0);
  return out;
}
