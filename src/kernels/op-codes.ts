/**
 * The one table of elementwise operations. Their TypeScript names (UnaryOp, BinaryOp,
 * ScalarOp) come from these lists, and the codes the compiled kernels switch on are the list
 * positions: scripts/gen-op-codes.ts writes them into native/src/op_codes.h and
 * src/kernels/wasm/assembly/op-codes.ts (test/op-codes.test.ts checks those files are current).
 *
 * Adding an elementwise op: add its name here, run `npm run gen:op-codes`, and implement it in
 * each backend (js/elementwise.ts, wasm/assembly/elementwise.ts, native/src/elementwise.c).
 */
export const UNARY_OPS = ['relu', 'leakyRelu', 'tanh', 'sigmoid', 'neg', 'exp', 'log', 'abs', 'sqrt', 'square'] as const;
export const BINARY_OPS = ['add', 'sub', 'mul', 'div'] as const;
/** Scalar ops the compiled kernels implement; the others (SCALAR_OPS) run the js reference there. */
export const COMPILED_SCALAR_OPS = ['add', 'sub', 'rsub', 'mul', 'div', 'rdiv'] as const;
export const SCALAR_OPS = [...COMPILED_SCALAR_OPS, 'pow'] as const;

export type UnaryOp = (typeof UNARY_OPS)[number];
export type BinaryOp = (typeof BINARY_OPS)[number];
export type ScalarOp = (typeof SCALAR_OPS)[number];

function codes<T extends string>(names: readonly T[]): Record<T, number> {
  return Object.fromEntries(names.map((name, i) => [name, i])) as Record<T, number>;
}

export const UNARY_CODES: Record<UnaryOp, number> = codes(UNARY_OPS);
export const BINARY_CODES: Record<BinaryOp, number> = codes(BINARY_OPS);
export const SCALAR_CODES: Partial<Record<ScalarOp, number>> = codes(COMPILED_SCALAR_OPS);

/** The code tables as the compiled sources spell them: prefix + UPPER_SNAKE name (leakyRelu → U_LEAKY_RELU). */
export const OP_CODE_TABLES = [
  { kind: 'unary', prefix: 'U_', names: UNARY_OPS },
  { kind: 'binary', prefix: 'B_', names: BINARY_OPS },
  { kind: 'scalar', prefix: 'S_', names: COMPILED_SCALAR_OPS },
] as const;

export function constantName(prefix: string, name: string): string {
  return prefix + name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}
