import { defaultGenerator, type Generator } from '../tensor/random.js';
import { assertValidShape, shapeToString, sizeOf, type Shape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { getBackend } from '../kernels/registry.js';

export interface TensorOptions {
  requiresGrad?: boolean;
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

/** Nested number arrays, as `tensor([[1, 2], [3, 4]])` takes them. */
export type NestedArray = number | readonly NestedArray[];

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0] as NestedArray;
  }
  return shape;
}

function flattenInto(data: NestedArray, shape: Shape, depth: number, out: number[]): void {
  if (depth === shape.length) {
    if (typeof data !== 'number') throw new TypeError('tensor: nested array is ragged (deeper in some places than others)');
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new TypeError(`tensor: nested array is ragged (expected ${shape[depth]} items at depth ${depth})`);
  }
  for (const item of data as readonly NestedArray[]) flattenInto(item, shape, depth + 1, out);
}

/**
 * An output tensor for a kernel to fill: its contents are undefined (reused memory), so every
 * caller writes all of it. Ensures the current backend's allocator is installed first.
 */
function allocate(shape: Shape): Tensor {
  getBackend();
  return Tensor.empty(shape);
}

/**
 * Makes a tensor from values: `tensor([1, 2, 3, 4], [2, 2])`, `tensor([[1, 2], [3, 4]])`,
 * or a Float32Array with a shape. The values are copied.
 */
export function tensor(data: NestedArray | ArrayLike<number>, shape?: Shape, options: TensorOptions = {}): Tensor {
  let flat: ArrayLike<number>;
  let finalShape: Shape;
  if (typeof data === 'number') {
    flat = [data];
    finalShape = shape ?? [];
  } else if (Array.isArray(data) && data.some((d) => Array.isArray(d))) {
    const inferred = inferShape(data as NestedArray);
    const values: number[] = [];
    flattenInto(data as NestedArray, inferred, 0, values);
    flat = values;
    finalShape = shape ?? inferred;
  } else {
    flat = data as ArrayLike<number>;
    finalShape = shape ?? [flat.length];
  }
  assertValidShape(finalShape, 'tensor');
  if (sizeOf(finalShape) !== flat.length) {
    throw new RangeError(`tensor: ${flat.length} values cannot fill shape ${shapeToString(finalShape)} (${sizeOf(finalShape)} needed)`);
  }
  const t = allocate(finalShape);
  t.data.set(flat);
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

export function full(shape: Shape, value: number, options: TensorOptions = {}): Tensor {
  const t = allocate(shape);
  t.data.fill(value);
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

export function zeros(shape: Shape, options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: Shape, options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

export function zerosLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return zeros(t.shape, options);
}

export function onesLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return ones(t.shape, options);
}

// Below this many values the backend's call costs more than the generator's own loop.
const BACKEND_NORMAL_MIN = 256;

/**
 * `out` filled with mean + std·z, z standard normal from `generator`: bitwise its own numbers
 * (Generator.fillNormal), drawn by the backend where it can (Backend.fillNormal) and the
 * generator's state advanced past them either way.
 */
export function fillNormal(out: Float32Array, generator: Generator = defaultGenerator, mean = 0, std = 1): Float32Array {
  const backend = getBackend();
  if (backend.fillNormal === undefined || out.length < BACKEND_NORMAL_MIN) return generator.fillNormal(out, mean, std);
  const state = Uint32Array.from(generator.getState().s);
  backend.fillNormal(state, out, mean, std);
  generator.setState({ s: [state[0]!, state[1]!, state[2]!, state[3]!] });
  return out;
}

/** Standard normal samples from the seeded, platform-independent generator. */
export function randn(shape: Shape, options: RandomOptions = {}): Tensor {
  const t = allocate(shape);
  fillNormal(t.data, options.generator ?? defaultGenerator);
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

/** Uniform samples in [low, high). */
export function uniform(shape: Shape, low = 0, high = 1, options: RandomOptions = {}): Tensor {
  const t = allocate(shape);
  (options.generator ?? defaultGenerator).fillUniform(t.data, low, high);
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

export { allocate as empty };
