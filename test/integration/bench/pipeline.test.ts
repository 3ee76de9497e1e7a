// bench/pipeline's --quick path at one low rate for a few seconds on the real stack, so the bench
// cannot rot: every accepted upload must show up as a prediction in the topic and a ClickHouse row,
// and every stage of the breakdown must have a figure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runPipelineBench } from '../../../bench/pipeline/run.ts';
import { readPipelineArgs } from '../../../bench/pipeline.ts';

const logDir = mkdtempSync(join(tmpdir(), 'pf-bench-pipeline-test-'));
afterAll(() => rmSync(logDir, { recursive: true, force: true }));

describe('bench/pipeline --quick', () => {
  it('runPipelineBench follows every accepted upload to its prediction and row when run at a low rate', async () => {
    const opts = readPipelineArgs([
      '--quick',
      '--formats',
      'png28',
      '--rates',
      '10',
      '--seconds',
      '2',
      '--training',
      'off',
    ]);
    expect(opts.maxSearch).toBe(false);
    const results = await runPipelineBench({ ...opts, logDir, drainMs: 60_000 });
    expect(results.cases).toHaveLength(1);
    const [c] = results.cases;
    expect(c.sent).toBe(20);
    expect(c.accepted).toBe(20);
    expect(c.breakdown.missingInTopic).toBe(0);
    expect(c.breakdown.missingInClickHouse).toBe(0);
    expect(c.breakdown.toTopic.n).toBe(20);
    expect(c.breakdown.toClickHouse.n).toBe(20);
    for (const s of c.breakdown.stages) {
      expect(s.n, s.name).toBe(20);
      expect(s.p50, s.name).toBeGreaterThanOrEqual(0);
    }
  }, 240_000);
});
