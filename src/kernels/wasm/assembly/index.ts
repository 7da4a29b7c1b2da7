// The exports of kernels.wasm: every kernel the host calls, (tid, nthreads, ...) first.
export { gemm, gemmScratchFloats, convGemm } from './gemm';
export { im2col, col2im } from './conv';
export { unary, unaryBackward, binary, scalar, swapLeading, channelSum, addChannelBias } from './elementwise';
export { batchNormStats, batchNormApply, batchNormBackward } from './batchnorm';
export { adamUpdate } from './optim';
export { winogradKernels, winogradUnkernels, winogradImages, winogradOutputs, winogradUnoutputs, winogradUnimages } from './winograd';
export {
  winograd4Kernels, winograd4Unkernels, winograd4Images, winograd4Outputs, winograd4Unoutputs, winograd4Unimages, winograd4TileScratchBytes,
} from './winograd4';
export { winogradPlanePad } from './phases';
