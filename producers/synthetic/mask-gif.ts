// Binary masks as GIFs the way Carvana ships them: a two-colour palette (index 0 black, 1 white),
// so a reader that takes palette indices sees 0/1 and one that takes colours sees 0/255. sharp's
// GIF writer (cgif, via lib/image/decode.ts) reserves index 0 for transparency and puts black and
// white at 1 and 2, which breaks index readers; this small LZW encoder writes the exact layout.

/** GIF89a of a width × height mask (any non-zero value is foreground). */
export function encodeMaskGif(mask: Uint8Array, width: number, height: number): Uint8Array {
  if (mask.length !== width * height) throw new Error(`mask has ${mask.length} values, expected ${width}×${height}`);
  const out: number[] = [];
  const u16 = (v: number) => out.push(v & 0xff, (v >> 8) & 0xff);
  out.push(...Buffer.from('GIF89a', 'ascii'));
  u16(width);
  u16(height);
  // global colour table present, 1 bit of colour resolution, table of 2 entries
  out.push(0x80, 0, 0);
  out.push(0, 0, 0, 255, 255, 255);
  // image descriptor: whole screen, no local table, not interlaced
  out.push(0x2c);
  u16(0);
  u16(0);
  u16(width);
  u16(height);
  out.push(0);
  const MIN = 2;
  out.push(MIN);
  const data = lzw(mask, MIN);
  for (let i = 0; i < data.length; i += 255) {
    const block = data.subarray(i, i + 255);
    out.push(block.length, ...block);
  }
  out.push(0, 0x3b);
  return Uint8Array.from(out);
}

// Variable-width LZW as GIF decoders expect it (the code size grows when the next code needs a
// bit more; a clear code restarts the table at 4096 entries).
function lzw(mask: Uint8Array, minSize: number): Uint8Array {
  const clear = 1 << minSize;
  const eoi = clear + 1;
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  let size = minSize + 1;
  const emit = (code: number) => {
    acc |= code << bits;
    bits += size;
    while (bits >= 8) {
      bytes.push(acc & 0xff);
      acc >>>= 8;
      bits -= 8;
    }
  };
  let table = new Map<number, number>();
  let next = eoi + 1;
  emit(clear);
  if (mask.length === 0) {
    emit(eoi);
  } else {
    let prefix = mask[0] ? 1 : 0;
    for (let i = 1; i < mask.length; i++) {
      const k = mask[i] ? 1 : 0;
      const key = (prefix << 8) | k;
      const code = table.get(key);
      if (code !== undefined) {
        prefix = code;
        continue;
      }
      emit(prefix);
      if (next === 4096) {
        emit(clear);
        table = new Map();
        next = eoi + 1;
        size = minSize + 1;
      } else {
        if (next >= 1 << size) size++;
        table.set(key, next++);
      }
      prefix = k;
    }
    emit(prefix);
    emit(eoi);
  }
  if (bits > 0) bytes.push(acc & 0xff);
  return Uint8Array.from(bytes);
}
