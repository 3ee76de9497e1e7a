// Reading the configuration: variables (and the stack.env file `pixelflow up` writes) parsed by the
// table, checked together where settings only make sense together, and frozen.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { kafkaSecurityFromConfig } from '../connection-security.ts';
import { PixelflowError } from '../errors.ts';
import { DEFAULT_PIPELINE, pipelineSettings } from './pipelines.ts';
import { CONFIG_SPEC, type Config, type ConfigKey } from './spec.ts';
import { rawDefault, type VarSpec } from './var-spec.ts';

export type Env = Readonly<Record<string, string | undefined>>;

const entries = () => Object.entries(CONFIG_SPEC) as Array<[ConfigKey, VarSpec<unknown>]>;

/** Parse KEY=VALUE lines (comments and blanks ignored). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) out[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/**
 * The configuration the given variables describe, unset ones at their defaults; `overrides` are
 * values already parsed and win. Fails with CONFIG_INVALID naming the first bad variable.
 */
export function parseConfig(env: Env, overrides: Partial<Config> = {}): Config {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of entries()) {
    if (key in overrides) {
      out[key] = overrides[key];
      continue;
    }
    out[key] = spec.parse(env[spec.env] ?? rawDefault(spec, out), spec.env);
  }
  checkTogether(out as Config);
  return Object.freeze(out) as Config;
}

/** Settings that only make sense together are checked together, once, before anything connects. */
function checkTogether(c: Config): void {
  kafkaSecurityFromConfig(c);
  if (c.clickhouseReaderPassword && !c.clickhouseReaderUser) {
    throw new PixelflowError('CONFIG_INVALID', 'CLICKHOUSE_READER_PASSWORD is set but CLICKHOUSE_READER_USER is empty');
  }
  pipelineSettings(c);
  if (c.valFraction + c.testFraction >= 1) {
    throw new PixelflowError(
      'CONFIG_INVALID',
      `PIXELFLOW_VAL_FRACTION + PIXELFLOW_TEST_FRACTION: expected a sum below 1 (room for training), got ${c.valFraction} + ${c.testFraction}`,
    );
  }
}

/**
 * Reads configuration. Precedence: overrides > env (process env) > <stateDir>/stack.env > defaults.
 */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const stateDir = resolve(env.PIXELFLOW_STATE_DIR ?? CONFIG_SPEC.stateDir.default);
  const stackEnvPath = join(stateDir, 'stack.env');
  const fromFile = existsSync(stackEnvPath) ? parseEnvFile(readFileSync(stackEnvPath, 'utf8')) : {};
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const [name, value] of Object.entries(env)) if (value !== undefined) merged[name] = value;
  return parseConfig(merged, overrides);
}

/** The configuration table for docs: variable, default, meaning. */
export function describeConfig(): Array<{ env: string; default: string; doc: string }> {
  return entries().map(([, s]) => ({
    env: s.env,
    default: typeof s.default === 'function' ? '(derived)' : s.default,
    doc: s.doc,
  }));
}

/**
 * Every pipeline serve hosts with its full configuration: the default one (this configuration) first,
 * then each of PIXELFLOW_PIPELINES with its own topics, database, registry and spec.
 */
export function pipelineConfigs(config: Config): Array<{ name: string; config: Config }> {
  return [
    { name: DEFAULT_PIPELINE, config },
    ...pipelineSettings(config).map(({ name, overrides }) => ({
      name,
      config: Object.freeze({ ...config, ...overrides, pipelines: [] }) as Config,
    })),
  ];
}
