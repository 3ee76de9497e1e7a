// Derives TypeScript types from the .avsc files, so the Avro schemas stay the single source.
// Run: npx tsx schemas/codegen.ts   (a unit test fails when types.gen.ts is stale)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Schema = string | Schema[] | { type: string | Schema; [k: string]: unknown };

const here = dirname(fileURLToPath(import.meta.url));
const PRIMITIVES: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};

export function generateTypes(avroDir = join(here, 'avro')): string {
  const declared = new Map<string, string>();
  const names: string[] = [];

  function tsOf(schema: Schema): string {
    if (typeof schema === 'string') return PRIMITIVES[schema] ?? shortName(schema);
    if (Array.isArray(schema)) return schema.map(tsOf).join(' | ');
    const t = schema.type;
    if (typeof t !== 'string') return tsOf(t);
    if (t === 'record') {
      const name = shortName(schema.name as string);
      if (!declared.has(name)) {
        declared.set(name, ''); // reserve before recursing
        const fields = (schema.fields as Array<{ name: string; type: Schema; default?: unknown; doc?: string }>).map(
          (f) => {
            const optional = f.default !== undefined ? '?' : '';
            const doc = f.doc ? `  /** ${f.doc} */\n` : '';
            return `${doc}  ${f.name}${optional}: ${tsOf(f.type)};`;
          },
        );
        declared.set(name, `export interface ${name} {\n${fields.join('\n')}\n}`);
      }
      return name;
    }
    if (t === 'enum') {
      const name = shortName(schema.name as string);
      if (!declared.has(name)) {
        const symbols = (schema.symbols as string[]).map((s) => `'${s}'`).join(' | ');
        declared.set(name, `export type ${name} = ${symbols};`);
      }
      return name;
    }
    if (t === 'array') return `Array<${tsOf(schema.items as Schema)}>`;
    if (t === 'map') return `Record<string, ${tsOf(schema.values as Schema)}>`;
    return PRIMITIVES[t] ?? shortName(t);
  }

  const files = readdirSync(avroDir)
    .filter((f) => f.endsWith('.avsc'))
    .sort();
  const mapping: string[] = [];
  for (const file of files) {
    const schema = JSON.parse(readFileSync(join(avroDir, file), 'utf8')) as Schema;
    const root = tsOf(schema);
    const name = file.slice(0, -'.avsc'.length);
    names.push(name);
    mapping.push(`  '${name}': ${root};`);
  }
  return [
    '// Generated from schemas/avro/*.avsc by schemas/codegen.ts. Do not edit.',
    '',
    ...[...declared.values()].flatMap((d) => [d, '']),
    `export type SchemaName = ${names.map((n) => `'${n}'`).join(' | ')};`,
    '',
    'export interface SchemaTypes {',
    ...mapping,
    '}',
    '',
  ].join('\n');
}

function shortName(full: string): string {
  return full.split('.').pop() as string;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(join(here, 'types.gen.ts'), generateTypes());
  console.log('wrote schemas/types.gen.ts');
}
