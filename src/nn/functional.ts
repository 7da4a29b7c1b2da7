/** PyTorch's torch.nn.functional, under our names. */
export { conv2d, convTranspose2d, type Conv2dOptions, type ConvTranspose2dOptions, type Pair } from '../ops/conv.js';
export { batchNorm2d, type BatchNormOptions } from '../ops/batchnorm.js';
export { linear } from '../ops/matmul.js';
export { relu, leakyRelu, tanh, sigmoid } from '../ops/activation.js';
export { binaryCrossEntropy, binaryCrossEntropyWithLogits, mseLoss, type LossOptions, type Reduction } from '../ops/loss.js';
