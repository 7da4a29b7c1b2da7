import { fillNormal } from '../ops/create.js';
import { defaultGenerator, type Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';

/** In-place initialisers, as torch.nn.init; they write data directly and record no graph. */

export function normal_(t: Tensor, mean = 0, std = 1, generator: Generator = defaultGenerator): Tensor {
  fillNormal(t.data, generator, mean, std);
  return t;
}

export function uniform_(t: Tensor, low = 0, high = 1, generator: Generator = defaultGenerator): Tensor {
  generator.fillUniform(t.data, low, high);
  return t;
}

export function constant_(t: Tensor, value: number): Tensor {
  t.data.fill(value);
  return t;
}

export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

/** Fan-in and fan-out as PyTorch computes them: dims 1 and 0 times the receptive field. */
export function calculateFanInAndFanOut(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) throw new RangeError(`calculateFanInAndFanOut: needs a tensor of rank ≥ 2, got rank ${t.ndim}`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

/** He/Kaiming uniform for LeakyReLU slope `a` (PyTorch's default layer init uses a = √5). */
export function kaimingUniform_(t: Tensor, a = 0, generator: Generator = defaultGenerator): Tensor {
  const { fanIn } = calculateFanInAndFanOut(t);
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = gain * Math.sqrt(3 / fanIn);
  return uniform_(t, -bound, bound, generator);
}
