// The guest ABI: the one source of truth shared by the host (TypeScript, checked by tsc) and
// the guest SDK (AssemblyScript, checked by asc). Keep this file to plain constants that both
// compilers accept, without type annotations (asc infers i32 and string, tsc number and
// string). The SDK's `@external("cloudburst", ...)` decorators need literal strings, so
// `test/guest/abi.test.ts` checks that a compiled guest imports exactly what the host provides.

/** Import namespace of every host function a guest may call. */
export const IMPORT_NAMESPACE = "cloudburst";

/** Custom section that `cloudburst build` writes: UTF-8 JSON describing typed exports. */
export const TYPES_SECTION = "cloudburst.types";

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
 * Functions the host provides in IMPORT_NAMESPACE; the SDK declares each of them in
 * guest/sdk/cloudburst/imports.ts (signatures in guest/README.md). A guest may import any
 * subset, and nothing else from this namespace.
 */
export const HOST_FUNCTIONS = [
  "get", "get_all", "take", "put", "put_durable", "del",
  "counter_add", "counter_get",
  "set_add", "set_has", "set_members",
  "max_put", "max_get",
  "log", "now",
  "id", "send", "recv",
];

/** Namespace of what asc itself imports: the memory (we build with --importMemory) and helpers. */
export const ENV_NAMESPACE = "env";

/** The imported linear memory, in ENV_NAMESPACE. The host chooses its maximum. */
export const MEMORY_IMPORT = "memory";

/**
 * asc's own function imports in ENV_NAMESPACE: `abort(msg, file, line, column)` (always;
 * pointers to asc strings), `seed(): f64` (Math.random) and
 * `trace(msg, n, a0, a1, a2, a3, a4)` (trace()).
 */
export const ENV_FUNCTIONS = ["abort", "seed", "trace"];
