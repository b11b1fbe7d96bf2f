// vitest globalSetup: bundles dist/ (the executor worker runs from dist/worker.js) once per run.
// @ts-expect-error tools/bundle.js is plain JS without types
import { ensureBuilt } from '../../tools/bundle.js';

export default async function setup(): Promise<void> {
  await (ensureBuilt as () => Promise<void>)();
}
