import type { TensorLike } from '../nn/module.js';
import { keep } from '../tensor/scope.js';
import { longLived } from '../tensor/memory.js';
import { sameShape, shapeToString } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { zeros } from '../ops/create.js';

/** Per-parameter state: tensors (moments, momentum buffers) and counters (step). */
export type ParamState = Record<string, Tensor | number>;

/** Per-parameter state to load: tensors may be any {shape, data} (a file reader's). */
export type ParamStateLike = Readonly<Record<string, TensorLike | number>>;

export interface OptimizerStateDictLike {
  hyper: Record<string, number | boolean>;
  state: ReadonlyArray<ParamStateLike | null>;
}

export interface OptimizerStateDict {
  /** Hyperparameters, so a resumed run continues with the same settings. */
  hyper: Record<string, number | boolean>;
  /** One entry per parameter in order; null for a parameter that has not been stepped yet. */
  state: Array<ParamState | null>;
}

function copyTensor(t: Tensor): Tensor {
  const copy = zeros(t.shape);
  copy.data.set(t.data);
  return copy;
}

/** Shared parts of optimizers: the parameter list, zeroGrad, and state (de)serialisation. */
export abstract class Optimizer {
  readonly params: readonly Tensor[];
  protected readonly state: Array<ParamState | null>;

  constructor(params: Iterable<Tensor>, name: string) {
    this.params = [...params];
    if (this.params.length === 0) throw new Error(`${name}: got an empty parameter list`);
    for (const p of this.params) {
      if (!p.requiresGrad) throw new Error(`${name}: every parameter must require grad (shape ${shapeToString(p.shape)} does not)`);
    }
    this.state = this.params.map(() => null);
  }

  abstract step(): void;
  protected abstract get hyper(): Record<string, number | boolean>;
  protected abstract set hyper(values: Record<string, number | boolean>);

  /** Clears every parameter's gradient (set to null, as PyTorch's default set_to_none). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** A persistent zero tensor for optimizer state (outside any tidy scope). */
  protected stateTensor(like: Tensor): Tensor {
    return keep(longLived(() => zeros(like.shape)));
  }

  /**
   * A snapshot: its tensors are copies, so later steps do not change what was saved. With
   * `{ copy: false }` the tensors are the live state (for writing it out at once, without
   * doubling its memory).
   */
  stateDict(options: { copy?: boolean } = {}): OptimizerStateDict {
    const copy = options.copy ?? true;
    const snapshot = (s: ParamState): ParamState =>
      Object.fromEntries(Object.entries(s).map(([key, v]) => [key, v instanceof Tensor && copy ? copyTensor(v) : v]));
    return { hyper: { ...this.hyper }, state: this.state.map((s) => (s === null ? null : snapshot(s))) };
  }

  /** Restores state saved by stateDict(), copying tensors in and checking their shapes first. */
  loadStateDict(saved: OptimizerStateDictLike): void {
    if (saved.state.length !== this.params.length) {
      throw new Error(`loadStateDict: the saved optimizer has ${saved.state.length} parameters, this one has ${this.params.length}`);
    }
    saved.state.forEach((entry, i) => {
      if (entry === null) return;
      const param = this.params[i]!;
      for (const value of Object.values(entry)) {
        if (typeof value !== 'number' && (!sameShape(value.shape, param.shape) || value.data.length !== param.size)) {
          throw new RangeError(`loadStateDict: state of parameter ${i} has shape ${shapeToString(value.shape)}, expected ${shapeToString(param.shape)}`);
        }
      }
    });
    this.hyper = { ...saved.hyper };
    saved.state.forEach((entry, i) => {
      const old = this.state[i];
      if (old) for (const v of Object.values(old)) if (v instanceof Tensor) v.dispose();
      if (entry === null) {
        this.state[i] = null;
        return;
      }
      const copy: ParamState = {};
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value !== 'number') {
          const t = keep(zeros(value.shape));
          t.data.set(value.data);
          copy[key] = t;
        } else {
          copy[key] = value;
        }
      }
      this.state[i] = copy;
    });
  }
}
