// A configuration turned back into the variables that describe it, for a child process that must
// run with this process's settings (the demo's services, a test's or a benchmark's children).
// Every variable of the table is written, so the child's stack.env and defaults play no part;
// parseConfig(configToEnv(c)) gives c again (test/unit/lib/core/config-env.test.ts).
import { CONFIG_SPEC, type Config, type ConfigKey } from './spec.ts';
import { formatValue, rawDefault, type VarSpec } from './var-spec.ts';

/**
 * The variables for `config`. A derived value (the registry under the state dir) that equals its
 * own derivation is left out, so a caller who moves the child's PIXELFLOW_STATE_DIR or
 * PIXELFLOW_REGISTRY_DIR moves what derives from it too, as it would for a variable set by hand.
 */
export function configToEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as Array<[ConfigKey, VarSpec<unknown>]>) {
    const text = formatValue(spec, config[key]);
    if (typeof spec.default === 'function' && text === derived(spec, config)) continue;
    env[spec.env] = text;
  }
  return env;
}

/** The derived default as the child would compute it from the values configToEnv hands it. */
function derived(spec: VarSpec<unknown>, config: Config): string {
  return formatValue(spec, spec.parse(rawDefault(spec, config), spec.env));
}

/**
 * The environment of a child `pixelflow` process: this process's environment (PATH, HOME, ...),
 * the configuration's variables over it, and `extra` over both (an undefined value changes nothing).
 */
export function childProcessEnv(config: Config, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...configToEnv(config) };
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}
