/**
 * The generator average (Yazıcı et al. 2019): an exponential moving average of G's weights,
 * θ̄ ← β·θ̄ + (1 − β)·θ after every G update, which samples better than the raw G that
 * oscillates with the adversarial game. BatchNorm's running statistics are neither averaged nor
 * copied: the raw G's describe other activations than the average's, so the trainer recomputes
 * the average's own before it samples or checkpoints (recomputeBatchNormStatistics). The first steps use a smaller β
 * (min(β, (1 + t)/(10 + t))), so the average does not remember the random initial weights.
 *
 * Updated in float32 on the host, element by element in a fixed order: the same numbers on
 * every backend, so a resumed run stays bitwise equal to a straight one.
 */
import type { Module } from '../nn/module.js';

export function emaDecay(beta: number, step: number): number {
  return Math.min(beta, (1 + step) / (10 + step));
}

export class WeightAverage {
  /** `average` is a module of the same architecture as `source`; it starts as a copy. */
  constructor(
    readonly source: Module,
    readonly average: Module,
    readonly beta: number,
    /** The decay after update `step`; the default is the warm-up above (a benchmark compares other horizons). */
    private readonly decayAt: (step: number) => number = (step) => emaDecay(beta, step),
  ) {
    average.loadStateDict(source.stateDict());
    average.eval();
  }

  /** One averaging step, after G's update number `step` (1-based). */
  update(step: number): void {
    const decay = Math.fround(this.decayAt(step));
    const rest = Math.fround(1 - decay);
    const f = Math.fround;
    const own = new Map(this.average.namedParameters());
    for (const [name, p] of this.source.namedParameters()) {
      const a = own.get(name)!.data;
      const x = p.data;
      for (let i = 0; i < a.length; i++) a[i] = f(f(decay * a[i]!) + f(rest * x[i]!));
    }
  }
}
