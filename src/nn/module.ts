import { keep } from '../tensor/scope.js';
import { sameShape, shapeToString } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

export type StateDict = Record<string, Tensor>;

/** What loading needs of a saved tensor: a Tensor, or a tensor as a file format read it. */
export interface TensorLike {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** A state dict to load: by name, as an object or a Map (a Map keeps names such as `__proto__` as plain keys). */
export type StateDictLike = Readonly<Record<string, TensorLike>> | ReadonlyMap<string, TensorLike>;

export interface LoadStateDictOptions {
  /** Require exactly the module's keys (PyTorch's strict=True). */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * The base of every layer, as torch.nn.Module: named parameters, buffers and children,
 * train/eval mode, and a state dict whose dotted names match PyTorch's so weights move
 * between the two without renaming.
 */
export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly bufs = new Map<string, Tensor | null>();
  private readonly children_ = new Map<string, Module>();

  abstract forward(input: Tensor): Tensor;

  /** Registers a trainable tensor: it requires grad and outlives every tidy scope. */
  protected registerParameter(name: string, value: Tensor | null): Tensor | null {
    if (value !== null) {
      value.requiresGrad = true;
      keep(value);
    }
    this.params.set(name, value);
    return value;
  }

  /** Registers state that is saved but not trained (BatchNorm's running statistics). */
  protected registerBuffer(name: string, value: Tensor | null): Tensor | null {
    if (value !== null) keep(value);
    this.bufs.set(name, value);
    return value;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this.children_.set(name, module);
    return module;
  }

  *namedChildren(): IterableIterator<[string, Module]> {
    yield* this.children_;
  }

  *namedModules(prefix = ''): IterableIterator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.children_) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  *namedParameters(prefix = ''): IterableIterator<[string, Tensor]> {
    for (const [path, module] of this.namedModules(prefix)) {
      for (const [name, p] of module.params) if (p !== null) yield [path ? `${path}.${name}` : name, p];
    }
  }

  *namedBuffers(prefix = ''): IterableIterator<[string, Tensor]> {
    for (const [path, module] of this.namedModules(prefix)) {
      for (const [name, b] of module.bufs) if (b !== null) yield [path ? `${path}.${name}` : name, b];
    }
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  /** Sets training mode here and in every child (BatchNorm uses batch statistics while training). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Sets requiresGrad on every parameter (PyTorch's requires_grad_): false freezes the module. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad = requiresGrad;
    return this;
  }

  /** Clears gradients (PyTorch's zero_grad with set_to_none=True). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Parameters and buffers by dotted name, in PyTorch's order (own entries, then children's). */
  stateDict(): StateDict {
    const out: StateDict = {};
    const visit = (module: Module, prefix: string): void => {
      for (const [name, p] of module.params) if (p !== null) out[prefix + name] = p;
      for (const [name, b] of module.bufs) if (b !== null) out[prefix + name] = b;
      for (const [name, child] of module.children_) visit(child, `${prefix}${name}.`);
    };
    visit(this, '');
    return out;
  }

  /** Copies values into this module's tensors (in place), checking names and shapes before any copy. */
  loadStateDict(state: StateDictLike, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const own = new Map(Object.entries(this.stateDict()));
    const given: ReadonlyMap<string, TensorLike> = state instanceof Map ? state : new Map(Object.entries(state));
    const missingKeys = [...own.keys()].filter((k) => !given.has(k));
    const unexpectedKeys = [...given.keys()].filter((k) => !own.has(k));
    if (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      const parts = [];
      if (missingKeys.length > 0) parts.push(`missing keys: ${missingKeys.join(', ')}`);
      if (unexpectedKeys.length > 0) parts.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
      throw new Error(`loadStateDict: the state dict does not match the module (${parts.join('; ')})`);
    }
    for (const [key, target] of own) {
      const source = given.get(key);
      if (source === undefined) continue;
      if (!sameShape(source.shape, target.shape) || source.data.length !== target.size) {
        throw new RangeError(`loadStateDict: '${key}' has shape ${shapeToString(source.shape)} but the module expects ${shapeToString(target.shape)}`);
      }
    }
    for (const [key, target] of own) {
      const source = given.get(key);
      if (source !== undefined) target.data.set(source.data);
    }
    return { missingKeys, unexpectedKeys };
  }
}

/**
 * Runs `fn` with every parameter of `module` frozen (requiresGrad false), then gives each back
 * the flag it had, also when `fn` throws. Backward then computes no gradient for them: the
 * GAN step freezes D while G's loss is back-propagated through it, whose D gradients it would discard.
 */
export function withFrozenParameters<T>(module: Module, fn: () => T): T {
  const trainable = module.parameters().filter((p) => p.requiresGrad);
  for (const p of trainable) p.requiresGrad = false;
  try {
    return fn();
  } finally {
    for (const p of trainable) p.requiresGrad = true;
  }
}
