// Fashion-MNIST from Debian's dataset-fashion-mnist package: gzipped idx files in
// /usr/share/datasets/fashion-mnist/. Used by the importer (real PNGs into the pipeline), the
// trainer's accuracy checks and the demo. Installs the package when missing and allowed to.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { PixelflowError } from '../core/errors.ts';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_PACKAGE = 'dataset-fashion-mnist';

/** Class names by label index, as upstream defines them. */
export const FASHION_MNIST_LABELS = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const);

export type FashionMnistSplit = 'train' | 'test';

export interface FashionMnist {
  split: FashionMnistSplit;
  count: number;
  rows: number;
  cols: number;
  /** count × rows × cols grey bytes, image after image */
  images: Uint8Array;
  /** label index per image (see FASHION_MNIST_LABELS) */
  labels: Uint8Array;
}

const FILES: Record<FashionMnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
};

/** Parses an (uncompressed) idx file of unsigned bytes: magic 0x00000800 | ndims, dims, data. */
export function parseIdx(buf: Uint8Array): { dims: number[]; data: Uint8Array } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 4 || view.getUint16(0) !== 0 || buf[2] !== 0x08) {
    throw new PixelflowError('CORRUPT_IMAGE', 'not an idx file of unsigned bytes');
  }
  const ndims = buf[3];
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + i * 4));
  const offset = 4 + ndims * 4;
  const size = dims.reduce((a, b) => a * b, 1);
  if (buf.length < offset + size) {
    throw new PixelflowError(
      'TRUNCATED_IMAGE',
      `idx file holds ${buf.length - offset} bytes of data; its header says ${size}`,
    );
  }
  return { dims, data: buf.subarray(offset, offset + size) };
}

export interface ReadFashionMnistOptions {
  /** @default /usr/share/datasets/fashion-mnist */
  dir?: string;
  /** Install the Debian package when the files are missing (needs root or passwordless sudo). @default true */
  install?: boolean;
  log?: (line: string) => void;
}

/** Whether the files of a split are present. */
export function fashionMnistAvailable(split: FashionMnistSplit, dir = FASHION_MNIST_DIR): boolean {
  return existsSync(join(dir, FILES[split].images)) && existsSync(join(dir, FILES[split].labels));
}

const run = promisify(execFile);

/** Installs dataset-fashion-mnist with apt-get (as root, or via `sudo -n`), updating lists once if needed. */
export async function installFashionMnist(log: (line: string) => void = () => {}): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  const apt = (args: string[]) => {
    const cmd = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args];
    const [bin, ...rest] = asRoot ? cmd : ['sudo', '-n', ...cmd];
    return run(bin, rest, { maxBuffer: 16 * 1024 * 1024 });
  };
  log(`installing ${FASHION_MNIST_PACKAGE} with apt-get`);
  try {
    await apt(['install', '-y', '--no-install-recommends', FASHION_MNIST_PACKAGE]);
  } catch {
    log('apt-get install failed; running apt-get update and retrying');
    try {
      await apt(['update']);
      await apt(['install', '-y', '--no-install-recommends', FASHION_MNIST_PACKAGE]);
    } catch (err) {
      throw new PixelflowError(
        'NOT_FOUND',
        `Fashion-MNIST is not installed and installing ${FASHION_MNIST_PACKAGE} failed; run \`apt-get install ${FASHION_MNIST_PACKAGE}\` as root`,
        { cause: err },
      );
    }
  }
}

/** Reads one split into memory (train: 47 MB, test: 8 MB). */
export async function readFashionMnist(
  split: FashionMnistSplit,
  opts: ReadFashionMnistOptions = {},
): Promise<FashionMnist> {
  const dir = opts.dir ?? FASHION_MNIST_DIR;
  if (!fashionMnistAvailable(split, dir)) {
    if (opts.install === false || dir !== FASHION_MNIST_DIR) {
      throw new PixelflowError(
        'NOT_FOUND',
        `Fashion-MNIST ${split} files are missing in ${dir}; install ${FASHION_MNIST_PACKAGE}`,
      );
    }
    await installFashionMnist(opts.log);
  }
  const gunzipAsync = promisify(gunzip);
  const [imgBuf, lblBuf] = await Promise.all([
    readFile(join(dir, FILES[split].images)).then((b) => gunzipAsync(b)),
    readFile(join(dir, FILES[split].labels)).then((b) => gunzipAsync(b)),
  ]);
  const images = parseIdx(imgBuf);
  const labels = parseIdx(lblBuf);
  if (images.dims.length !== 3 || labels.dims.length !== 1 || images.dims[0] !== labels.dims[0]) {
    throw new PixelflowError('CORRUPT_IMAGE', `Fashion-MNIST ${split}: image and label files disagree`);
  }
  return {
    split,
    count: images.dims[0],
    rows: images.dims[1],
    cols: images.dims[2],
    images: images.data,
    labels: labels.data,
  };
}

/** The grey pixels of image i (a view, no copy). */
export function fashionMnistImage(ds: FashionMnist, i: number): Uint8Array {
  const n = ds.rows * ds.cols;
  return ds.images.subarray(i * n, (i + 1) * n);
}

export function fashionMnistLabel(ds: FashionMnist, i: number): string {
  return FASHION_MNIST_LABELS[ds.labels[i]];
}
