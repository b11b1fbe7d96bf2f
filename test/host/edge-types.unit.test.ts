import { describe, expect, it } from 'vitest';
import { edgeFit } from '../../host/dag/edge-types.ts';
import { RESULT_TYPES, VALUE_TYPES } from '../../guest/types-section.ts';

// Which predecessor results a DAG registration accepts for a successor's parameter.

describe('DAG edge types', () => {
  it('every type fits itself; void fits nothing', () => {
    for (const t of VALUE_TYPES) expect(edgeFit(t, t), t).toBe('fits');
    for (const t of VALUE_TYPES) expect(edgeFit('void', t), t).toBe('never');
  });

  it('integers fit wider integers and floats that hold them exactly; the other way narrows', () => {
    expect(edgeFit('i32', 'i64')).toBe('fits');
    expect(edgeFit('u32', 'i64')).toBe('fits');
    expect(edgeFit('u8', 'i16')).toBe('fits');
    expect(edgeFit('i32', 'f64')).toBe('fits');
    expect(edgeFit('i16', 'f32')).toBe('fits');
    expect(edgeFit('f32', 'f64')).toBe('fits');
    expect(edgeFit('i64', 'i32')).toBe('narrows');
    expect(edgeFit('i32', 'u32')).toBe('narrows');
    expect(edgeFit('i64', 'f64')).toBe('narrows');
    expect(edgeFit('i32', 'f32')).toBe('narrows');
    expect(edgeFit('f64', 'i64')).toBe('narrows');
    expect(edgeFit('Int32Array', 'Float64Array')).toBe('fits');
    expect(edgeFit('Float64Array', 'Int32Array')).toBe('narrows');
  });

  it('strings, bools and arrays never become numbers or each other', () => {
    expect(edgeFit('string', 'i64')).toBe('never');
    expect(edgeFit('i64', 'string')).toBe('never');
    expect(edgeFit('bool', 'i32')).toBe('never');
    expect(edgeFit('i32', 'bool')).toBe('never');
    expect(edgeFit('Uint8Array', 'string')).toBe('never');
    expect(edgeFit('f64', 'Float64Array')).toBe('never');
  });

  it('answers for every pair of types', () => {
    for (const r of RESULT_TYPES) for (const p of VALUE_TYPES) expect(['fits', 'narrows', 'never']).toContain(edgeFit(r, p));
  });
});
