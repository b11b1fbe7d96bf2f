// The Cloudburst guest SDK: `import { get, put, counter } from "cloudburst"`.
// `cloudburst build` (and the repository's asconfig.json) put guest/sdk on asc's package path,
// so this folder resolves as the package "cloudburst". See guest/README.md.

export { get, getString, getAll, getAllStrings, put, putString, putDurable, del } from "./state";
export { counter, set, max } from "./lattices";
export { log, now } from "./runtime";
export { id, send, sendString, recv, recvString } from "./messages";
