import type { Tensor } from '../tensor/tensor.js';
import { isGradEnabled } from './mode.js';

/**
 * Attaches the backward closure of an op to its output, when any input needs a gradient.
 * The closure returns one gradient (or null) per input, in order.
 */
export function record(
  output: Tensor,
  name: string,
  inputs: readonly Tensor[],
  backward: (gradOutput: Tensor) => ReadonlyArray<Tensor | null>,
): Tensor {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    output.gradFn = { name, inputs, backward };
  }
  return output;
}

export function needsGrad(...inputs: ReadonlyArray<Tensor | null | undefined>): boolean {
  return isGradEnabled() && inputs.some((t) => t?.requiresGrad === true);
}
