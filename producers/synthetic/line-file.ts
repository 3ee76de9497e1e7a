// A text file written line by line with backpressure, so a CSV of tens of thousands of 96×96
// images never sits in memory whole. close() is idempotent and waits for the bytes to be on disk.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

export interface LineFile {
  write(line: string): Promise<void>;
  close(): Promise<void>;
}

export function createLineFile(path: string): LineFile {
  const stream = createWriteStream(path, { encoding: 'utf8' });
  let failure: Error | null = null;
  stream.on('error', (err) => {
    failure = err;
  });
  let closing: Promise<void> | null = null;
  return {
    async write(line) {
      if (failure) throw failure;
      // once() also rejects on 'error' and removes its listeners either way
      if (!stream.write(`${line}\n`)) await once(stream, 'drain');
      if (failure) throw failure;
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        if (failure) return reject(failure);
        stream.end(() => (failure ? reject(failure) : resolve()));
      });
      return closing;
    },
  };
}

/** Coordinates as text: six decimals are far below a pixel, trailing zeros dropped. */
export function coord(v: number): string {
  return String(Number(v.toFixed(6)));
}
