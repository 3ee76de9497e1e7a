// The few TensorFlow protobuf messages a training graph needs (SavedModel → MetaGraphDef →
// GraphDef → NodeDef → AttrValue), written by hand: a proto3 writer is forty lines, and a
// protobuf dependency plus TensorFlow's .proto files would be hundreds. Field numbers are from
// tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape,types}.proto and
// tensorflow/core/protobuf/{saved_model,meta_graph}.proto.

/** tensorflow.DataType */
export const DT = { float: 1, int32: 3, int64: 9, bool: 10, resource: 20 } as const;
export type DataType = (typeof DT)[keyof typeof DT];

/** One protobuf message under construction: fields appended in any order. */
class Writer {
  private readonly parts: Buffer[] = [];

  private varint(v: bigint): void {
    // int64 fields: negatives are 10-byte two's complement, as protobuf encodes them.
    let n = BigInt.asUintN(64, v);
    const out: number[] = [];
    while (n >= 0x80n) {
      out.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    out.push(Number(n));
    this.parts.push(Buffer.from(out));
  }

  private tag(field: number, wire: 0 | 1 | 2 | 5): void {
    this.varint(BigInt((field << 3) | wire));
  }

  int(field: number, v: number | bigint | boolean): this {
    this.tag(field, 0);
    this.varint(BigInt(typeof v === 'boolean' ? Number(v) : v));
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.parts.push(b);
    return this;
  }

  bytes(field: number, v: string | Uint8Array): this {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    this.tag(field, 2);
    this.varint(BigInt(b.length));
    this.parts.push(b);
    return this;
  }

  message(field: number, m: Writer): this {
    return this.bytes(field, m.finish());
  }

  /** Packed repeated varints (proto3's default for scalar lists). */
  packed(field: number, vs: ReadonlyArray<number | boolean>): this {
    const inner = new Writer();
    for (const v of vs) inner.varint(BigInt(typeof v === 'boolean' ? Number(v) : v));
    return this.bytes(field, inner.finish());
  }

  packedFloat(field: number, vs: readonly number[]): this {
    const b = Buffer.alloc(vs.length * 4);
    for (const [i, v] of vs.entries()) b.writeFloatLE(v, i * 4);
    return this.bytes(field, b);
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** An attribute value; the union of what our ops use. */
export type Attr =
  | { s: string }
  | { i: number }
  | { f: number }
  | { b: boolean }
  | { type: DataType }
  | { shape: readonly number[] | null }
  | { tensor: ConstTensor }
  | { list: { i?: readonly number[]; s?: readonly string[]; type?: readonly DataType[] } };

/** A constant: float32 or int32 values with a shape (scalars: shape []). A Float32Array goes as raw bytes. */
export interface ConstTensor {
  dtype: typeof DT.float | typeof DT.int32;
  shape: readonly number[];
  values: readonly number[] | Float32Array;
}

export interface NodeDef {
  name: string;
  op: string;
  /** "node", "node:1", or "^node" for a control dependency (after the data inputs). */
  inputs?: readonly string[];
  attrs?: Readonly<Record<string, Attr>>;
}

/** TensorShapeProto; null = unknown rank, -1 = unknown dimension. */
function shapeProto(shape: readonly number[] | null): Writer {
  const w = new Writer();
  if (shape === null) return w.int(3, true);
  for (const d of shape) w.message(2, new Writer().int(1, d));
  return w;
}

function tensorProto(t: ConstTensor): Writer {
  const w = new Writer().int(1, t.dtype).message(2, shapeProto(t.shape));
  // tensor_content is the values' little-endian bytes, as a Float32Array holds them on x86 and arm.
  if (t.values instanceof Float32Array)
    return w.bytes(4, new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength));
  if (t.dtype === DT.float) w.packedFloat(5, t.values);
  else w.packed(7, t.values);
  return w;
}

function attrProto(a: Attr): Writer {
  const w = new Writer();
  if ('s' in a) return w.bytes(2, a.s);
  if ('i' in a) return w.int(3, a.i);
  if ('f' in a) return w.float(4, a.f);
  if ('b' in a) return w.int(5, a.b);
  if ('type' in a) return w.int(6, a.type);
  if ('shape' in a) return w.message(7, shapeProto(a.shape));
  if ('tensor' in a) return w.message(8, tensorProto(a.tensor));
  const list = new Writer();
  for (const s of a.list.s ?? []) list.bytes(2, s);
  if (a.list.i?.length) list.packed(3, a.list.i);
  if (a.list.type?.length) list.packed(6, a.list.type);
  return w.message(1, list);
}

function nodeProto(n: NodeDef): Writer {
  const w = new Writer().bytes(1, n.name).bytes(2, n.op);
  for (const i of n.inputs ?? []) w.bytes(3, i);
  for (const [k, v] of Object.entries(n.attrs ?? {})) {
    w.message(5, new Writer().bytes(1, k).message(2, attrProto(v)));
  }
  return w;
}

/**
 * GraphDef producer version: the graph's ops take their current semantics. TensorFlow 2.21
 * reads any producer from 0 up to its own (2.21's TF_GRAPH_DEF_VERSION is well above this).
 */
const PRODUCER = 1205;

/** saved_model.pb holding one MetaGraphDef with `tags` and no variables or signatures. */
export function savedModelBytes(nodes: readonly NodeDef[], tags: readonly string[]): Buffer {
  const graph = new Writer();
  for (const n of nodes) graph.message(1, nodeProto(n));
  graph.message(4, new Writer().int(1, PRODUCER));
  const info = new Writer();
  for (const t of tags) info.bytes(4, t);
  const meta = new Writer().message(1, info).message(2, graph);
  return new Writer().int(1, 1).message(2, meta).finish();
}
