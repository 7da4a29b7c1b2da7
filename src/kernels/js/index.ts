import { heapAllocator } from '../../tensor/memory.js';
import type { Backend } from '../backend.js';
import { registerBackend } from '../registry.js';
import { batchNormApply, batchNormBackward, batchNormStats } from './batchnorm.js';
import { binary, scalar, unary, unaryBackward } from './elementwise.js';
import { gemm } from './gemm.js';
import { col2im, im2col } from './im2col.js';
import { addChannelBias, channelSum, permute, reduceSum } from './layout.js';
import { bce, bceBackward, bceWithLogits, bceWithLogitsBackward } from './loss.js';
import { adamUpdate, sgdUpdate } from './optim.js';

/** The reference backend: plain TypeScript, the ground truth every faster backend is tested against. */
export function createJsBackend(): Backend {
  return {
    name: 'js',
    description: 'TypeScript reference kernels',
    allocator: heapAllocator,
    gemm,
    im2col,
    col2im,
    unary,
    unaryBackward,
    binary,
    scalar,
    reduceSum,
    permute,
    channelSum,
    addChannelBias,
    batchNormStats,
    batchNormApply,
    batchNormBackward,
    bceWithLogits,
    bceWithLogitsBackward,
    bce,
    bceBackward,
    adamUpdate,
    sgdUpdate,
  };
}

registerBackend('js', createJsBackend, 0);
