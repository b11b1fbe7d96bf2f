// The front door of the function host. Other folders import only this file.
export { DEFAULT_DRAIN_TIMEOUT_MS, startHost, type Host } from './host.ts';
export type { HostOptions } from './options.ts';
export { QUOTA_NAMES, defaultQuotas, parseQuotas, type QuotaSource, type TenantQuotas } from './quotas/tenant-quotas.ts';
export type { FsyncPolicy } from './cache/cache.ts';
export { readModuleTypes, type ModuleTypes } from './module-types.ts';
export type { ExportSignature } from '../guest/types-section.ts';
export { allowedImports } from './executor/imports.ts';
export { HOST_HEADERS, HOST_LIMITS, HOST_PATHS, HOST_ROUTES, hostPath, type HostRoute, type HostRouteName } from './protocol.ts';
export { ADMIN_TOKEN_FILE, EMBEDDED_ADMIN_NAME, provisionAdminToken } from './auth/provision.ts';
export { AuthStore } from './auth/auth-store.ts';
export { SCOPES, type Scope } from './auth/principal.ts';
export { AUDIT_FILE, type AuditEntry } from './auth/audit.ts';
export type { TokenInfo, TenantRecord } from './auth/records.ts';
export { readHostRecords, type HostRecord } from './cluster/directory.ts';
