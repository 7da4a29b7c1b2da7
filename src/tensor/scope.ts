/**
 * Deterministic memory release: `tidy(fn)` disposes every tensor created inside `fn`
 * except the ones it returns or `keep()`s. A training step wrapped in tidy therefore
 * frees all its activations and temporary gradients the moment it ends, which the wasm
 * backend (whose memory the garbage collector cannot see) depends on.
 */

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const scopes: Set<Disposable>[] = [];

export function track<T extends Disposable>(t: T): T {
  scopes[scopes.length - 1]?.add(t);
  return t;
}

/** Removes a tensor from every open scope, so it outlives them (parameters, gradients, optimizer state). */
export function keep<T extends Disposable>(t: T): T {
  for (const scope of scopes) scope.delete(t);
  return t;
}

function collect(value: unknown, into: Set<unknown>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if ('dispose' in value && 'isDisposed' in value) {
    into.add(value);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const item of items) collect(item, into, depth + 1);
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw error;
  }
  scopes.pop();
  if (result instanceof Promise) {
    // The scope cannot follow the function past its first await: free what it made so far
    // (they would otherwise stay alive, untracked) and say so.
    for (const t of scope) t.dispose();
    result.catch(() => {});
    throw new TypeError('tidy: the function must be synchronous (it returned a Promise); await outside tidy, and tidy the synchronous parts');
  }
  const survivors = new Set<unknown>();
  collect(result, survivors);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (survivors.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}
