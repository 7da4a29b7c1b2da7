import type { AdamHyper, SgdHyper } from '../backend.js';
import { adamConstants } from '../shared.js';

const f = Math.fround;

/** PyTorch 1.13's single-tensor Adam, rounding to float32 where its tensor ops do. */
export function adamUpdate(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, h: AdamHyper): void {
  const { beta1: b1, beta2: b2, oneMinusBeta1: a1, oneMinusBeta2: a2, eps, weightDecay, stepSize, biasCorrection2Sqrt: bc2Sqrt } = adamConstants(h);
  for (let i = 0; i < param.length; i++) {
    const g = weightDecay !== 0 ? f(grad[i]! + f(weightDecay * param[i]!)) : grad[i]!;
    const mi = f(f(m[i]! * b1) + f(a1 * g));
    const vi = f(f(v[i]! * b2) + f(a2 * f(g * g)));
    m[i] = mi;
    v[i] = vi;
    const denom = f(f(f(Math.sqrt(vi)) / bc2Sqrt) + eps);
    param[i] = f(param[i]! - f(stepSize * f(mi / denom)));
  }
}

/** PyTorch's SGD: L2 weight decay, momentum with dampening, optional Nesterov. */
export function sgdUpdate(param: Float32Array, grad: Float32Array, buf: Float32Array | null, h: SgdHyper): void {
  const { lr, momentum, dampening, weightDecay, nesterov, firstStep } = h;
  for (let i = 0; i < param.length; i++) {
    let d = weightDecay !== 0 ? f(grad[i]! + f(weightDecay * param[i]!)) : grad[i]!;
    if (momentum !== 0 && buf !== null) {
      const b = firstStep ? d : f(f(buf[i]! * momentum) + f((1 - dampening) * d));
      buf[i] = b;
      d = nesterov ? f(d + f(momentum * b)) : b;
    }
    param[i] = f(param[i]! - f(lr * d));
  }
}
