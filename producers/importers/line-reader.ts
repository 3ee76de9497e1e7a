// Lines of a text file, streamed with a cap on line length: a CSV row of a 96×96 image is about
// 35 kB, and a file with no newline for gigabytes must not end up in one string. A line over the
// cap is reported as too long (its bytes dropped up to the next newline) and reading goes on.
import { createReadStream } from 'node:fs';

export type Line = { n: number; text: string } | { n: number; tooLong: number };

/** Lines numbered from 1, without their \n or \r\n. */
export async function* readLines(path: string, maxLineBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let length = 0;
  let dropped = 0;
  let n = 0;
  const finish = (): Line => {
    n++;
    if (dropped > 0) {
      const line = { n, tooLong: dropped + length };
      dropped = 0;
      parts = [];
      length = 0;
      return line;
    }
    let text = Buffer.concat(parts, length).toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    parts = [];
    length = 0;
    return { n, text };
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 }) as AsyncIterable<Buffer>) {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      const end = nl < 0 ? chunk.length : nl;
      if (dropped > 0 || length + (end - from) > maxLineBytes) {
        dropped += length + (end - from);
        parts = [];
        length = 0;
      } else if (end > from) {
        parts.push(chunk.subarray(from, end));
        length += end - from;
      }
      if (nl < 0) break;
      yield finish();
      from = nl + 1;
    }
  }
  if (length > 0 || dropped > 0) yield finish();
}
