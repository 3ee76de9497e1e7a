// The demo's REST step: real PNGs through POST /v1/images, one request per class (the label is a
// form field), plus a few broken files to show what happens to bad input.

import { encodeImage } from '../../lib/image/decode.ts';
import { FASHION_MNIST_LABELS, readFashionMnist } from '../../lib/image/fashion-mnist.ts';

export interface UploadResult {
  accepted: number;
  corruptAccepted: number;
  refused: number;
  refusedReasons: string[];
}

async function post(
  baseUrl: string,
  files: Array<{ name: string; bytes: Uint8Array; type: string }>,
  fields: Record<string, string>,
) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const f of files) form.append('file', new Blob([f.bytes], { type: f.type }), f.name);
  const res = await fetch(`${baseUrl}/v1/images`, { method: 'POST', body: form });
  const body = (await res.json().catch(() => ({}))) as { ids?: string[]; error?: string; message?: string };
  return { status: res.status, body };
}

export async function uploadFashionMnist(
  baseUrl: string,
  opts: { offset: number; count: number; corrupt: boolean },
): Promise<UploadResult> {
  const data = await readFashionMnist('train');
  const byLabel = new Map<string, Array<{ name: string; bytes: Uint8Array; type: string }>>();
  for (let i = opts.offset; i < opts.offset + opts.count; i++) {
    const label = FASHION_MNIST_LABELS[data.labels[i]];
    const png = await encodeImage(
      { data: data.images.subarray(i * 784, (i + 1) * 784), width: 28, height: 28, channels: 1 },
      'png',
    );
    const list = byLabel.get(label) ?? [];
    list.push({ name: `train-${i}.png`, bytes: png, type: 'image/png' });
    byLabel.set(label, list);
  }
  const result: UploadResult = { accepted: 0, corruptAccepted: 0, refused: 0, refusedReasons: [] };
  for (const [label, files] of byLabel) {
    const res = await post(baseUrl, files, { label, dataset: 'fashion-mnist', split: 'train' });
    if (res.status !== 202)
      throw new Error(`upload of ${files.length} ${label} images answered ${res.status}: ${JSON.stringify(res.body)}`);
    result.accepted += res.body.ids?.length ?? 0;
  }
  if (opts.corrupt) {
    const good = byLabel.values().next().value?.[0]?.bytes ?? new Uint8Array();
    const broken = [
      // Pass the door (right magic bytes) and fail in preprocessing → DLQ with a reason.
      { name: 'truncated.png', bytes: good.subarray(0, Math.floor(good.length / 2)), type: 'image/png' },
      {
        name: 'garbled.jpg',
        bytes: Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, ...new Array(200).fill(0x41)]),
        type: 'image/jpeg',
      },
      // Refused at the door with a 4xx.
      { name: 'notes.png', bytes: new TextEncoder().encode('this is not an image'), type: 'image/png' },
      { name: 'empty.png', bytes: new Uint8Array(), type: 'image/png' },
    ];
    for (const f of broken) {
      const res = await post(baseUrl, [f], { split: 'unlabeled', dataset: 'demo-broken' });
      if (res.status === 202) {
        result.accepted += 1;
        result.corruptAccepted += 1;
      } else {
        result.refused += 1;
        result.refusedReasons.push(`${f.name}: ${res.status} ${res.body.error ?? ''}`.trim());
      }
    }
  }
  return result;
}
