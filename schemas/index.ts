export * from './codec.ts';
export * from './fingerprint.ts';
export * from './labels.ts';
export * from './outputs.ts';
export * from './schema-files.ts';
export * from './topics.ts';
export type * from './types.gen.ts';
