/**
 * dcgan-ts: a DCGAN toolkit on its own tensor engine. The root exports a PyTorch-like API:
 * tensors and autograd, `functional`, `nn`, `optim`, and backend selection.
 */
import './kernels/index.js';
import './autograd/backward.js';
import './ops/methods.js';

export { Tensor, tidy, keep, memory, Generator, manualSeed, defaultGenerator, type GeneratorState, type MemoryInfo, type Shape } from './tensor/index.js';
export { noGrad, enableGrad, isGradEnabled, backward, type BackwardOptions } from './autograd/index.js';
export { setBackend, getBackend, getBackendName, listBackends, registerBackend, setThreads, getThreads, backendFailure, type Backend } from './kernels/index.js';
export * from './ops/index.js';
export * as functional from './nn/functional.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as explain from './explain/index.js';
export * as models from './models/index.js';
export * as io from './io/index.js';
export * as train from './train/index.js';
