// A small ONNX graph builder over onnx-proto's generated classes: nodes with unique output
// names, float initializers stored as raw little-endian bytes, and the few attribute kinds
// the Light CNN needs. onnx-export.ts writes the network with it.
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

const { onnx } = onnxProto;

/** The opset the graph is written against, and the IR version that goes with it (ONNX 1.8). */
export const OPSET = 13;
export const IR_VERSION = 7;

export type AttributeValue = number | readonly number[] | { readonly float: number };

/** An integer attribute is a number (or a list of them); a float one is `{ float: x }`. */
function attribute(name: string, value: AttributeValue): Onnx.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`internal: attribute ${name} = ${value} is not an integer; pass { float } for a float`);
    return { name, type: AttributeType.INT, i: value };
  }
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.INTS, ints: [...value] };
}

/** Float32 values as little-endian bytes, as TensorProto.raw_data stores them whatever the machine. */
export function floatBytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return bytes;
}

/** A float32 value's type: `dims` entries are sizes, or the names of dynamic dimensions. */
export function floatValueInfo(name: string, dims: readonly (number | string)[], docString?: string): Onnx.IValueInfoProto {
  return {
    name,
    ...(docString === undefined ? {} : { docString }),
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class GraphBuilder {
  readonly nodes: Onnx.INodeProto[] = [];
  readonly initializers: Onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly scalars = new Map<number, string>();

  /** Reserves a value name; a name taken twice is a bug in the exporter. */
  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`internal: ONNX value ${name} defined twice`);
    this.used.add(name);
    return name;
  }

  /** A node with one output, named `output` (the node takes the same name). */
  op(opType: string, output: string, inputs: readonly string[], attributes: Readonly<Record<string, AttributeValue>> = {}, docString?: string): string {
    this.opMany(opType, output, inputs, [output], attributes, docString);
    return output;
  }

  /** A node with several outputs `name:0`, `name:1`, ... */
  opSplit(opType: string, name: string, inputs: readonly string[], count: number, attributes: Readonly<Record<string, AttributeValue>> = {}): string[] {
    const outputs = Array.from({ length: count }, (_, i) => `${name}:${i}`);
    this.opMany(opType, name, inputs, outputs, attributes);
    return outputs;
  }

  private opMany(opType: string, name: string, inputs: readonly string[], outputs: readonly string[], attributes: Readonly<Record<string, AttributeValue>>, docString?: string): void {
    for (const input of inputs) if (!this.used.has(input)) throw new Error(`internal: ONNX node ${name} reads ${input}, which nothing defines yet`);
    for (const output of outputs) this.claim(output);
    this.nodes.push({
      name,
      opType,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
      ...(docString === undefined ? {} : { docString }),
    });
  }

  /** A graph input (its name becomes usable by nodes). */
  input(name: string): string {
    return this.claim(name);
  }

  /** A float32 initializer of shape `dims`. */
  initializer(name: string, dims: readonly number[], values: ArrayLike<number>, docString?: string): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (values.length !== size) throw new Error(`internal: initializer ${name} has ${values.length} values for shape [${dims.join(', ')}]`);
    this.initializers.push({
      name: this.claim(name),
      dims: [...dims],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: floatBytes(values),
      ...(docString === undefined ? {} : { docString }),
    });
    return name;
  }

  /** A float32 scalar constant named `constant.<label>`, shared by every node that needs the same value. */
  scalar(value: number, label: string): string {
    const existing = this.scalars.get(value);
    if (existing !== undefined) return existing;
    const name = this.initializer(`constant.${label}`, [], [value], `the constant ${value}`);
    this.scalars.set(value, name);
    return name;
  }
}

export { onnx };
