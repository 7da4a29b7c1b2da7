import type { FusedActivation } from '../ops/activation.js';
import { conv2d, convTranspose2d, type Pair } from '../ops/conv.js';
import { empty } from '../ops/create.js';
import { Module } from './module.js';
import { calculateFanInAndFanOut, kaimingUniform_, uniform_ } from './init.js';
import type { Tensor } from '../tensor/tensor.js';

export interface ConvOptions {
  stride?: Pair;
  padding?: Pair;
  /** Learnable bias per output channel (default true, as PyTorch; DCGAN turns it off before BatchNorm). */
  bias?: boolean;
}

export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: Pair;
}

function kernelPair(k: Pair): [number, number] {
  return typeof k === 'number' ? [k, k] : [k[0], k[1]];
}

/** PyTorch's default init: weights U(±1/√fanIn) (Kaiming with a = √5), bias the same bound. */
function resetParameters(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, Math.sqrt(5));
  if (bias !== null) {
    const bound = 1 / Math.sqrt(calculateFanInAndFanOut(weight).fanIn);
    uniform_(bias, -bound, bound);
  }
}

/** What both convolution layers share: the channel counts, kernel, parameters and their init. */
abstract class ConvLayer<O extends ConvOptions> extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  /** `weightShape` orders the two channel counts as the layer's PyTorch counterpart stores them. */
  protected constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: Pair,
    readonly options: O,
    weightShape: (kh: number, kw: number) => number[],
  ) {
    super();
    const [kh, kw] = kernelPair(kernelSize);
    this.weight = this.registerParameter('weight', empty(weightShape(kh, kw)))!;
    this.bias = this.registerParameter('bias', options.bias === false ? null : empty([outChannels]));
    resetParameters(this.weight, this.bias);
  }
}

/** 2-D convolution layer; weight [outChannels, inChannels, kH, kW]. */
export class Conv2d extends ConvLayer<ConvOptions> {
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: ConvOptions = {}) {
    super(inChannels, outChannels, kernelSize, options, (kh, kw) => [outChannels, inChannels, kh, kw]);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }

  /** The forward pass with a ReLU or LeakyReLU fused in (Sequential uses it for Conv2d → activation pairs). */
  forwardWithActivation(x: Tensor, activation: FusedActivation): Tensor {
    return conv2d(x, this.weight, this.bias, { ...this.options, activation });
  }
}

/** 2-D transposed convolution layer; weight [inChannels, outChannels, kH, kW] as PyTorch stores it. */
export class ConvTranspose2d extends ConvLayer<ConvTransposeOptions> {
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: ConvTransposeOptions = {}) {
    super(inChannels, outChannels, kernelSize, options, (kh, kw) => [inChannels, outChannels, kh, kw]);
  }

  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.options);
  }
}
