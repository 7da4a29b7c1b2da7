export { Module, withFrozenParameters, type StateDict, type StateDictLike, type TensorLike, type LoadStateDictOptions, type LoadStateDictResult } from './module.js';
export { stateDictTensors, withoutPrefix, nonFiniteTensors, isCounter, type NamedTensor, type StateDtype } from './state.js';
export { Sequential } from './container.js';
export { Conv2d, ConvTranspose2d, type ConvOptions, type ConvTransposeOptions } from './conv.js';
export { BatchNorm2d, recomputeBatchNormStatistics, type BatchNormLayerOptions } from './batchnorm.js';
export { Linear } from './linear.js';
export { ReLU, LeakyReLU, Tanh, Sigmoid } from './activation.js';
export { Flatten, Unflatten } from './reshape.js';
export * as init from './init.js';
