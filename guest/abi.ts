// The guest ABI for the host and the tools. The constants live in the SDK
// (sdk/cloudburst/abi.ts), the one file both tsc and asc compile; this file only gives them
// the address the host has always imported them from.
export * from './sdk/cloudburst/abi.ts';
