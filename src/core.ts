/**
 * The platform-neutral part of dcgan-ts — tensors and autograd, `functional`, `nn`, `optim`,
 * `models`, `explain` and backend selection — with no Node.js module and no npm dependency, so
 * browsers load it as it is (`import … from 'dcgan-ts/core'`, or dist/core.js). The package root
 * adds `io` and `train`, which read and write files.
 */
import './kernels/index.js';
import './autograd/backward.js';
import './ops/methods.js';

export { Tensor, tidy, keep, memory, resetPeakMemory, Generator, manualSeed, defaultGenerator, type GeneratorState, type MemoryInfo, type Shape } from './tensor/index.js';
export { noGrad, enableGrad, isGradEnabled, backward, type BackwardOptions } from './autograd/index.js';
export {
  setBackend, setBackendAsync, getBackend, getBackendName, listBackends, availableBackends, registerBackend, setThreads, getThreads, backendFailure, initWasm,
  type Backend, type InitWasmOptions, type KernelSource,
} from './kernels/index.js';
export * from './ops/index.js';
export * as functional from './nn/functional.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as explain from './explain/index.js';
export * as models from './models/index.js';
