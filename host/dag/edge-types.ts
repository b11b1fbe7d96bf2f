// Whether a DAG edge's values fit: the predecessor's result becomes one of its successor's
// last arguments (dag/steps-args.ts), and `PUT /v1/dags/{name}` refuses an edge where a
// result could arrive that the parameter does not take. The run-time check of each result
// (executor/args.ts, chain-worker.ts) stays, as a guard for modules redeployed since.
import { isArrayType, type ResultType, type ValueType } from '../../guest/types-section.ts';

/** The values of each integer type, as [lowest, highest]. */
const INT_RANGE: Record<string, [bigint, bigint]> = {
  i8: [-128n, 127n], u8: [0n, 255n], i16: [-32768n, 32767n], u16: [0n, 65535n],
  i32: [-(2n ** 31n), 2n ** 31n - 1n], u32: [0n, 2n ** 32n - 1n],
  i64: [-(2n ** 63n), 2n ** 63n - 1n], u64: [0n, 2n ** 64n - 1n],
};
/** Integers a float type holds exactly: 2^24 for f32, 2^53 for f64. */
const FLOAT_EXACT: Record<string, bigint> = { f32: 2n ** 24n, f64: 2n ** 53n };

/** Element type of each typed array (what its values are, one by one). */
const ELEMENT: Record<string, string> = {
  Uint8Array: 'u8', Int8Array: 'i8', Uint8ClampedArray: 'u8', Int16Array: 'i16', Uint16Array: 'u16', Int32Array: 'i32',
  Uint32Array: 'u32', Int64Array: 'i64', Uint64Array: 'u64', Float32Array: 'f32', Float64Array: 'f64',
};

/**
 * How a result of type `result` fits a parameter of type `param`:
 * - `fits`: every value does: the same type; an integer type into one whose range holds it
 *   (i32 into i64, u8 into u16); an integer into a float that holds it exactly (i32 into f64);
 *   f32 into f64; typed arrays whose elements fit so.
 * - `narrows`: numbers into numbers (or arrays into arrays) where some values do not fit
 *   (an i64 into an i32, an f64 into an i64): the registration is accepted with a warning, and
 *   a value that does not fit fails its step at run time (INVALID_ARGUMENTS).
 * - `never`: no value can (a string into a number, an array into a scalar, a bool into an
 *   integer, nothing (`void`) into anything): the registration is refused.
 *
 * @example
 * edgeFit('i32', 'i64');    // 'fits'
 * edgeFit('i64', 'i32');    // 'narrows': 2^40 would not fit
 * edgeFit('string', 'i64'); // 'never'
 */
export function edgeFit(result: ResultType, param: ValueType): 'fits' | 'narrows' | 'never' {
  if (result === 'void') return 'never';
  if (result === param) return 'fits';
  if (isArrayType(result) !== isArrayType(param)) return 'never';
  if (isArrayType(result)) return edgeFit(ELEMENT[result] as ValueType, ELEMENT[param]! as ValueType);
  if (result === 'string' || param === 'string' || result === 'bool' || param === 'bool') return 'never';
  return numberFits(result, param) ? 'fits' : 'narrows';
}

/** Whether every value of the number type `from` is one of `to`. */
function numberFits(from: string, to: string): boolean {
  const a = INT_RANGE[from];
  if (a !== undefined) {
    const b = INT_RANGE[to];
    if (b !== undefined) return b[0] <= a[0] && a[1] <= b[1];
    const exact = FLOAT_EXACT[to]!;
    return -exact <= a[0] && a[1] <= exact;
  }
  return from === to || (from === 'f32' && to === 'f64');
}
