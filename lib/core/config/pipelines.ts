// Several pipelines in one `serve` (PIXELFLOW_PIPELINES): each named pipeline is a namespace of its
// own (topics, ClickHouse database, model registry and its aliases, preprocessing spec), served beside
// the default one, which is the namespace the rest of the configuration describes. Parsing keeps only
// what the variable says; pipelineConfigs() derives each pipeline's full configuration from it.
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PixelflowError } from '../errors.ts';
import { parsers } from './parsers.ts';

/** The name of the pipeline the rest of the configuration describes (today's routes serve it). */
export const DEFAULT_PIPELINE = 'default';

/** One entry of PIXELFLOW_PIPELINES as written: its name and the keys it sets. */
export interface PipelineDecl {
  name: string;
  /** Topic prefix. @default <PIXELFLOW_TOPIC_PREFIX>-<name> */
  topics?: string;
  /** ClickHouse database. @default <CLICKHOUSE_DATABASE>_<name> (- as _) */
  database?: string;
  /** Model registry: file:///path, s3://bucket/prefix or a path. @default <state dir>/<name>/models (s3: <registry>/<name>) */
  registry?: string;
  /** Preprocessing spec its models take. @default PIXELFLOW_SPEC */
  spec?: string;
}

const KEYS = ['topics', 'database', 'registry', 'spec'] as const;
type Key = (typeof KEYS)[number];
const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const VAR = 'PIXELFLOW_PIPELINES';

function bad(message: string): never {
  throw new PixelflowError('CONFIG_INVALID', `${VAR}: ${message}`);
}

/** A registry as a URL: file:// and s3:// as given, a path made absolute. */
function registryUrlOf(raw: string, where: string): string {
  if (raw.startsWith('s3://')) {
    if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(raw))
      bad(`${where}: expected s3://bucket/prefix, got '${raw}'`);
    return raw.replace(/\/+$/, '');
  }
  if (raw.startsWith('file://')) {
    if (!/^file:\/\/\/./.test(raw)) bad(`${where}: expected file:///absolute/path, got '${raw}'`);
    return raw;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw))
    bad(`${where}: expected file:///path, s3://bucket/prefix or a path, got '${raw}'`);
  return pathToFileURL(parsers.path(raw, where)).href;
}

/**
 * `name[ key=value ...][, name ...]`, e.g. `faces spec=gray48, cars topics=acme-cars spec=rgb96x64`.
 * Names: lower-case letters, digits and -, starting with a letter. `default` (the namespace of the
 * other variables) may be listed, bare; it is served either way.
 */
export function parsePipelines(raw: string, spec: (raw: string, name: string) => string): PipelineDecl[] {
  const out: PipelineDecl[] = [];
  for (const entry of raw.split(',').map((s) => s.trim())) {
    if (!entry) continue;
    const [name, ...pairs] = entry.split(/\s+/);
    if (!NAME.test(name))
      bad(`pipeline name '${name}': expected lower-case letters, digits and -, starting with a letter (at most 32)`);
    if (out.some((p) => p.name === name)) bad(`pipeline '${name}' is declared twice`);
    if (name === DEFAULT_PIPELINE) {
      if (pairs.length)
        bad(
          `pipeline 'default' takes no keys: it is the namespace of PIXELFLOW_TOPIC_PREFIX, CLICKHOUSE_DATABASE, PIXELFLOW_REGISTRY_URL and PIXELFLOW_SPEC`,
        );
      continue;
    }
    const decl: PipelineDecl = { name };
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      const key = pair.slice(0, eq) as Key;
      const value = pair.slice(eq + 1);
      const where = `pipeline '${name}', key ${key}`;
      if (eq <= 0 || !KEYS.includes(key))
        bad(`pipeline '${name}': '${pair}' is not one of ${KEYS.map((k) => `${k}=…`).join(', ')}`);
      if (decl[key] !== undefined) bad(`${where}: set twice`);
      if (value === '') bad(`${where}: empty value`);
      const check = <T>(parse: (raw: string, n: string) => T) => {
        try {
          return parse(value, where);
        } catch (err) {
          return bad((err as Error).message);
        }
      };
      if (key === 'topics') decl.topics = check(parsers.topicPrefix);
      else if (key === 'database') decl.database = check(parsers.identifier);
      else if (key === 'spec') decl.spec = check(spec);
      else decl.registry = registryUrlOf(value, where);
    }
    out.push(decl);
  }
  return out;
}

/** The variable's text for a parsed list (parsePipelines gives it back). */
export function formatPipelines(pipelines: readonly PipelineDecl[]): string {
  return pipelines
    .map((p) => [p.name, ...KEYS.filter((k) => p[k] !== undefined).map((k) => `${k}=${p[k]}`)].join(' '))
    .join(', ');
}

/** What a pipeline's configuration is derived from: the default namespace's settings. */
export interface NamespaceSettings {
  topicPrefix: string;
  clickhouseDatabase: string;
  registryUrl: string;
  registryCacheDir: string;
  stateDir: string;
  spec: string;
  pipelines: readonly PipelineDecl[];
}

export type PipelineOverrides = Pick<
  NamespaceSettings,
  'topicPrefix' | 'clickhouseDatabase' | 'registryUrl' | 'registryCacheDir' | 'spec'
> & { registryDir?: string };

/**
 * Each named pipeline with the settings that differ from the default namespace's: its topic prefix,
 * database, registry (and a cache of its own, as versions are only unique within a registry) and spec.
 * Two pipelines may not share topics, a database or a registry: a clear error names both.
 */
export function pipelineSettings(c: NamespaceSettings): Array<{ name: string; overrides: PipelineOverrides }> {
  const out = c.pipelines.map((p) => {
    const registryUrl =
      p.registry ??
      (c.registryUrl.startsWith('s3://')
        ? `${c.registryUrl.replace(/\/+$/, '')}/${p.name}`
        : pathToFileURL(join(c.stateDir, p.name, 'models')).href);
    const overrides: PipelineOverrides = {
      topicPrefix: p.topics ?? `${c.topicPrefix}-${p.name}`,
      clickhouseDatabase: p.database ?? `${c.clickhouseDatabase}_${p.name.replaceAll('-', '_')}`,
      registryUrl,
      registryCacheDir: join(c.registryCacheDir, 'pipelines', p.name),
      spec: p.spec ?? c.spec,
    };
    if (registryUrl.startsWith('file://')) overrides.registryDir = fileURLToPath(registryUrl);
    return { name: p.name, overrides };
  });
  const all = [{ name: DEFAULT_PIPELINE, overrides: c }, ...out];
  for (const [i, a] of all.entries()) {
    for (const b of all.slice(i + 1)) {
      const clash = (
        [
          ['topics', 'topicPrefix'],
          ['database', 'clickhouseDatabase'],
          ['registry', 'registryUrl'],
        ] as const
      ).find(([, k]) => a.overrides[k] === b.overrides[k]);
      if (clash)
        bad(
          `pipelines '${a.name}' and '${b.name}' share ${clash[0]} ${a.overrides[clash[1]]}; each pipeline needs its own`,
        );
    }
  }
  return out;
}
