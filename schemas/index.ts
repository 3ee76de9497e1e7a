export * from './codec.ts';
export * from './fingerprint.ts';
export * from './topics.ts';
export type * from './types.gen.ts';
