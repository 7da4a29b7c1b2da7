/**
 * The ONNX messages an exported DCGAN needs (onnx/onnx.proto), as plain objects, and their
 * encoding with our protobuf writer. Field numbers are those of onnx.proto:
 *
 * - ModelProto: ir_version 1, producer_name 2, producer_version 3, doc_string 6, graph 7,
 *   opset_import 8, metadata_props 14
 * - OperatorSetIdProto: domain 1, version 2
 * - GraphProto: node 1, name 2, initializer 5, doc_string 10, input 11, output 12
 * - NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, domain 7
 * - AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, type 20
 * - TensorProto: dims 1, data_type 2, float_data 4 (packed), int64_data 7 (packed), name 8
 * - ValueInfoProto: name 1, type 2; TypeProto: tensor_type 1; TypeProto.Tensor: elem_type 1,
 *   shape 2; TensorShapeProto: dim 1; Dimension: dim_value 1, dim_param 2
 * - StringStringEntryProto: key 1, value 2
 */
import { ProtoWriter } from './protobuf.js';

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT64: 7 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values used here. */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

/** An initializer or constant: float32 values, or int64 values (shapes for Reshape). */
export type OnnxTensor =
  | { name: string; dataType: typeof DataType.FLOAT; dims: readonly number[]; data: Float32Array }
  | { name: string; dataType: typeof DataType.INT64; dims: readonly number[]; data: readonly number[] };

/** One attribute value; the key says its ONNX type. */
export type OnnxAttribute = { float: number } | { int: number } | { string: string } | { floats: readonly number[] } | { ints: readonly number[] };

export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  /** Empty or absent: the default domain (ai.onnx). */
  domain?: string;
  attributes?: Readonly<Record<string, OnnxAttribute>>;
}

/** A graph input or output: a tensor type and shape; a string dimension is symbolic (e.g. 'N'). */
export interface OnnxValueInfo {
  name: string;
  elemType: DataTypeCode;
  shape: ReadonlyArray<number | string>;
  docString?: string;
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  docString?: string;
}

export interface OnnxModel {
  irVersion: number;
  opsetImports: ReadonlyArray<{ domain: string; version: number }>;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  graph: OnnxGraph;
  /** metadata_props: string key–value pairs. */
  metadata?: Readonly<Record<string, string>>;
}

function writeTensor(w: ProtoWriter, t: OnnxTensor): void {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== count) {
    throw new RangeError(`onnx: tensor ${t.name} has ${t.data.length} values for dims [${t.dims.join(', ')}]`);
  }
  if (t.dims.length > 0) w.packedInts(1, t.dims as number[]);
  w.int(2, t.dataType);
  if (t.dataType === DataType.FLOAT) w.packedFloats(4, t.data);
  else w.packedInts(7, t.data as number[]);
  w.string(8, t.name);
}

function writeAttribute(w: ProtoWriter, name: string, a: OnnxAttribute): void {
  w.string(1, name);
  if ('float' in a) w.float(2, a.float).int(20, AttributeType.FLOAT);
  else if ('int' in a) w.int(3, a.int).int(20, AttributeType.INT);
  else if ('string' in a) w.string(4, a.string).int(20, AttributeType.STRING);
  else if ('floats' in a) w.packedFloats(7, a.floats).int(20, AttributeType.FLOATS);
  else w.packedInts(8, a.ints as number[]).int(20, AttributeType.INTS);
}

function writeNode(w: ProtoWriter, n: OnnxNode): void {
  for (const input of n.inputs) w.string(1, input);
  for (const output of n.outputs) w.string(2, output);
  if (n.name !== undefined) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes ?? {})) w.message(5, (m) => writeAttribute(m, name, a));
  if (n.domain) w.string(7, n.domain);
}

function writeValueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.elemType);
      tensor.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => (typeof d === 'string' ? dim.string(2, d) : dim.int(1, d)));
        }
      });
    }),
  );
  if (v.docString !== undefined) w.string(3, v.docString);
}

function writeGraph(w: ProtoWriter, g: OnnxGraph): void {
  for (const n of g.nodes) w.message(1, (m) => writeNode(m, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (m) => writeTensor(m, t));
  if (g.docString !== undefined) w.string(10, g.docString);
  for (const v of g.inputs) w.message(11, (m) => writeValueInfo(m, v));
  for (const v of g.outputs) w.message(12, (m) => writeValueInfo(m, v));
}

/** The serialized ModelProto: the bytes of a `.onnx` file. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, model.irVersion);
  if (model.producerName !== undefined) w.string(2, model.producerName);
  if (model.producerVersion !== undefined) w.string(3, model.producerVersion);
  if (model.docString !== undefined) w.string(6, model.docString);
  w.message(7, (m) => writeGraph(m, model.graph));
  for (const o of model.opsetImports) w.message(8, (m) => m.string(1, o.domain).int(2, o.version));
  for (const [key, value] of Object.entries(model.metadata ?? {})) w.message(14, (m) => m.string(1, key).string(2, value));
  return w.finish();
}
