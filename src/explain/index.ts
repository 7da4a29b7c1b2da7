export { convMatrix, denseMatrix, matVec, MAX_MATRIX_ENTRIES, type ConvMatrix, type ConvMatrixSpec } from './conv-matrix.js';
export { explainConvolution, squareSpec, type ExplainResult, type ExplainCheck } from './explain.js';
export { formatExplanation, explanationJson } from './format.js';
