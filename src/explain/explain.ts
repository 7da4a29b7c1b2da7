import { backward } from '../autograd/backward.js';
import { noGrad } from '../autograd/mode.js';
import { conv2d, convTranspose2d } from '../ops/conv.js';
import { randn } from '../ops/create.js';
import { mul } from '../ops/arithmetic.js';
import { sum } from '../ops/reduce.js';
import { tidy } from '../tensor/scope.js';
import { Generator } from '../tensor/random.js';
import { convMatrix, denseMatrix, matVec, type ConvMatrix, type ConvMatrixSpec } from './conv-matrix.js';

export interface ExplainCheck {
  name: string;
  description: string;
  maxAbsDiff: number;
  tolerance: number;
  ok: boolean;
}

export interface ExplainResult {
  spec: ConvMatrixSpec;
  matrix: ConvMatrix;
  /** Output padding the transposed convolution needs to map back onto the input size. */
  outputPadding: number;
  kernel: number[];
  checks: ExplainCheck[];
  ok: boolean;
}

function compare(name: string, description: string, expected: ArrayLike<number>, actual: ArrayLike<number>): ExplainCheck {
  let maxAbsDiff = 0;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(expected[i]! - actual[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  const tolerance = 1e-5 * scale;
  return { name, description, maxAbsDiff, tolerance, ok: maxAbsDiff <= tolerance };
}

/**
 * Builds C for the given geometry, then checks with random values that C·x is conv2d(x, w),
 * that Cᵀ·y is convTranspose2d(y, w), and that Cᵀ·y is also the input gradient of conv2d.
 */
export function explainConvolution(spec: ConvMatrixSpec, seed = 0): ExplainResult {
  const matrix = convMatrix(spec);
  const { inputH: h, inputW: w, kernelH: kh, kernelW: kw, stride, padding } = spec;
  const { outH, outW } = matrix;
  const outputPadding = h - ((outH - 1) * stride - 2 * padding + kh);
  return tidy(() => {
    const generator = new Generator(seed);
    const weight = randn([1, 1, kh, kw], { generator, requiresGrad: true });
    const x = randn([1, 1, h, w], { generator, requiresGrad: true });
    const y = randn([1, 1, outH, outW], { generator });
    const c = denseMatrix(matrix, weight.data);

    const conv = conv2d(x, weight, null, { stride, padding });
    const checks = [compare('C·x = conv2d(x, w)', 'the convolution is the matrix product y = C·x', matVec(c, matrix.rows, matrix.cols, x.data), conv.data)];

    const cty = matVec(c, matrix.rows, matrix.cols, y.data, true);
    const transposed = noGrad(() => convTranspose2d(y, weight, null, { stride, padding, outputSize: [h, w] }));
    checks.push(compare('Cᵀ·y = convTranspose2d(y, w)', 'the transposed convolution is the product with Cᵀ', cty, transposed.data));

    backward(sum(mul(conv, y)));
    checks.push(compare('Cᵀ·y = ∂(y·conv2d(x, w))/∂x', "the input gradient of conv2d is the same product with Cᵀ", cty, x.grad!.data));

    return { spec, matrix, outputPadding, kernel: Array.from(weight.data), checks, ok: checks.every((k) => k.ok) };
  });
}

/** Shorthand for square inputs and kernels. */
export function squareSpec(input: number, kernel: number, stride = 1, padding = 0): ConvMatrixSpec {
  return { inputH: input, inputW: input, kernelH: kernel, kernelW: kernel, stride, padding };
}

