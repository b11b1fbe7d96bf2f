// How `cloudburst fn call FN ARG...` turns its positional arguments into JSON, by the type of
// the parameter each one fills (the function's signature, asked from the host first).

/**
 * The JSON value of a positional argument: the text itself for a string parameter; for a
 * 64-bit integer parameter, a decimal integer outside JSON's exact range (2^53) stays the text
 * as typed, which the host takes for i64 and u64 (a JSON number there would already be
 * rounded: 9007199254740993 parses as 9007199254740992); otherwise the text as JSON when it is
 * JSON (numbers, booleans, arrays), else the text.
 *
 * @example
 * positionalArgument('9007199254740993', 'i64'); // '9007199254740993' (exact)
 * positionalArgument('7', 'i64');                // 7
 * positionalArgument('007', 'string');           // '007'
 * positionalArgument('[1,2]', 'Int32Array');     // [1, 2]
 */
export function positionalArgument(text: string, type: string | undefined): unknown {
  if (type === 'string') return text;
  if ((type === 'i64' || type === 'u64') && /^-?\d+$/.test(text) && !Number.isSafeInteger(Number(text))) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
