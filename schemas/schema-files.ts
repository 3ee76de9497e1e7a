// The .avsc files and how they are parsed. avro/ holds the schema each topic is written with
// today; avro/history/ the versions they replaced, which readers still resolve (events written with
// them stay on the topics until retention drops them), and which nothing writes any more.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { SchemaName } from './types.gen.ts';

export const AVRO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'avro');
const HISTORY_DIR = join(AVRO_DIR, 'history');

/**
 * The one way schemas are parsed, shared by the codec and the type generator so the generated
 * types describe exactly the values avsc reads: a union is "wrapped" ({ branchName: value }) only
 * when its branches would be ambiguous (two records), else it is the bare value.
 */
export function parseSchema(schema: avro.Schema): avro.Type {
  return avro.Type.forSchema(schema, { wrapUnions: 'auto' });
}

/** `image-raw.v2` → family `image-raw`, version 2. */
export function schemaVersion(name: string): { family: string; version: number } {
  const m = /^(.+)\.v(\d+)$/.exec(name);
  if (!m) throw new Error(`schema file name ${name} does not end in .v<N>`);
  return { family: m[1], version: Number(m[2]) };
}

function readSchema(dir: string, name: string): avro.Schema {
  return JSON.parse(readFileSync(join(dir, `${name}.avsc`), 'utf8'));
}

function namesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.avsc'))
    .map((f) => f.slice(0, -'.avsc'.length))
    .sort();
}

export function loadSchema(name: SchemaName): avro.Schema {
  return readSchema(AVRO_DIR, name);
}

/** The schemas written today, one per topic role. */
export function listSchemaNames(): SchemaName[] {
  return namesIn(AVRO_DIR) as SchemaName[];
}

/** Earlier versions of a schema, oldest first: the writers its reader must still resolve. */
export function historyOf(name: SchemaName): Array<{ name: string; schema: avro.Schema }> {
  const current = schemaVersion(name);
  return namesIn(HISTORY_DIR)
    .map((n) => ({ n, v: schemaVersion(n) }))
    .filter(({ v }) => v.family === current.family && v.version < current.version)
    .sort((a, b) => a.v.version - b.v.version)
    .map(({ n }) => ({ name: n, schema: readSchema(HISTORY_DIR, n) }));
}
