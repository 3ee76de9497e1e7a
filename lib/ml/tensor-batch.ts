// Packs preprocessed events (uint8 HWC + scale/bias) into one float32 NHWC buffer, so a batch
// becomes a tensor with a single copy. Pure: tests need no TensorFlow.
import type { ImagePreprocessed } from '../../schemas/index.ts';
import type { PreprocessSpec } from '../core/preprocess-spec.ts';
import { tensorLength } from '../core/preprocess-spec.ts';

export interface PackedBatch {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** Throws if an event's shape or dtype does not match the spec (a model-incompatible input). */
export function packBatch(
  spec: PreprocessSpec,
  events: ReadonlyArray<Pick<ImagePreprocessed, 'shape' | 'dtype' | 'data' | 'scale' | 'bias'>>,
): PackedBatch {
  const len = tensorLength(spec);
  const data = new Float32Array(events.length * len);
  events.forEach((e, i) => {
    if (e.shape[0] !== spec.height || e.shape[1] !== spec.width || e.shape[2] !== spec.channels) {
      throw new Error(`tensor shape [${e.shape.join(',')}] does not match spec ${spec.version}`);
    }
    const scale = e.scale ?? spec.scale;
    const bias = e.bias ?? spec.bias;
    const offset = i * len;
    if (e.dtype === 'uint8') {
      if (e.data.length !== len) throw new Error(`tensor has ${e.data.length} bytes, expected ${len}`);
      for (let j = 0; j < len; j++) data[offset + j] = e.data[j] * scale + bias;
    } else {
      const f = new Float32Array(e.data.buffer, e.data.byteOffset, e.data.byteLength / 4);
      if (f.length !== len) throw new Error(`tensor has ${f.length} floats, expected ${len}`);
      for (let j = 0; j < len; j++) data[offset + j] = f[j] * scale + bias;
    }
  });
  return { data, shape: [events.length, spec.height, spec.width, spec.channels] };
}
