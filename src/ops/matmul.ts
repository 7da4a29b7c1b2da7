import { record } from '../autograd/record.js';
import { gemmParams } from '../kernels/backend.js';
import { getBackend } from '../kernels/registry.js';
import { shapeToString } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { empty } from './create.js';

/**
 * Matrix product of [m, k] by [k, n], or batched [b, m, k] by [b, k, n] (a batch of 1 on
 * either side is shared across the other's batch).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if ((a.ndim !== 2 && a.ndim !== 3) || a.ndim !== b.ndim) {
    throw new RangeError(`matmul: expected two 2-D or two 3-D tensors, got ${shapeToString(a.shape)} and ${shapeToString(b.shape)}`);
  }
  const batched = a.ndim === 3;
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [k2, n] = b.shape.slice(-2) as [number, number];
  const ba = batched ? a.shape[0]! : 1;
  const bb = batched ? b.shape[0]! : 1;
  if (k !== k2 || (ba !== bb && ba !== 1 && bb !== 1)) {
    throw new RangeError(`matmul: shapes ${shapeToString(a.shape)} and ${shapeToString(b.shape)} do not match (inner sizes ${k} and ${k2})`);
  }
  const batch = Math.max(ba, bb);
  const out = empty(batched ? [batch, m, n] : [m, n]);
  const strideA = ba === 1 ? 0 : m * k;
  const strideB = bb === 1 ? 0 : k * n;
  getBackend().gemm(gemmParams({ m, n, k, batch, strideA, strideB, strideC: m * n }), a.data, b.data, out.data);
  return record(out, 'matmul', [a, b], (g) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      // dA = dY·Bᵀ, summed over the batch when A was shared.
      ga = empty(a.shape);
      for (let i = 0; i < batch; i++) {
        const p = gemmParams({ m, n: k, k: n, transB: true, beta: ba === 1 && i > 0 ? 1 : 0 });
        getBackend().gemm(p, g.data.subarray(i * m * n), b.data.subarray(i * strideB), ga.data.subarray(i * strideA));
      }
    }
    if (b.requiresGrad) {
      // dB = Aᵀ·dY
      gb = empty(b.shape);
      for (let i = 0; i < batch; i++) {
        const p = gemmParams({ m: k, n, k: m, transA: true, beta: bb === 1 && i > 0 ? 1 : 0 });
        getBackend().gemm(p, a.data.subarray(i * strideA), g.data.subarray(i * m * n), gb.data.subarray(i * strideB));
      }
    }
    return [ga, gb];
  });
}

/** y = x·Wᵀ + b for x [batch, in], W [out, in], b [out] (PyTorch's layout). */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (x.ndim !== 2 || weight.ndim !== 2) {
    throw new RangeError(`linear: expected input [batch, in] and weight [out, in], got ${shapeToString(x.shape)} and ${shapeToString(weight.shape)}`);
  }
  const [rows, inF] = x.shape as [number, number];
  const [outF, inW] = weight.shape as [number, number];
  if (inF !== inW) {
    throw new RangeError(`linear: input has ${inF} features but weight ${shapeToString(weight.shape)} expects ${inW}`);
  }
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== outF)) {
    throw new RangeError(`linear: bias must have shape [${outF}], got ${shapeToString(bias.shape)}`);
  }
  const backend = getBackend();
  const out = empty([rows, outF]);
  backend.gemm(gemmParams({ m: rows, n: outF, k: inF, transB: true }), x.data, weight.data, out.data);
  if (bias !== null) backend.addChannelBias(out.data, rows, outF, 1, bias.data);
  const inputs = bias === null ? [x, weight] : [x, weight, bias];
  return record(out, 'linear', inputs, (g) => {
    const be = getBackend();
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    let gb: Tensor | null = null;
    if (x.requiresGrad) {
      gx = empty(x.shape);
      be.gemm(gemmParams({ m: rows, n: inF, k: outF }), g.data, weight.data, gx.data);
    }
    if (weight.requiresGrad) {
      gw = empty(weight.shape);
      be.gemm(gemmParams({ m: outF, n: inF, k: rows, transA: true }), g.data, x.data, gw.data);
    }
    if (bias?.requiresGrad) {
      gb = empty(bias.shape);
      be.channelSum(g.data, rows, outF, 1, gb.data);
    }
    return bias === null ? [gx, gw] : [gx, gw, gb];
  });
}
