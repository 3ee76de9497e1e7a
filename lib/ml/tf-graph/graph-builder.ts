// A GraphDef under construction: nodes appended in order, names made unique, and the few node
// shapes (constants, placeholders, Shape) every part of the compiler needs.
import { type Attr, type DataType, DT, type NodeDef } from './proto.ts';

/** float32, the graphs' only float type. */
export const F = DT.float;
/** The `T: float` attribute most ops take. */
export const T: Record<string, Attr> = { T: { type: F } };

export class Graph {
  readonly nodes: NodeDef[] = [];
  private readonly used = new Set<string>();

  op(name: string, op: string, inputs: string[] = [], attrs: Record<string, Attr> = {}): string {
    let unique = name;
    for (let k = 1; this.used.has(unique); k++) unique = `${name}_${k}`;
    this.used.add(unique);
    this.nodes.push({ name: unique, op, inputs, attrs });
    return unique;
  }

  constInt(name: string, values: number[], shape: number[] = [values.length]): string {
    return this.op(name, 'Const', [], {
      dtype: { type: DT.int32 },
      value: { tensor: { dtype: DT.int32, shape, values } },
    });
  }

  constFloat(name: string, value: number): string {
    return this.op(name, 'Const', [], {
      dtype: { type: F },
      value: { tensor: { dtype: F, shape: [], values: [value] } },
    });
  }

  placeholder(name: string, dtype: DataType, shape: number[] | null): string {
    return this.op(name, 'Placeholder', [], { dtype: { type: dtype }, shape: { shape } });
  }

  shape(name: string, x: string): string {
    return this.op(name, 'Shape', [x], { ...T, out_type: { type: DT.int32 } });
  }
}
