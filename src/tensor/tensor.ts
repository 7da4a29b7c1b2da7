import { Storage, trackTensor } from './memory.js';
import { track, type Disposable } from './scope.js';
import { assertValidShape, sizeOf, shapeToString, type Shape } from './shape.js';

/**
 * How a tensor was made, for reverse-mode autodiff: the inputs it depends on and a
 * closure that maps the gradient of the output to gradients of those inputs.
 */
export interface GradFn {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  backward(gradOutput: Tensor): ReadonlyArray<Tensor | null>;
}

let nextId = 1;

/** The id the last tensor made got: tensors made after a call to this have larger ids. */
export function lastTensorId(): number {
  return nextId - 1;
}

// Safety net only: a tensor collected without dispose() still returns its storage.
const finalizer = new FinalizationRegistry<{ storage: Storage; counted: boolean }>((held) => {
  if (held.counted) trackTensor(-1);
  held.storage.release();
});

/** A float32, row-major (NCHW for images) n-dimensional array that can take part in autograd. */
export class Tensor implements Disposable {
  readonly shape: Shape;
  readonly size: number;
  readonly id = nextId++;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  gradFn: GradFn | null = null;
  /**
   * Only the graph uses this tensor (a Sequential's activation between two layers, which no
   * caller sees): a backward that does not retain the graph disposes it once every node that
   * reads it has run, as PyTorch frees saved activations during backward, instead of holding
   * it to the end of the tidy scope.
   */
  graphOnly = false;
  private storage: Storage | null;
  private readonly token: { storage: Storage; counted: boolean };

  constructor(storage: Storage, shape: Shape, requiresGrad = false) {
    assertValidShape(shape, 'Tensor');
    const size = sizeOf(shape);
    if (storage.data.length !== size) {
      throw new RangeError(`Tensor: storage holds ${storage.data.length} values but shape ${shapeToString(shape)} needs ${size}`);
    }
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.size = size;
    this.requiresGrad = requiresGrad;
    this.token = { storage, counted: true };
    trackTensor(1);
    finalizer.register(this, this.token, this.token);
    track(this);
  }

  /**
   * A tensor whose contents are whatever its memory held (as torch.empty, and `empty` in ops):
   * for outputs a kernel overwrites in full, which zero-filling first would only slow down.
   */
  static empty(shape: Shape): Tensor {
    assertValidShape(shape, 'Tensor.empty');
    return new Tensor(Storage.allocate(sizeOf(shape)), shape);
  }

  /** The live data (a view, not a copy): writing to it changes the tensor. */
  get data(): Float32Array {
    if (this.storage === null) throw new Error(`Tensor ${shapeToString(this.shape)} was used after dispose()`);
    return this.storage.data;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  get isDisposed(): boolean {
    return this.storage === null;
  }

  /** Whether another tensor (a view, a detached copy of the handle) holds the same storage. */
  get sharesStorage(): boolean {
    return this.storage !== null && this.storage.shared;
  }

  /** A tensor of another shape over the same storage (no copy). */
  viewAs(shape: Shape): Tensor {
    if (this.storage === null) throw new Error('Tensor was used after dispose()');
    return new Tensor(this.storage.retain(), shape);
  }

  /** A copy of the values, safe to keep after the tensor is disposed. */
  toFloat32Array(): Float32Array {
    return this.data.slice();
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item(): tensor of shape ${shapeToString(this.shape)} has ${this.size} elements, not 1`);
    return this.data[0]!;
  }

  dispose(): void {
    if (this.storage === null) return;
    finalizer.unregister(this.token);
    trackTensor(-1);
    this.storage.release();
    this.storage = null;
    this.gradFn = null;
    this.grad?.dispose();
    this.grad = null;
  }

  toString(): string {
    const preview = this.storage === null ? 'disposed' : Array.from(this.data.subarray(0, 8), (v) => +v.toFixed(4)).join(', ');
    return `Tensor(shape=${shapeToString(this.shape)}, [${preview}${this.size > 8 ? ', …' : ''}])`;
  }
}
