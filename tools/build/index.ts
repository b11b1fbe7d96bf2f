/**
 * tools/build: `cloudburst build` and the guest types section.
 *
 * Loading this module does not load asc (buildGuest imports it on first use), so the host can
 * import readTypesSection from here (or from ./types-section.ts) at no cost.
 *
 * @example
 * import { buildGuest, readTypesSection } from '../tools/build/index.ts';
 */

export { ASCONFIG, BuildError, buildGuest, PACKAGE_ROOT, type BuildOptions, type BuildResult } from './build.ts';
export {
  PARAM_TYPES, RESULT_TYPES, TYPED_ARRAY_TYPES, parseGuestTypes, readTypesSection,
  type GuestTypes, type ParamType, type ResultType, type SkippedExport, type TypedArrayType, type TypedExport,
} from './types-section.ts';
