/**
 * ONNX export of our DCGAN generator and discriminator (IR version 8, opset 17), walking the
 * layers of `net.main` in order:
 *
 * - ConvTranspose2d → ConvTranspose, Conv2d → Conv (kernel_shape, strides, pads, output_padding;
 *   weights in PyTorch's layouts, which are ONNX's);
 * - BatchNorm2d → BatchNormalization in inference mode: the running statistics, whatever mode
 *   the module is in;
 * - ReLU → Relu, LeakyReLU → LeakyRelu (alpha), Tanh → Tanh, Sigmoid → Sigmoid;
 * - Linear → Gemm (transB = 1), Unflatten → Reshape, Flatten → Flatten.
 *
 * Initializers carry our state-dict names (`main.0.weight`, `main.1.running_mean`, …); the
 * batch dimension is symbolic (`N`). The generator maps `z` [N, nz, 1, 1] to `images`
 * [N, C, H, W] in [−1, 1]; the discriminator maps `images` to `logits` [N]. The torch-fidelity
 * variant of the generator takes `z` [N, nz] and returns uint8 RGB images [N, 3, H, W], quantised
 * as torchvision's save_image does (⌊127.5·x + 128⌋ clipped to [0, 255]; grey images repeated
 * into three channels, as torch-fidelity's feature extractors take only RGB).
 */
import { BatchNorm2d } from '../../nn/batchnorm.js';
import { Conv2d, ConvTranspose2d } from '../../nn/conv.js';
import { LeakyReLU, ReLU, Sigmoid, Tanh } from '../../nn/activation.js';
import { Linear } from '../../nn/linear.js';
import { Flatten, Unflatten } from '../../nn/reshape.js';
import { Sequential } from '../../nn/container.js';
import type { Module } from '../../nn/module.js';
import { DcganDiscriminator, DcganGenerator } from '../../models/dcgan.js';
import type { Tensor } from '../../tensor/tensor.js';
import { DataType, encodeOnnxModel, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './model.js';

export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;

export interface OnnxExportOptions {
  /**
   * Generator only: input `z` [N, nz] and output uint8 [N, 3, H, W] in [0, 255], the interface
   * of torch-fidelity's ONNX generative models.
   */
  torchFidelity?: boolean;
  /** producer_name in the file (default 'dcgan-ts'). */
  producer?: string;
  /** producer_version in the file. */
  producerVersion?: string;
}

/** A network or option that cannot be exported; the message is one line for the user. */
export class OnnxExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}

/** Per-sample shape of the value flowing through the layers: [C, H, W] or [features]. */
type SampleShape = number[];

function pair(value: number | readonly [number, number] | undefined, fallback: number): [number, number] {
  if (value === undefined) return [fallback, fallback];
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

function copy(t: Tensor): Float32Array {
  return t.toFloat32Array();
}

/** Collects nodes and initializers while the layers are walked. */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly names = new Set<string>();

  private claim(name: string): string {
    if (this.names.has(name)) throw new OnnxExportError(`ONNX export: the name ${name} is used twice`);
    this.names.add(name);
    return name;
  }

  floatInit(name: string, t: Tensor | Float32Array, dims?: readonly number[]): string {
    const data = t instanceof Float32Array ? t : copy(t);
    const shape = dims ?? (t instanceof Float32Array ? [t.length] : [...t.shape]);
    this.initializers.push({ name: this.claim(name), dataType: DataType.FLOAT, dims: shape, data });
    return name;
  }

  int64Init(name: string, values: readonly number[]): string {
    this.initializers.push({ name: this.claim(name), dataType: DataType.INT64, dims: [values.length], data: values });
    return name;
  }

  node(opType: string, name: string, inputs: readonly string[], output: string, attributes?: Record<string, OnnxAttribute>): string {
    this.claim(output);
    this.nodes.push({ opType, name, inputs, outputs: [output], ...(attributes ? { attributes } : {}) });
    return output;
  }

  /** Renames the output of the last node added (to give the graph's output its public name). */
  renameLastOutput(from: string, to: string): string {
    const last = this.nodes.at(-1);
    if (last === undefined || last.outputs[0] !== from) throw new OnnxExportError(`ONNX export: ${from} is not the last value computed`);
    this.names.delete(from);
    this.nodes[this.nodes.length - 1] = { ...last, outputs: [this.claim(to)] };
    return to;
  }
}

function describe(m: Module): string {
  return m.constructor.name;
}

function fail(path: string, module: Module, why: string): never {
  throw new OnnxExportError(`ONNX export: cannot export ${path} (${describe(module)}): ${why}`);
}

/** Adds the nodes of one layer; returns the output's name and per-sample shape. */
function exportLayer(g: GraphBuilder, path: string, m: Module, x: string, shape: SampleShape): [string, SampleShape] {
  const out = path;
  if (m instanceof ConvTranspose2d || m instanceof Conv2d) {
    if (shape.length !== 3) fail(path, m, `expects a [C, H, W] input, got [${shape.join(', ')}]`);
    const [c, h, w] = shape as [number, number, number];
    if (c !== m.inChannels) fail(path, m, `expects ${m.inChannels} input channels, got ${c}`);
    const [kh, kw] = pair(m.kernelSize, 1);
    const [sh, sw] = pair(m.options.stride, 1);
    const [ph, pw] = pair(m.options.padding, 0);
    const inputs = [x, g.floatInit(`${path}.weight`, m.weight)];
    if (m.bias !== null) inputs.push(g.floatInit(`${path}.bias`, m.bias));
    const attributes: Record<string, OnnxAttribute> = {
      dilations: { ints: [1, 1] },
      group: { int: 1 },
      kernel_shape: { ints: [kh, kw] },
      pads: { ints: [ph, pw, ph, pw] },
      strides: { ints: [sh, sw] },
    };
    let oh: number;
    let ow: number;
    if (m instanceof ConvTranspose2d) {
      const [oph, opw] = pair(m.options.outputPadding, 0);
      if (oph !== 0 || opw !== 0) attributes['output_padding'] = { ints: [oph, opw] };
      oh = (h - 1) * sh - 2 * ph + kh + oph;
      ow = (w - 1) * sw - 2 * pw + kw + opw;
      g.node('ConvTranspose', path, inputs, out, attributes);
    } else {
      oh = Math.floor((h + 2 * ph - kh) / sh) + 1;
      ow = Math.floor((w + 2 * pw - kw) / sw) + 1;
      g.node('Conv', path, inputs, out, attributes);
    }
    if (oh < 1 || ow < 1) fail(path, m, `gives an empty output for a ${h}×${w} input`);
    return [out, [m.outChannels, oh, ow]];
  }
  if (m instanceof BatchNorm2d) {
    if (shape.length !== 3 || shape[0] !== m.numFeatures) fail(path, m, `expects [${m.numFeatures}, H, W], got [${shape.join(', ')}]`);
    if (m.runningMean === null || m.runningVar === null) fail(path, m, 'it keeps no running statistics, so it has no inference form');
    const n = m.numFeatures;
    const scale = m.weight !== null ? g.floatInit(`${path}.weight`, m.weight) : g.floatInit(`${path}.weight_ones`, new Float32Array(n).fill(1));
    const bias = m.bias !== null ? g.floatInit(`${path}.bias`, m.bias) : g.floatInit(`${path}.bias_zeros`, new Float32Array(n));
    const mean = g.floatInit(`${path}.running_mean`, m.runningMean);
    const variance = g.floatInit(`${path}.running_var`, m.runningVar);
    g.node('BatchNormalization', path, [x, scale, bias, mean, variance], out, { epsilon: { float: m.eps } });
    return [out, shape];
  }
  if (m instanceof ReLU) return [g.node('Relu', path, [x], out), shape];
  if (m instanceof LeakyReLU) return [g.node('LeakyRelu', path, [x], out, { alpha: { float: m.negativeSlope } }), shape];
  if (m instanceof Tanh) return [g.node('Tanh', path, [x], out), shape];
  if (m instanceof Sigmoid) return [g.node('Sigmoid', path, [x], out), shape];
  if (m instanceof Linear) {
    if (shape.length !== 1 || shape[0] !== m.inFeatures) fail(path, m, `expects [${m.inFeatures}] features, got [${shape.join(', ')}]`);
    const inputs = [x, g.floatInit(`${path}.weight`, m.weight)];
    if (m.bias !== null) inputs.push(g.floatInit(`${path}.bias`, m.bias));
    g.node('Gemm', path, inputs, out, { alpha: { float: 1 }, beta: { float: 1 }, transB: { int: 1 } });
    return [out, [m.outFeatures]];
  }
  if (m instanceof Unflatten) {
    const count = shape.reduce((a, b) => a * b, 1);
    const target = [...m.shape];
    if (target.reduce((a, b) => a * b, 1) !== count) fail(path, m, `cannot reshape [${shape.join(', ')}] to [${target.join(', ')}]`);
    // 0 keeps the batch dimension as it is (Reshape with allowzero = 0).
    const dims = g.int64Init(`${path}.shape`, [0, ...target]);
    return [g.node('Reshape', path, [x, dims], out), target];
  }
  if (m instanceof Flatten) {
    if (m.startDim !== 1 || m.endDim !== -1) fail(path, m, 'only Flatten(1, -1) is supported');
    return [g.node('Flatten', path, [x], out, { axis: { int: 1 } }), [shape.reduce((a, b) => a * b, 1)]];
  }
  if (m instanceof Sequential) {
    let value = x;
    let s = shape;
    for (const [name, child] of m.namedChildren()) [value, s] = exportLayer(g, `${path}.${name}`, child, value, s);
    return [value, s];
  }
  fail(path, m, 'this layer has no ONNX export');
}

function valueInfo(name: string, elemType: OnnxValueInfo['elemType'], shape: ReadonlyArray<number | string>, docString: string): OnnxValueInfo {
  return { name, elemType, shape, docString };
}

function modelOf(graph: OnnxModel['graph'], options: OnnxExportOptions, metadata: Record<string, string>): OnnxModel {
  return {
    irVersion: ONNX_IR_VERSION,
    opsetImports: [{ domain: '', version: ONNX_OPSET }],
    producerName: options.producer ?? 'dcgan-ts',
    ...(options.producerVersion !== undefined ? { producerVersion: options.producerVersion } : {}),
    graph,
    metadata,
  };
}

function checkShape(what: string, got: SampleShape, want: readonly number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new OnnxExportError(`ONNX export: the ${what}'s layers give [${got.join(', ')}] per sample, expected [${want.join(', ')}]`);
  }
}

function exportGenerator(net: DcganGenerator, options: OnnxExportOptions): OnnxModel {
  const { nz, channels, imageSize, projection } = net.config;
  const g = new GraphBuilder();
  const fidelity = options.torchFidelity === true;
  let x = 'z';
  let shape: SampleShape;
  // What the first layer takes: z as a 1×1 image (conv projection) or as a vector (linear).
  if (projection === 'conv') {
    shape = [nz, 1, 1];
    if (fidelity) x = g.node('Reshape', 'z_to_image', [x, g.int64Init('z_to_image.shape', [0, nz, 1, 1])], 'z_image');
  } else {
    shape = [nz];
    if (!fidelity) x = g.node('Flatten', 'z_to_vector', [x], 'z_vector', { axis: { int: 1 } });
  }
  [x, shape] = exportLayer(g, 'main', net.main, x, shape);
  checkShape('generator', shape, [channels, imageSize, imageSize]);
  let output: OnnxValueInfo;
  if (fidelity) {
    // torchvision's save_image: byte = clamp(⌊255·(x + 1)/2 + 0.5⌋, 0, 255) = ⌊clip(127.5·x + 128, 0, 255)⌋.
    x = g.node('Mul', 'to_bytes.scale', [x, g.floatInit('to_bytes.scale_value', new Float32Array([127.5]), [])], 'to_bytes.scaled');
    x = g.node('Add', 'to_bytes.shift', [x, g.floatInit('to_bytes.shift_value', new Float32Array([128]), [])], 'to_bytes.shifted');
    const lo = g.floatInit('to_bytes.min', new Float32Array([0]), []);
    const hi = g.floatInit('to_bytes.max', new Float32Array([255]), []);
    x = g.node('Clip', 'to_bytes.clip', [x, lo, hi], 'to_bytes.clipped');
    x = g.node('Floor', 'to_bytes.floor', [x], 'to_bytes.floored');
    const name = 'images';
    if (channels === 1) {
      x = g.node('Cast', 'to_bytes.cast', [x], 'to_bytes.grey', { to: { int: DataType.UINT8 } });
      g.node('Concat', 'to_rgb', [x, x, x], name, { axis: { int: 1 } });
    } else {
      g.node('Cast', 'to_bytes.cast', [x], name, { to: { int: DataType.UINT8 } });
    }
    output = valueInfo(name, DataType.UINT8, ['N', 3, imageSize, imageSize], 'uint8 RGB images in [0, 255], NCHW');
  } else {
    g.renameLastOutput(x, 'images');
    output = valueInfo('images', DataType.FLOAT, ['N', channels, imageSize, imageSize], 'images in [-1, 1], NCHW');
  }
  const input = valueInfo('z', DataType.FLOAT, fidelity ? ['N', nz] : ['N', nz, 1, 1], 'latent vectors, standard normal');
  const graph = { name: fidelity ? 'dcgan_generator_torch_fidelity' : 'dcgan_generator', nodes: g.nodes, initializers: g.initializers, inputs: [input], outputs: [output] };
  return modelOf(graph, options, { dcgan_config: JSON.stringify(net.config), dcgan_network: 'generator', dcgan_variant: fidelity ? 'torch-fidelity' : 'plain' });
}

function exportDiscriminator(net: DcganDiscriminator, options: OnnxExportOptions): OnnxModel {
  if (options.torchFidelity === true) throw new OnnxExportError('ONNX export: the torch-fidelity variant exists for the generator only');
  const { channels, imageSize } = net.config;
  const g = new GraphBuilder();
  const [features, shape] = exportLayer(g, 'main', net.main, 'images', [channels, imageSize, imageSize]);
  checkShape('discriminator', shape, [1, 1, 1]);
  const x = g.node('Reshape', 'output', [features, g.int64Init('output.shape', [-1])], 'logits');
  const input = valueInfo('images', DataType.FLOAT, ['N', channels, imageSize, imageSize], 'images in [-1, 1], NCHW');
  const output = valueInfo(x, DataType.FLOAT, ['N'], 'one logit per image (no sigmoid)');
  const graph = { name: 'dcgan_discriminator', nodes: g.nodes, initializers: g.initializers, inputs: [input], outputs: [output] };
  return modelOf(graph, options, { dcgan_config: JSON.stringify(net.config), dcgan_network: 'discriminator', dcgan_variant: 'plain' });
}

/** The ONNX model (as plain objects) for a DCGAN generator or discriminator; see the module comment. */
export function onnxModelOf(net: DcganGenerator | DcganDiscriminator, options: OnnxExportOptions = {}): OnnxModel {
  if (net instanceof DcganGenerator) return exportGenerator(net, options);
  if (net instanceof DcganDiscriminator) return exportDiscriminator(net, options);
  throw new OnnxExportError(`ONNX export: expected a DcganGenerator or DcganDiscriminator, got ${describe(net)}`);
}

/** The bytes of a `.onnx` file for a DCGAN generator or discriminator (IR 8, opset 17). */
export function exportOnnx(net: DcganGenerator | DcganDiscriminator, options: OnnxExportOptions = {}): Uint8Array {
  return encodeOnnxModel(onnxModelOf(net, options));
}
