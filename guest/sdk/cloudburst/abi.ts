// The guest ABI: the one source of truth shared by the host (TypeScript, checked by tsc) and
// the guest SDK (AssemblyScript, checked by asc). Keep this file to plain constants that both
// compilers accept, without type annotations (asc infers i32 and string, tsc number and
// string). The SDK's `@external("cloudburst", ...)` decorators need literal strings, so
// `test/guest/abi.unit.test.ts` checks that a compiled guest imports exactly what the host provides.
//
// It lives in the SDK because asc resolves `./abi` only inside the `cloudburst` package folder,
// and a real file (no symbolic link) survives `npm pack` and a checkout without symlinks; the
// host and the tools import it through guest/abi.ts.
//
// Signatures are written `name(params) -> result`, with wasm value types (`i32`, `i64`, `f32`,
// `f64`) and no `-> ...` for functions without a result. The host parses them
// (host/module-abi.ts) and refuses at upload a module that imports or exports one of these
// names with any other signature.

/** Import namespace of every host function a guest may call. */
export const IMPORT_NAMESPACE = "cloudburst";

/** Custom section that `cloudburst build` writes: UTF-8 JSON describing typed exports. */
export const TYPES_SECTION = "cloudburst.types";

/**
 * Custom section that `cloudburst build` writes: asc's source map of the module (UTF-8 JSON,
 * without the sources' text), which the host maps a trap's offsets through (host/source-map.ts).
 */
export const SOURCE_MAP_SECTION = "cloudburst.sourcemap";

/** Version of the JSON layout inside TYPES_SECTION. */
export const TYPES_VERSION = 1;

/** Return value of `get`-like imports when the key holds no value. */
export const ABSENT = -1;

/** Log levels of the `log` import. */
export const LOG_DEBUG = 0;
export const LOG_INFO = 1;
export const LOG_WARN = 2;
export const LOG_ERROR = 3;

/**
 * Functions the host provides in IMPORT_NAMESPACE, with their wasm signatures; the SDK
 * declares each of them in guest/sdk/cloudburst/imports.ts (meanings in guest/README.md). A
 * guest may import any subset, each with exactly this signature, and nothing else from this
 * namespace.
 */
export const HOST_FUNCTIONS = [
  "get(i32, i32) -> i32",
  "get_all(i32, i32) -> i32",
  "take(i32)",
  "put(i32, i32, i32, i32)",
  "put_durable(i32, i32, i32, i32)",
  "del(i32, i32)",
  "counter_add(i32, i32, i64) -> i64",
  "counter_get(i32, i32) -> i64",
  "set_add(i32, i32, i32, i32) -> i32",
  "set_has(i32, i32, i32, i32) -> i32",
  "set_members(i32, i32) -> i32",
  "max_put(i32, i32, i64) -> i64",
  "max_get(i32, i32) -> i64",
  "log(i32, i32, i32)",
  "now() -> f64",
  "id() -> i32",
  "send(i32, i32, i32, i32)",
  "recv(i32) -> i32",
];

/**
 * The host functions a module's start function (AssemblyScript's top-level code, run while
 * the instance is created) may call. Every other one fails the instantiation: state and
 * messaging belong to calls of exported functions, so that an upload's trial instantiation,
 * or a worker preparing an instance, never reads or writes state.
 */
export const START_FUNCTIONS = ["log", "now"];

/** Namespace of what asc itself imports: the memory (we build with --importMemory) and helpers. */
export const ENV_NAMESPACE = "env";

/**
 * The imported linear memory, in ENV_NAMESPACE: a 32-bit, unshared memory. Its minimum is the
 * module's (within the host's limit); the host chooses its maximum.
 */
export const MEMORY_IMPORT = "memory";

/**
 * asc's own function imports in ENV_NAMESPACE, with their wasm signatures: `abort(msg, file,
 * line, column)` (always; pointers to asc strings), `seed()` (Math.random),
 * `trace(msg, n, a0, a1, a2, a3, a4)` (trace()), and the console and Date bindings of asc's
 * standard library (`console.log(message)` ... and `Date.now()`: the host writes console
 * output to the call's log and answers Date.now() with now()'s clock). Always allowed, also
 * in a start function.
 */
export const ENV_FUNCTIONS = [
  "abort(i32, i32, i32, i32)",
  "seed() -> f64",
  "trace(i32, i32, f64, f64, f64, f64, f64)",
  "console.log(i32)",
  "console.debug(i32)",
  "console.info(i32)",
  "console.warn(i32)",
  "console.error(i32)",
  "console.assert(i32, i32)",
  "console.time(i32)",
  "console.timeLog(i32)",
  "console.timeEnd(i32)",
  "Date.now() -> f64",
];

/**
 * asc's runtime exports that the host calls to pass strings and typed arrays
 * (`--exportRuntime`), with their wasm signatures. A module whose typed exports take or
 * return strings or arrays must export them; a module that exports them must give them
 * exactly these signatures.
 */
export const RUNTIME_EXPORTS = [
  "__new(i32, i32) -> i32",
  "__pin(i32) -> i32",
  "__unpin(i32)",
];
