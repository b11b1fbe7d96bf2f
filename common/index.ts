/**
 * The front door of the platform's kernel: the error table that the KV tier, the host and the
 * tools share. Import from here, never from files inside common/.
 */
export * from './errors.ts';
