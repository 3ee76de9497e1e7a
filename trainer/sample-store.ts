// Growable, compact storage for one split's samples while a replay streams in: the tensor bytes
// as they came off Kafka (uint8, 784 B per Fashion-MNIST image) plus a class id, never one object
// per event. Converted to float32 once, in chunks, when training starts.

import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import { tensorLength } from '../lib/core/preprocess-spec.ts';
import { packBatch } from '../lib/ml/tensor-batch.ts';
import type { ImagePreprocessed } from '../schemas/index.ts';

type Sample = Pick<ImagePreprocessed, 'shape' | 'dtype' | 'data' | 'scale' | 'bias'>;

const PACK_CHUNK = 4096;

export class SampleStore {
  readonly spec: PreprocessSpec;
  readonly sampleLength: number;
  count = 0;
  /** uint8 samples as stored; float32 samples are kept as their raw little-endian bytes */
  private bytes: Uint8Array;
  private dtypes: Uint8Array;
  private scales: Float32Array;
  private biases: Float32Array;
  private classIds: Int32Array;
  private capacity: number;

  constructor(spec: PreprocessSpec, initialCapacity = 1024) {
    this.spec = spec;
    this.sampleLength = tensorLength(spec);
    this.capacity = Math.max(1, initialCapacity);
    // float32 events need 4 bytes per value: room is reserved lazily by bytesPerSample.
    this.bytes = new Uint8Array(this.capacity * this.sampleLength);
    this.dtypes = new Uint8Array(this.capacity);
    this.scales = new Float32Array(this.capacity);
    this.biases = new Float32Array(this.capacity);
    this.classIds = new Int32Array(this.capacity);
  }

  private stride = 1;

  private grow(minCapacity: number, stride: number): void {
    const capacity = Math.max(minCapacity, Math.ceil(this.capacity * 1.5));
    const bytes = new Uint8Array(capacity * this.sampleLength * stride);
    if (stride === this.stride) {
      bytes.set(this.bytes.subarray(0, this.count * this.sampleLength * this.stride));
    } else {
      // Widening for the first float32 sample: re-lay every earlier sample at the new stride.
      for (let i = 0; i < this.count; i++) {
        bytes.set(
          this.bytes.subarray(i * this.sampleLength * this.stride, (i + 1) * this.sampleLength * this.stride),
          i * this.sampleLength * stride,
        );
      }
    }
    this.bytes = bytes;
    const copy = <T extends Uint8Array | Float32Array | Int32Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old.subarray(0, this.count) as never);
      return next;
    };
    this.dtypes = copy(this.dtypes, (n) => new Uint8Array(n));
    this.scales = copy(this.scales, (n) => new Float32Array(n));
    this.biases = copy(this.biases, (n) => new Float32Array(n));
    this.classIds = copy(this.classIds, (n) => new Int32Array(n));
    this.capacity = capacity;
    this.stride = stride;
  }

  /** Appends one sample (its bytes are copied). The caller has checked shape and length. */
  push(sample: Sample, classId: number): void {
    const isFloat = sample.dtype === 'float32';
    const stride = isFloat ? 4 : this.stride;
    if (this.count >= this.capacity || stride !== this.stride) this.grow(this.count + 1, Math.max(stride, this.stride));
    const at = this.count * this.sampleLength * this.stride;
    this.bytes.set(sample.data, at);
    this.dtypes[this.count] = isFloat ? 1 : 0;
    this.scales[this.count] = sample.scale ?? this.spec.scale;
    this.biases[this.count] = sample.bias ?? this.spec.bias;
    this.classIds[this.count] = classId;
    this.count++;
  }

  /** Class ids, remapped (e.g. from arrival order to sorted label order). */
  labels(remap?: Int32Array): Int32Array {
    const out = this.classIds.slice(0, this.count);
    if (remap) for (let i = 0; i < out.length; i++) out[i] = remap[out[i]];
    return out;
  }

  private view(i: number): Sample {
    const len = this.sampleLength;
    const isFloat = this.dtypes[i] === 1;
    const start = i * len * this.stride;
    const data = this.bytes.subarray(start, start + len * (isFloat ? 4 : 1));
    return {
      shape: [this.spec.height, this.spec.width, this.spec.channels],
      dtype: isFloat ? 'float32' : 'uint8',
      data: (isFloat ? alignedCopy(data) : data) as Buffer,
      scale: this.scales[i],
      bias: this.biases[i],
    };
  }

  /** All samples as one NHWC float32 array, packed with lib/ml/tensor-batch in chunks. */
  toFloat32(): Float32Array {
    const out = new Float32Array(this.count * this.sampleLength);
    for (let start = 0; start < this.count; start += PACK_CHUNK) {
      const end = Math.min(this.count, start + PACK_CHUNK);
      const views: Sample[] = [];
      for (let i = start; i < end; i++) views.push(this.view(i));
      out.set(packBatch(this.spec, views).data, start * this.sampleLength);
    }
    return out;
  }

  /** Frees the buffers once the samples are on the TensorFlow side. */
  release(): void {
    this.bytes = new Uint8Array(0);
    this.capacity = 0;
  }
}

function alignedCopy(bytes: Uint8Array): Uint8Array {
  // packBatch views float32 data in place, which needs a 4-byte-aligned offset.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}
