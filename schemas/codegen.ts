// Derives TypeScript types from the .avsc files, so the Avro schemas stay the single source.
// Run: npx tsx schemas/codegen.ts   (a unit test fails when types.gen.ts is stale)
// It walks the types avsc parses (schema-files.ts parseSchema), so a union the codec reads
// wrapped ({ 'pixelflow.MaskLabel': … }) is typed wrapped, and a bare one bare.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type avro from 'avsc';
import { listSchemaNames, loadSchema, parseSchema } from './schema-files.ts';

const here = dirname(fileURLToPath(import.meta.url));
const PRIMITIVES: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  fixed: 'Buffer',
  string: 'string',
};

type Field = avro.types.Field & { doc?: string };

const propertyKey = (key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : `'${key}'`);

export function generateTypes(): string {
  // short name → declaration; one declaration per name, so two files must define a shared type alike
  const declared = new Map<string, string>();

  function declare(name: string, body: () => string): string {
    if (declared.has(name)) return name;
    declared.set(name, ''); // reserve before recursing
    declared.set(name, body());
    return name;
  }

  function checkSame(name: string, body: string): void {
    if (declared.get(name) !== body) {
      throw new Error(`two schemas define ${name} differently; a shared type must be the same in every file`);
    }
  }

  function tsOf(type: avro.Type): string {
    const t = type.typeName;
    if (PRIMITIVES[t]) return PRIMITIVES[t];
    if (t === 'record' || t === 'error') return recordOf(type as avro.types.RecordType);
    if (t === 'enum') {
      const name = shortName(type.name as string);
      const body = `export type ${name} = ${(type as avro.types.EnumType).symbols.map((s) => `'${s}'`).join(' | ')};`;
      declare(name, () => body);
      checkSame(name, body);
      return name;
    }
    if (t === 'array') return `Array<${tsOf((type as avro.types.ArrayType).itemsType)}>`;
    if (t === 'map') return `Record<string, ${tsOf((type as avro.types.MapType).valuesType)}>`;
    if (t === 'union:unwrapped') return (type as avro.types.UnwrappedUnionType).types.map(tsOf).join(' | ');
    if (t === 'union:wrapped') {
      return (type as avro.types.WrappedUnionType).types
        .map((b) => (b.typeName === 'null' ? 'null' : `{ ${propertyKey(b.branchName as string)}: ${tsOf(b)} }`))
        .join(' | ');
    }
    throw new Error(`codegen: no TypeScript for Avro type ${t}`);
  }

  function recordOf(type: avro.types.RecordType): string {
    const name = shortName(type.name as string);
    const fieldsOf = () =>
      (type.fields as Field[]).map((f) => {
        const optional = f.defaultValue() !== undefined ? '?' : '';
        const doc = f.doc ? `  /** ${f.doc} */\n` : '';
        return `${doc}  ${f.name}${optional}: ${tsOf(f.type)};`;
      });
    if (!declared.has(name)) return declare(name, () => `export interface ${name} {\n${fieldsOf().join('\n')}\n}`);
    if (declared.get(name) !== '') checkSame(name, `export interface ${name} {\n${fieldsOf().join('\n')}\n}`);
    return name;
  }

  const names = listSchemaNames();
  const mapping = names.map((name) => `  '${name}': ${tsOf(parseSchema(loadSchema(name)))};`);
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
