import { getBackend } from '../kernels/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { Optimizer } from './optimizer.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** Stochastic gradient descent with PyTorch's momentum, dampening and Nesterov semantics. */
export class SGD extends Optimizer {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;

  constructor(params: Iterable<Tensor>, options: SgdOptions) {
    super(params, 'SGD');
    this.lr = options.lr;
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.nesterov = options.nesterov ?? false;
    if (!(this.lr >= 0)) throw new RangeError(`SGD: invalid lr ${this.lr}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new RangeError('SGD: Nesterov momentum requires a momentum > 0 and zero dampening');
    }
  }

  protected get hyper(): Record<string, number | boolean> {
    return { lr: this.lr, momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }

  protected set hyper(h: Record<string, number | boolean>) {
    this.lr = Number(h['lr'] ?? this.lr);
    this.momentum = Number(h['momentum'] ?? this.momentum);
    this.dampening = Number(h['dampening'] ?? this.dampening);
    this.weightDecay = Number(h['weightDecay'] ?? this.weightDecay);
    this.nesterov = Boolean(h['nesterov'] ?? this.nesterov);
  }

  step(): void {
    const backend = getBackend();
    this.params.forEach((p, i) => {
      if (p.grad === null) return;
      let buf: Tensor | null = null;
      let firstStep = false;
      if (this.momentum !== 0) {
        let s = this.state[i];
        if (s === null || s === undefined) {
          s = { momentum_buffer: this.stateTensor(p) };
          this.state[i] = s;
          firstStep = true;
        }
        buf = s['momentum_buffer'] as Tensor;
      }
      backend.sgdUpdate(p.data, p.grad.data, buf?.data ?? null, {
        lr: this.lr,
        momentum: this.momentum,
        dampening: this.dampening,
        weightDecay: this.weightDecay,
        nesterov: this.nesterov,
        firstStep,
      });
    });
  }
}
