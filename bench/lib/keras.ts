// The Keras anchor's Python, shared by the benches that compare with Keras: the venv that
// bench/keras/setup.sh creates once (TensorFlow from pip) and names on its last stdout line.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { BENCH_DIR } from '../harness.ts';

/** Path of the venv's python; throws (setup.sh's stderr passes through) when the venv cannot be made. */
export function kerasPython(env: NodeJS.ProcessEnv = process.env): string {
  const setup = execFileSync('bash', [join(BENCH_DIR, 'keras', 'setup.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  return setup.trim().split('\n').at(-1)!;
}
