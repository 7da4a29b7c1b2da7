import './methods.js';

export * from './create.js';
export * from './arithmetic.js';
export * from './activation.js';
export * from './reduce.js';
export * from './reshape.js';
export { expand } from './broadcast.js';
export { matmul, linear } from './matmul.js';
export * from './conv.js';
export {
  convolutionChoices, clearConvolutionChoices, restoreConvolutionChoices, setConvolutionChoiceStore, parseConvolutionChoice, convolutionChoiceKey,
  type ConvAlgorithm, type ConvolutionChoice, type ConvolutionChoiceStore,
} from './conv-algorithm.js';
export * from './batchnorm.js';
export * from './loss.js';
