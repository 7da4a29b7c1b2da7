import { getBackend } from '../kernels/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { Optimizer } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  /** L2 penalty added to the gradient (PyTorch's Adam, not AdamW). */
  weightDecay?: number;
}

/** Adam with PyTorch's exact update: bias-corrected moments, eps added after the square root. */
export class Adam extends Optimizer {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;

  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params, 'Adam');
    this.lr = options.lr ?? 1e-3;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    if (!(this.lr >= 0)) throw new RangeError(`Adam: invalid learning rate ${this.lr}`);
    if (!(this.eps >= 0)) throw new RangeError(`Adam: invalid eps ${this.eps}`);
    if (!(this.weightDecay >= 0)) throw new RangeError(`Adam: invalid weightDecay ${this.weightDecay}`);
    for (const beta of [this.beta1, this.beta2]) {
      if (!(beta >= 0 && beta < 1)) throw new RangeError(`Adam: betas must lie in [0, 1), got [${this.beta1}, ${this.beta2}]`);
    }
  }

  protected get hyper(): Record<string, number> {
    return { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay };
  }

  protected set hyper(h: Record<string, number | boolean>) {
    this.lr = Number(h['lr'] ?? this.lr);
    this.beta1 = Number(h['beta1'] ?? this.beta1);
    this.beta2 = Number(h['beta2'] ?? this.beta2);
    this.eps = Number(h['eps'] ?? this.eps);
    this.weightDecay = Number(h['weightDecay'] ?? this.weightDecay);
  }

  step(): void {
    const backend = getBackend();
    this.params.forEach((p, i) => {
      if (p.grad === null) return;
      let s = this.state[i];
      if (s === null || s === undefined) {
        s = { step: 0, exp_avg: this.stateTensor(p), exp_avg_sq: this.stateTensor(p) };
        this.state[i] = s;
      }
      const step = (s['step'] as number) + 1;
      s['step'] = step;
      backend.adamUpdate(p.data, p.grad.data, (s['exp_avg'] as Tensor).data, (s['exp_avg_sq'] as Tensor).data, {
        lr: this.lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        weightDecay: this.weightDecay,
        step,
      });
    });
  }
}
