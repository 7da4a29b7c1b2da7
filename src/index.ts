/**
 * dcgan-ts: a DCGAN toolkit on its own tensor engine. The root exports a PyTorch-like API:
 * tensors and autograd, `functional`, `nn`, `optim`, `models`, backend selection (all of
 * these from ./core.js, which browsers load alone), and `io` and `train`, which use Node's files.
 */
export * from './core.js';
import './kernels/native/index.js';
import { convolutionChoicesFile } from './io/convolution-choices.js';
import { setConvolutionChoiceStore } from './ops/conv-algorithm.js';

// In Node the convolutions' timed algorithms are kept in the cache folder, so every run on this
// machine computes each layer the same way (src/io/convolution-choices.ts).
setConvolutionChoiceStore(convolutionChoicesFile());
export { createNativeBackend, type NativeBackend } from './kernels/native/index.js';
export type { FmaPeak, NativeLibraryInfo } from './kernels/native/addon.js';
export * as io from './io/index.js';
export * as train from './train/index.js';
export * as evaluation from './eval/index.js';
