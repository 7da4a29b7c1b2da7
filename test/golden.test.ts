/**
 * PyTorch reference values (test/golden/fixtures, written by make_golden.py from PyTorch
 * 1.13): outputs within 1e-5 relative, gradients within 1e-4, on every backend.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  binaryCrossEntropy, binaryCrossEntropyWithLogits, conv2d, convTranspose2d, leakyRelu, linear, nn, optim, relu, sigmoid, tanh, tensor, tidy,
  type Tensor,
} from '../src/index.js';
import { assertClose, forEachBackend, loadFixture, type FixtureTensor } from './helpers.js';

const OUT = { rtol: 1e-5, atol: 1e-6 };
const GRAD = { rtol: 1e-4, atol: 1e-5 };

function t(f: FixtureTensor, requiresGrad = false): Tensor {
  return tensor(f.data, f.shape, { requiresGrad });
}

interface ConvCase {
  name: string;
  params: { stride: number; padding: number; output_padding?: number; bias: boolean };
  tensors: Record<'x' | 'w' | 'b' | 'y' | 'gy' | 'gx' | 'gw' | 'gb', FixtureTensor>;
}

function checkConv(c: ConvCase, transposed: boolean): void {
  tidy(() => {
    const x = t(c.tensors.x, true);
    const w = t(c.tensors.w, true);
    const b = c.params.bias ? t(c.tensors.b, true) : null;
    const y = transposed
      ? convTranspose2d(x, w, b, { stride: c.params.stride, padding: c.params.padding, outputPadding: c.params.output_padding ?? 0 })
      : conv2d(x, w, b, { stride: c.params.stride, padding: c.params.padding });
    assert.deepEqual([...y.shape], c.tensors.y.shape, 'output shape');
    assertClose(y.data, c.tensors.y.data, OUT, 'output');
    y.backward(t(c.tensors.gy));
    assertClose(x.grad!.data, c.tensors.gx.data, GRAD, 'grad x');
    assertClose(w.grad!.data, c.tensors.gw.data, GRAD, 'grad w');
    if (b) assertClose(b.grad!.data, c.tensors.gb.data, GRAD, 'grad b');
  });
}

interface BatchNormCase {
  name: string;
  params: { eps: number; momentum: number };
  tensors: { weight: FixtureTensor; bias: FixtureTensor };
  train_steps: Array<Record<'x' | 'y' | 'running_mean' | 'running_var', FixtureTensor>>;
  train_grad: Record<'gy' | 'gx' | 'gweight' | 'gbias', FixtureTensor>;
  num_batches_tracked: number;
  eval: Record<'x' | 'y' | 'gy' | 'gx' | 'gweight' | 'gbias', FixtureTensor>;
}

interface OptimCase {
  name: string;
  hparams: Record<string, number | boolean>;
  initial: FixtureTensor[];
  grads: FixtureTensor[][];
  params_after: FixtureTensor[][];
  state_after: Array<Record<string, FixtureTensor | null>>;
}

forEachBackend((backend) => {
  describe(`PyTorch golden values on the ${backend} backend`, () => {
    describe('conv2d', () => {
      for (const c of loadFixture<{ cases: ConvCase[] }>('conv2d').cases) it(c.name, () => checkConv(c, false));
    });
    describe('convTranspose2d', () => {
      for (const c of loadFixture<{ cases: ConvCase[] }>('conv_transpose2d').cases) it(c.name, () => checkConv(c, true));
    });

    describe('BatchNorm2d', () => {
      for (const c of loadFixture<{ cases: BatchNormCase[] }>('batch_norm2d').cases) {
        it(`${c.name}: three training steps, gradients, then eval`, () => {
          tidy(() => {
            const channels = c.tensors.weight.shape[0]!;
            const bn = new nn.BatchNorm2d(channels, { eps: c.params.eps, momentum: c.params.momentum });
            bn.weight!.data.set(c.tensors.weight.data);
            bn.bias!.data.set(c.tensors.bias.data);
            let last: { x: Tensor; y: Tensor } | null = null;
            for (const [i, step] of c.train_steps.entries()) {
              const x = t(step.x, true);
              const y = bn.forward(x);
              assertClose(y.data, step.y.data, OUT, `train step ${i + 1} output`);
              assertClose(bn.runningMean!.data, step.running_mean.data, OUT, `running_mean after step ${i + 1}`);
              assertClose(bn.runningVar!.data, step.running_var.data, OUT, `running_var after step ${i + 1}`);
              last = { x, y };
            }
            assert.equal(bn.numBatchesTracked!.item(), c.num_batches_tracked);
            last!.y.backward(t(c.train_grad.gy));
            assertClose(last!.x.grad!.data, c.train_grad.gx.data, GRAD, 'train grad x');
            assertClose(bn.weight!.grad!.data, c.train_grad.gweight.data, GRAD, 'train grad weight');
            assertClose(bn.bias!.grad!.data, c.train_grad.gbias.data, GRAD, 'train grad bias');

            bn.zeroGrad();
            bn.eval();
            const x = t(c.eval.x, true);
            const y = bn.forward(x);
            assertClose(y.data, c.eval.y.data, OUT, 'eval output');
            y.backward(t(c.eval.gy));
            assertClose(x.grad!.data, c.eval.gx.data, GRAD, 'eval grad x');
            assertClose(bn.weight!.grad!.data, c.eval.gweight.data, GRAD, 'eval grad weight');
            assertClose(bn.bias!.grad!.data, c.eval.gbias.data, GRAD, 'eval grad bias');
            assert.equal(bn.numBatchesTracked!.item(), c.num_batches_tracked, 'eval does not count batches');
          });
        });
      }
    });

    describe('losses', () => {
      interface LossCase {
        name: string;
        loss: 'bce_with_logits' | 'bce';
        reduction: 'mean' | 'sum';
        tensors: Record<'x' | 't' | 'loss' | 'gx', FixtureTensor>;
      }
      for (const c of loadFixture<{ cases: LossCase[] }>('losses').cases) {
        it(c.name, () => {
          tidy(() => {
            const x = t(c.tensors.x, true);
            const fn = c.loss === 'bce' ? binaryCrossEntropy : binaryCrossEntropyWithLogits;
            const loss = fn(x, t(c.tensors.t), { reduction: c.reduction });
            assertClose(loss.data, c.tensors.loss.data, OUT, 'loss');
            loss.backward();
            assertClose(x.grad!.data, c.tensors.gx.data, GRAD, 'grad');
          });
        });
      }
    });

    describe('activations', () => {
      interface ActivationCase {
        name: string;
        params?: { negative_slope?: number };
        tensors: Record<'x' | 'y' | 'gy' | 'gx', FixtureTensor>;
      }
      const ops: Record<string, (x: Tensor, c: ActivationCase) => Tensor> = {
        relu: (x) => relu(x),
        leaky_relu: (x, c) => leakyRelu(x, c.params?.negative_slope ?? 0.01),
        tanh: (x) => tanh(x),
        sigmoid: (x) => sigmoid(x),
      };
      for (const c of loadFixture<{ cases: ActivationCase[] }>('activations').cases) {
        it(c.name, () => {
          tidy(() => {
            const x = t(c.tensors.x, true);
            const y = ops[c.name]!(x, c);
            assertClose(y.data, c.tensors.y.data, OUT, 'output');
            y.backward(t(c.tensors.gy));
            assertClose(x.grad!.data, c.tensors.gx.data, GRAD, 'grad');
          });
        });
      }
    });

    describe('linear', () => {
      for (const c of loadFixture<{ cases: ConvCase[] }>('linear').cases) {
        it(c.name, () => {
          tidy(() => {
            const x = t(c.tensors.x, true);
            const w = t(c.tensors.w, true);
            const b = c.params.bias ? t(c.tensors.b, true) : null;
            const y = linear(x, w, b);
            assertClose(y.data, c.tensors.y.data, OUT, 'output');
            y.backward(t(c.tensors.gy));
            assertClose(x.grad!.data, c.tensors.gx.data, GRAD, 'grad x');
            assertClose(w.grad!.data, c.tensors.gw.data, GRAD, 'grad w');
            if (b) assertClose(b.grad!.data, c.tensors.gb.data, GRAD, 'grad b');
          });
        });
      }
    });

    const runOptimizer = (c: OptimCase, make: (params: Tensor[]) => optim.Optimizer, stateKeys: string[]): void => {
      tidy(() => {
        const params = c.initial.map((p) => t(p, true));
        const opt = make(params);
        c.grads.forEach((grads, step) => {
          params.forEach((p, i) => {
            p.grad?.dispose();
            p.grad = t(grads[i]!);
          });
          opt.step();
          params.forEach((p, i) => assertClose(p.data, c.params_after[step]![i]!.data, OUT, `param ${i} after step ${step + 1}`));
        });
        const state = opt.stateDict().state;
        c.state_after.forEach((expected, i) => {
          for (const key of stateKeys) {
            const e = expected[key];
            const actual = state[i]?.[key];
            if (e === null || e === undefined) {
              assert.ok(actual === undefined, `${key} should not exist for parameter ${i}`);
              continue;
            }
            assertClose((actual as Tensor).data, e.data, OUT, `${key} of parameter ${i}`);
          }
        });
      });
    };

    describe('Adam', () => {
      for (const c of loadFixture<{ cases: OptimCase[] }>('adam').cases) {
        it(`${c.name}: five steps`, () => {
          const h = c.hparams as Record<string, number>;
          runOptimizer(c, (params) => new optim.Adam(params, { lr: h['lr'], betas: [h['beta1']!, h['beta2']!], eps: h['eps'], weightDecay: h['weight_decay'] }), ['exp_avg', 'exp_avg_sq']);
        });
      }
    });

    describe('SGD', () => {
      for (const c of loadFixture<{ cases: OptimCase[] }>('sgd').cases) {
        it(`${c.name}: five steps`, () => {
          const h = c.hparams;
          runOptimizer(
            c,
            (params) => new optim.SGD(params, { lr: h['lr'] as number, momentum: h['momentum'] as number, dampening: h['dampening'] as number, weightDecay: h['weight_decay'] as number, nesterov: h['nesterov'] as boolean }),
            ['momentum_buffer'],
          );
        });
      }
    });
  });
});
