// The CUDA build of libtensorflow (@tensorflow/tfjs-node-gpu, built by setup-native --gpu) on a
// real machine: chosen with PIXELFLOW_TF_BACKEND=tensorflow-gpu it loads, and where no GPU shows it
// says so in one log line and trains and predicts on the CPU. Each case is a child process
// (test/helpers/tf-runtime-child.ts): the CPU and CUDA builds cannot share one.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../../lib/core/config.ts';
import { nodeLoaders } from '../../../../lib/ml/tf-backend.ts';

const run = promisify(execFile);
const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const child = join(REPO_ROOT, 'test', 'helpers', 'tf-runtime-child.ts');

interface ChildResult {
  backend: string;
  device: string;
  describe: string;
  tfBackend: string;
  loss: number;
  weightsChanged: boolean;
  probs: number[][];
  addons: string[];
}

async function runChild(backend: string): Promise<{ result: ChildResult; runtimeLines: string[]; stderr: string }> {
  const { stdout, stderr } = await run(tsx, [child], {
    cwd: REPO_ROOT,
    env: { ...process.env, PIXELFLOW_TF_BACKEND: backend },
    maxBuffer: 16 << 20,
  });
  const result = JSON.parse(stdout.trim().split('\n').at(-1) as string) as ChildResult;
  // The runtime's own lines (console.warn with its prefix); libtensorflow's C++ log is separate.
  const runtimeLines = stderr.split('\n').filter((l) => l.startsWith('[tf-backend]'));
  return { result, runtimeLines, stderr };
}

function expectRealPrediction(result: ChildResult): void {
  expect(Number.isFinite(result.loss) && result.loss > 0).toBe(true);
  expect(result.weightsChanged).toBe(true);
  expect(result.probs).toHaveLength(16);
  for (const row of result.probs) {
    expect(row).toHaveLength(10);
    expect(row.every((p) => p >= 0 && p <= 1)).toBe(true);
    expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  }
}

describe('tensorflow-gpu (the CUDA build)', () => {
  beforeAll(async () => {
    // Builds the addon when it is missing (first run on a fresh machine: the CUDA libtensorflow is
    // fetched, ~0.5 GB, and compiled against); a no-op when built. Never skipped: a missing
    // build fails here.
    await run(process.execPath, [join(REPO_ROOT, 'infra', 'tensorflow', 'setup-native.mjs'), '--gpu'], {
      cwd: REPO_ROOT,
      maxBuffer: 64 << 20,
    });
  }, 1_200_000);

  it('PIXELFLOW_TF_BACKEND=tensorflow-gpu loads the CUDA build, says in one line where it runs, and trains and predicts', async () => {
    const { result, runtimeLines, stderr } = await runChild('tensorflow-gpu');
    expect(result.backend, stderr).toBe('tensorflow-gpu');
    expect(result.tfBackend).toBe('tensorflow');
    // Only the CUDA build's addon is in the process, never the CPU one beside it.
    expect(result.addons).toHaveLength(1);
    expect(result.addons[0]).toMatch(/@tensorflow\/tfjs-node-gpu\/lib\/.*tfjs_binding\.node$/);
    const missing = nodeLoaders.gpuMissing();
    if (missing) {
      expect(result.device).toBe('cpu');
      expect(runtimeLines).toEqual([`[tf-backend] tensorflow-gpu: no GPU visible (${missing}); running on the CPU`]);
      expect(result.describe).toMatch(/^tensorflow-gpu \(libtensorflow 2\.\d+\.\d+.*, on the CPU;/);
    } else {
      // A machine with a GPU: libtensorflow uses it silently, or says why not in the same one line.
      if (result.device === 'gpu') expect(runtimeLines).toEqual([]);
      else
        expect(runtimeLines).toEqual([
          expect.stringMatching(/^\[tf-backend\] tensorflow-gpu: no GPU visible \(.+\); running on the CPU$/),
        ]);
    }
    expectRealPrediction(result);
  });

  it('PIXELFLOW_TF_BACKEND=auto stays on the CPU build where no GPU shows, even with the CUDA build installed', async () => {
    const missing = nodeLoaders.gpuMissing();
    const { result, runtimeLines, stderr } = await runChild('auto');
    expect(result.backend, stderr).toBe(missing ? 'tensorflow' : 'tensorflow-gpu');
    expect(result.addons).toHaveLength(1);
    expect(result.addons[0]).toMatch(missing ? /@tensorflow\/tfjs-node\/lib\// : /@tensorflow\/tfjs-node-gpu\/lib\//);
    if (missing) expect(runtimeLines).toEqual([]);
    expectRealPrediction(result);
  });
});
