/**
 * tools/build: `cloudburst build`.
 *
 * Loading this module does not load asc (buildGuest imports it on first use). The types
 * section it writes is read with readTypesSection from guest/types-section.ts.
 *
 * @example
 * import { buildGuest } from '../tools/build/index.ts';
 * import { readTypesSection } from '../guest/types-section.ts';
 */

export { ASCONFIG, BuildError, buildGuest, PACKAGE_ROOT, type BuildOptions, type BuildResult } from './build.ts';
