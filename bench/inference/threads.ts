// bench/inference's threads section (full run only): predictOnBatch at batch 1, 64 and 256 under
// other native thread settings, each in a child process of the bench (libtensorflow reads them once).
import { fileURLToPath } from 'node:url';
import { initTensorflow } from '../../lib/ml/tf-backend.ts';
import { formatStats, printTable, type Stats } from '../harness.ts';
import { runJsonChild } from '../lib/child-process.ts';
import { rawThroughput } from './raw.ts';

/** The bench's entry file, which runs childRaw when given --child-raw. */
const ENTRY = fileURLToPath(new URL('../inference.ts', import.meta.url));

/** The child's side: raw predictOnBatch throughput as the last stdout line. */
export async function childRaw(): Promise<void> {
  const rt = await initTensorflow({ log: () => {} });
  const out = await rawThroughput(rt, [1, 64, 256], 1024, ['predictOnBatch']);
  console.log(JSON.stringify({ describe: rt.describe(), out }));
}

export function threads(): unknown[] {
  const settings = [
    { intra: 2, inter: 1 },
    { intra: 1, inter: 1 },
    { intra: 2, inter: 2 },
    { intra: 4, inter: 1 },
  ];
  const rows: string[][] = [];
  const out: unknown[] = [];
  for (const s of settings) {
    const r = runJsonChild<{ out: Record<string, { predictOnBatch: { perSecond: Stats } }> }>(ENTRY, ['--child-raw'], {
      env: { ...process.env, TF_NUM_INTRAOP_THREADS: String(s.intra), TF_NUM_INTEROP_THREADS: String(s.inter) },
      stderr: 'pipe',
    });
    out.push({ ...s, ...r });
    rows.push([`${s.intra} / ${s.inter}`, ...[1, 64, 256].map((n) => formatStats(r.out[n].predictOnBatch.perSecond))]);
  }
  printTable(
    'predictOnBatch samples/s by native thread setting (intra-op / inter-op)',
    ['threads', 'batch 1', 'batch 64', 'batch 256'],
    rows,
  );
  return out;
}
