import type { BinaryOp, ScalarOp, UnaryOp } from './backend.js';

/**
 * The operation codes the compiled kernels switch on — one numbering for the WebAssembly
 * kernels (wasm/assembly/elementwise.ts) and the native ones (native/src/kernels.h).
 * Scalar ops without a code (pow) run the js reference.
 */
export const UNARY_CODES: Record<UnaryOp, number> = { relu: 0, leakyRelu: 1, tanh: 2, sigmoid: 3, neg: 4, exp: 5, log: 6, abs: 7, sqrt: 8, square: 9 };
export const BINARY_CODES: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3 };
export const SCALAR_CODES: Partial<Record<ScalarOp, number>> = { add: 0, sub: 1, rsub: 2, mul: 3, div: 4, rdiv: 5 };
