// A service started while its broker is down (the stack still coming up, a broker restarting)
// waits for it with one note, instead of exiting with "cannot reach Kafka", and starts working
// as soon as the broker is back. On a private stack: its broker is killed before the start.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../lib/core/config.ts';
import { eventually } from '../../helpers/context.ts';
import { type PrivateStack, startPrivateStack } from './private-stack.ts';

let stack: PrivateStack;
const children: Array<ReturnType<typeof spawn>> = [];

beforeAll(async () => {
  stack = await startPrivateStack();
}, 300_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await stack?.destroy();
});

it('preprocess started with the broker down waits with one note and becomes ready when it is back', async () => {
  await stack.killKafka();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'pixelflow.js'), 'preprocess', '--no-register'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...stack.env,
      PIXELFLOW_TOPIC_PREFIX: `start-${Date.now().toString(36)}`,
      PIXELFLOW_METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  await eventually(async () => /Kafka at \S+ is not reachable/.test(err) || exited(), {
    timeoutMs: 90_000,
    what: 'the note that preprocess waits for Kafka',
  });
  expect(exited(), `preprocess exited while waiting:\n${err.slice(-2000)}`).toBe(false);

  await stack.up();
  await eventually(async () => err.includes('preprocess worker ready') || exited(), {
    timeoutMs: 120_000,
    what: 'preprocess to become ready once the broker is back',
  });
  expect(exited(), `preprocess exited:\n${err.slice(-2000)}`).toBe(false);
  expect(err).toMatch(/Kafka at \S+ is reachable after [\d.]+ s of waiting/);
  expect(err.match(/Kafka at \S+ is not reachable/g)).toHaveLength(1);
});
