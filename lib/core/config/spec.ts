// The configuration table: every variable pixelflow reads, in one object joined from its parts by
// concern. Order matters: a derived default (the registry under the state dir) reads values parsed
// before it. The README's configuration section and the docker-compose test read this table too.
import { CONNECTION_VARS } from './vars-connections.ts';
import { ML_VARS } from './vars-ml.ts';
import { SERVING_VARS } from './vars-serving.ts';

export const CONFIG_SPEC = { ...CONNECTION_VARS, ...SERVING_VARS, ...ML_VARS };

type Spec = typeof CONFIG_SPEC;
export type ConfigKey = keyof Spec;
export type Config = { readonly [K in ConfigKey]: ReturnType<Spec[K]['parse']> };
