// Optimizer updates, in place, split over elements. Same float32 rounding steps as PyTorch's Adam.
import { at, share } from './common';

export function adamUpdate(
  tid: i32, nthreads: i32, param: usize, grad: usize, m: usize, v: usize, n: i32,
  beta1: f32, beta2: f32, oneMinusBeta1: f32, oneMinusBeta2: f32, eps: f64, weightDecay: f64, stepSize: f64, bc2Sqrt: f64,
): void {
  const lo = share(n, tid, nthreads);
  const hi = share(n, tid + 1, nthreads);
  for (let i = lo; i < hi; i++) {
    const p = load<f32>(at(param, i));
    let g = load<f32>(at(grad, i));
    if (weightDecay != 0) g = g + <f32>(weightDecay * <f64>p);
    const mi = load<f32>(at(m, i)) * beta1 + oneMinusBeta1 * g;
    const vi = load<f32>(at(v, i)) * beta2 + oneMinusBeta2 * (g * g);
    store<f32>(at(m, i), mi);
    store<f32>(at(v, i), vi);
    // Rounded to float32 after each tensor op, as PyTorch's foreach-free Adam does.
    const denom = <f32>(<f64><f32>(<f64>Mathf.sqrt(vi) / bc2Sqrt) + eps);
    store<f32>(at(param, i), p - <f32>(stepSize * <f64>(mi / denom)));
  }
}
