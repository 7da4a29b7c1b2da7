/**
 * State dicts as named tensors, independent of any model and of any file format (as tinygrad's
 * nn/state.py): what safetensors, PyTorch .pth and ONNX writers take, and what their readers
 * give back to `Module.loadStateDict`.
 */
import type { Module, TensorLike } from './module.js';

/** The dtypes a state dict is written with: float32 values, int64 counters (PyTorch's num_batches_tracked). */
export type StateDtype = 'F32' | 'I64';

/** A tensor on its way to a file: shape, float32 values (a view, not a copy), the dtype to write. */
export interface NamedTensor extends TensorLike {
  readonly dtype: StateDtype;
}

/** Whether a state-dict entry is a counter, stored as int64 as PyTorch does. */
export function isCounter(name: string): boolean {
  return name.endsWith('num_batches_tracked');
}

/** A module's parameters and buffers in PyTorch's order, names prefixed (`netG.` + `main.0.weight`). */
export function stateDictTensors(module: Module, prefix = ''): Array<[string, NamedTensor]> {
  return Object.entries(module.stateDict()).map(([name, t]) => [prefix + name, { shape: t.shape, data: t.data, dtype: isCounter(name) ? 'I64' : 'F32' }]);
}

/** The entries under `prefix`, with it removed (a Map, so that any name stays a plain key). */
export function withoutPrefix<T>(tensors: ReadonlyMap<string, T>, prefix: string): Map<string, T> {
  const out = new Map<string, T>();
  for (const [name, t] of tensors) if (name.startsWith(prefix)) out.set(name.slice(prefix.length), t);
  return out;
}

/** Names of the tensors holding a NaN or an infinity (with the first bad value's index). */
export function nonFiniteTensors(tensors: Iterable<readonly [string, TensorLike]>): string[] {
  const bad: string[] = [];
  for (const [name, t] of tensors) {
    const data = t.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        bad.push(`${name} (${data[i]} at index ${i})`);
        break;
      }
    }
  }
  return bad;
}
