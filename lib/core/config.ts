// Configuration is read once at start-up from the environment (plus the stack.env file that
// `pixelflow up` writes), validated, and frozen. A wrong value fails fast, naming the variable
// and what was expected. The parts live in lib/core/config/: the table by concern (vars-*.ts joined in
// spec.ts), the value parsers (parsers.ts), reading (parse.ts) and the way back to variables (env.ts).
export { childProcessEnv, configToEnv } from './config/env.ts';
export { describeConfig, type Env, loadConfig, parseConfig, parseEnvFile, pipelineConfigs } from './config/parse.ts';
export { fail, type Parser, parsers } from './config/parsers.ts';
export { DEFAULT_PIPELINE, type PipelineDecl } from './config/pipelines.ts';
export { CONFIG_SPEC, type Config, type ConfigKey } from './config/spec.ts';
export type { VarSpec } from './config/var-spec.ts';
export { REPO_ROOT } from './config/vars-connections.ts';
export { OPEN_GROUPS, type OpenGroup } from './config/vars-serving.ts';
