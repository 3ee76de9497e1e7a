// A worker thread starts without its parent's TypeScript loader: register tsx, then run the body.
import { register } from 'tsx/esm/api';

register();
await import('./model-worker.ts');
