import { getBackend } from '../kernels/registry.js';
import { keep } from '../tensor/scope.js';
import { sameShape, shapeToString } from '../tensor/shape.js';
import { Tensor, lastTensorId, type GradFn } from '../tensor/tensor.js';
import { noGrad } from './mode.js';

export interface BackwardOptions {
  /** Keep the graph so backward can run through it again (PyTorch's retain_graph). */
  retainGraph?: boolean;
}

/** Marks a node whose graph was freed by an earlier backward, as PyTorch does. */
function freedGradFn(name: string): GradFn {
  return {
    name,
    inputs: [],
    backward() {
      throw new Error(
        `backward: trying to backward through the graph a second time (through ${name}); pass { retainGraph: true } to the first backward()`,
      );
    },
  };
}

/** Nodes that need a gradient, each after every node that consumes it (reverse topological order). */
function orderFrom(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: Array<[Tensor, number]> = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [node, next] = top;
    const inputs = node.gradFn?.inputs ?? [];
    if (next < inputs.length) {
      top[1]++;
      const input = inputs[next]!;
      if (input.requiresGrad && !visited.has(input)) {
        visited.add(input);
        stack.push([input, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse();
}

/** target += source, on the backend (a big activation's gradient can meet several consumers). */
function addInto(target: Tensor, source: Tensor): void {
  getBackend().binary('add', target.data, target.shape, source.data, source.shape, target.data, target.shape);
}

function copyOf(t: Tensor): Tensor {
  const copy = Tensor.empty(t.shape);
  copy.data.set(t.data);
  return copy;
}

/**
 * Reverse-mode autodiff from `root`. Gradients of leaves that require them are accumulated
 * into `.grad` (created on first use and kept outside any tidy scope); intermediate
 * gradients are released as soon as they have been consumed.
 */
export function backward(root: Tensor, gradient?: Tensor, options: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new Error('backward: the tensor does not require grad and has no grad_fn (did every input have requiresGrad: false, or was it made under noGrad?)');
  }
  let seed: Tensor;
  if (gradient === undefined) {
    if (root.size !== 1) {
      throw new Error(`backward: a gradient can be created implicitly only for one-element outputs, got shape ${shapeToString(root.shape)}; pass the gradient explicitly`);
    }
    seed = Tensor.empty(root.shape);
    seed.data.fill(1);
  } else {
    if (!sameShape(gradient.shape, root.shape)) {
      throw new RangeError(`backward: gradient shape ${shapeToString(gradient.shape)} does not match output shape ${shapeToString(root.shape)}`);
    }
    seed = gradient;
  }

  // Tensors with larger ids were made by this backward (not saved by a forward, nor the caller's).
  const madeBefore = lastTensorId();
  const grads = new Map<Tensor, Tensor>();
  // How many slots of `grads` hold each gradient tensor, so one is disposed only when unused.
  const holders = new Map<Tensor, number>();
  const owned = new Set<Tensor>();
  const hold = (node: Tensor, g: Tensor): void => {
    grads.set(node, g);
    holders.set(g, (holders.get(g) ?? 0) + 1);
  };
  const drop = (node: Tensor): void => {
    const g = grads.get(node);
    if (g === undefined) return;
    grads.delete(node);
    const n = (holders.get(g) ?? 1) - 1;
    if (n > 0) {
      holders.set(g, n);
      return;
    }
    holders.delete(g);
    if (g !== gradient) g.dispose();
  };
  const accumulate = (node: Tensor, g: Tensor): void => {
    if (!sameShape(g.shape, node.shape)) {
      throw new Error(
        `backward: ${node.gradFn?.name ?? 'leaf'} received a gradient of shape ${shapeToString(g.shape)} for a tensor of shape ${shapeToString(node.shape)}`,
      );
    }
    const existing = grads.get(node);
    if (existing === undefined) {
      hold(node, g);
      return;
    }
    if (owned.has(existing)) {
      addInto(existing, g);
    } else {
      const sum = copyOf(existing);
      addInto(sum, g);
      drop(node);
      owned.add(sum);
      hold(node, sum);
    }
    if (!holders.has(g) && g !== gradient) g.dispose();
  };

  noGrad(() => {
    hold(root, seed);
    for (const node of orderFrom(root)) {
      const g = grads.get(node);
      if (g === undefined) continue;
      const fn = node.gradFn;
      if (fn === null) {
        // A leaf: accumulate into .grad, which outlives this backward and any tidy scope.
        if (node.grad === null) {
          // As PyTorch's AccumulateGrad: a gradient this backward made, that nothing else holds or
          // views, becomes .grad itself instead of being copied (the seed and the caller's gradient never do).
          if (g.id > madeBefore && g !== seed && holders.get(g) === 1 && !g.sharesStorage) {
            grads.delete(node);
            holders.delete(g);
            node.grad = keep(g);
            continue;
          }
          node.grad = keep(copyOf(g));
        } else {
          addInto(node.grad, g);
        }
        drop(node);
        continue;
      }
      const inputGrads = fn.backward(g);
      if (inputGrads.length !== fn.inputs.length) {
        throw new Error(`backward: ${fn.name} returned ${inputGrads.length} gradients for its ${fn.inputs.length} inputs (one per input, null where none)`);
      }
      fn.inputs.forEach((input, i) => {
        const gi = inputGrads[i];
        if (gi === null || gi === undefined || !input.requiresGrad) {
          if (gi && !holders.has(gi) && gi !== gradient) gi.dispose();
          return;
        }
        accumulate(input, gi);
      });
      drop(node);
      if (!options.retainGraph) {
        node.gradFn = freedGradFn(fn.name);
        // Reverse topological order: every node that reads `node` has run by now.
        if (node.graphOnly) node.dispose();
      }
    }
  });
  if (seed !== gradient) seed.dispose();
}

declare module '../tensor/tensor.js' {
  interface Tensor {
    /** Computes gradients of this tensor with respect to every leaf that requires them. */
    backward(gradient?: Tensor, options?: BackwardOptions): void;
  }
}

Tensor.prototype.backward = function (this: Tensor, gradient?: Tensor, options?: BackwardOptions): void {
  backward(this, gradient, options);
};
