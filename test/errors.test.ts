/**
 * Bad input must fail early with a message a user can act on: it names the op and the
 * shapes (or the offending setting) involved, rather than producing garbage or a crash deep
 * inside a kernel.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  add,
  backward,
  binaryCrossEntropy,
  conv2d,
  convTranspose2d,
  functional as F,
  getBackendName,
  linear,
  listBackends,
  matmul,
  mul,
  nn,
  ones,
  permute,
  reshape,
  setBackend,
  sum,
  tensor,
  zeros,
  type Shape,
} from '../src/index.js';

/** A regex fragment matching the library's rendering of a shape, e.g. "[1, 3, 4, 4]". */
function shapeRe(shape: Shape): string {
  return `\\[${shape.join(', ')}\\]`;
}

/** Asserts `fn` throws an error of class `kind` whose message matches every pattern, in any order. */
function throwsWith(fn: () => unknown, kind: new (message?: string) => Error, ...patterns: Array<string | RegExp>): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof kind, `expected a ${kind.name}, got ${String(error)}`);
    for (const p of patterns) {
      const re = typeof p === 'string' ? new RegExp(p) : p;
      assert.match(error.message, re);
    }
    return true;
  });
}

describe('conv2d errors', () => {
  test('a 3-D input (wrong rank) names conv2d, the expected layout and the shape', () => {
    const x = zeros([3, 4, 4]);
    const w = zeros([2, 3, 3, 3]);
    assert.throws(() => conv2d(x, w), /conv2d.*4-D.*\[3, 4, 4\]/);
  });

  test('a 3-D weight is rejected too', () => {
    assert.throws(() => conv2d(zeros([1, 3, 4, 4]), zeros([3, 3, 3])), /conv2d.*weight.*\[3, 3, 3\]/);
  });

  test('input channels that do not match the weight name both shapes and both counts', () => {
    const x = zeros([1, 3, 5, 5]);
    const w = zeros([8, 4, 3, 3]);
    throwsWith(() => conv2d(x, w), RangeError, /^conv2d/, shapeRe([1, 3, 5, 5]), shapeRe([8, 4, 3, 3]), /\b3 channels\b/, /\b4\b/);
  });

  test('a kernel larger than the padded input names the sizes', () => {
    throwsWith(() => conv2d(zeros([1, 1, 4, 4]), zeros([1, 1, 5, 5])), RangeError, /^conv2d/, /kernel 5×5/, /larger than the padded input 4×4/, shapeRe([1, 1, 4, 4]));
    // With padding 1 the padded input is 6×6, so a 7×7 kernel is too big but a 6×6 one fits exactly.
    throwsWith(() => conv2d(zeros([1, 1, 4, 4]), zeros([1, 1, 7, 7]), null, { padding: 1 }), RangeError, /conv2d/, /padded input 6×6/);
    const y = conv2d(zeros([1, 1, 4, 4]), zeros([1, 1, 6, 6]), null, { padding: 1 });
    assert.deepEqual([...y.shape], [1, 1, 1, 1]);
  });

  test('only one spatial axis too small is still caught', () => {
    throwsWith(() => conv2d(zeros([1, 1, 8, 2]), zeros([1, 1, 3, 3])), RangeError, /conv2d/, /larger than the padded input 8×2/);
  });

  test('stride 0 and negative strides are rejected, naming the setting', () => {
    const x = zeros([1, 1, 4, 4]);
    const w = zeros([1, 1, 3, 3]);
    throwsWith(() => conv2d(x, w, null, { stride: 0 }), RangeError, /^conv2d/, /stride/, /\b0\b/);
    throwsWith(() => conv2d(x, w, null, { stride: -1 }), RangeError, /^conv2d/, /stride/);
    throwsWith(() => conv2d(x, w, null, { stride: [1, 0] }), RangeError, /^conv2d/, /stride/);
    throwsWith(() => conv2d(x, w, null, { stride: 1.5 }), RangeError, /^conv2d/, /stride.*integer/);
  });

  test('negative padding is rejected, naming the setting', () => {
    const x = zeros([1, 1, 4, 4]);
    const w = zeros([1, 1, 3, 3]);
    throwsWith(() => conv2d(x, w, null, { padding: -1 }), RangeError, /^conv2d/, /padding/, /-1/);
    throwsWith(() => conv2d(x, w, null, { padding: [0, -2] }), RangeError, /^conv2d/, /padding/);
  });

  test('a bias of the wrong length names the expected and the actual shape', () => {
    const x = zeros([1, 3, 5, 5]);
    const w = zeros([4, 3, 3, 3]);
    throwsWith(() => conv2d(x, w, zeros([3])), RangeError, /^conv2d/, /bias/, shapeRe([4]), shapeRe([3]));
    throwsWith(() => conv2d(x, w, zeros([4, 1])), RangeError, /^conv2d/, /bias/, shapeRe([4, 1]));
  });
});

describe('convTranspose2d errors', () => {
  test('a 3-D input (wrong rank) names convTranspose2d and the shape', () => {
    assert.throws(() => convTranspose2d(zeros([2, 4, 4]), zeros([2, 3, 4, 4])), /convTranspose2d.*4-D.*\[2, 4, 4\]/);
  });

  test('input channels that do not match the weight (layout [Cin, Cout, kH, kW]) name both shapes', () => {
    const x = zeros([1, 3, 4, 4]);
    const w = zeros([2, 5, 3, 3]);
    throwsWith(() => convTranspose2d(x, w), RangeError, /^convTranspose2d/, shapeRe([1, 3, 4, 4]), shapeRe([2, 5, 3, 3]), /\b3 channels\b/);
  });

  test('a weight laid out as conv2d ([Cout, Cin, …]) is caught when the channel counts differ', () => {
    // 100 → 64 as PyTorch stores it is [100, 64, 4, 4]; the conv2d layout [64, 100, 4, 4] must fail.
    throwsWith(() => convTranspose2d(zeros([1, 100, 1, 1]), zeros([64, 100, 4, 4])), RangeError, /convTranspose2d/, shapeRe([64, 100, 4, 4]));
  });

  test('stride 0 and negative padding are rejected, naming the setting', () => {
    const x = zeros([1, 2, 3, 3]);
    const w = zeros([2, 1, 4, 4]);
    throwsWith(() => convTranspose2d(x, w, null, { stride: 0 }), RangeError, /^convTranspose2d/, /stride/);
    throwsWith(() => convTranspose2d(x, w, null, { stride: -2 }), RangeError, /^convTranspose2d/, /stride/);
    throwsWith(() => convTranspose2d(x, w, null, { padding: -1 }), RangeError, /^convTranspose2d/, /padding/);
  });

  test('outputPadding must be smaller than the stride', () => {
    const x = zeros([1, 2, 3, 3]);
    const w = zeros([2, 1, 4, 4]);
    throwsWith(() => convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 2 }), RangeError, /^convTranspose2d/, /outputPadding/, /stride/);
    throwsWith(() => convTranspose2d(x, w, null, { stride: 1, outputPadding: 1 }), RangeError, /^convTranspose2d/, /outputPadding/);
    throwsWith(() => convTranspose2d(x, w, null, { stride: 2, outputPadding: -1 }), RangeError, /^convTranspose2d/, /outputPadding/);
    // outputPadding 1 < stride 2 is fine: (3 − 1)·2 − 2 + 4 + 1 = 7.
    const y = convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 });
    assert.deepEqual([...y.shape], [1, 1, 7, 7]);
  });

  test('an outputSize that cannot be reached names the request, the input and the reachable range', () => {
    // Input 3×3, kernel 4, stride 2, padding 1: (3 − 1)·2 − 2 + 4 = 6, so 6 and 7 are reachable.
    const x = zeros([1, 2, 3, 3]);
    const w = zeros([2, 1, 4, 4]);
    const options = { stride: 2, padding: 1 } as const;
    for (const size of [6, 7]) {
      const y = convTranspose2d(x, w, null, { ...options, outputSize: [size, size] });
      assert.deepEqual([...y.shape], [1, 1, size, size], `outputSize ${size} is reachable`);
    }
    const unreachable: Array<[number, number]> = [
      [8, 8], // beyond the largest (needs outputPadding 2 ≥ stride)
      [5, 5], // below the smallest (needs outputPadding −1)
      [6.5, 6.5], // between two reachable sizes: not an integer
      [6, 9], // one axis fine, the other not
    ];
    for (const size of unreachable) {
      throwsWith(
        () => convTranspose2d(x, w, null, { ...options, outputSize: size }),
        RangeError,
        /^convTranspose2d/,
        new RegExp(`output size ${size[0]}×${size[1]}`),
        /cannot be reached/,
        shapeRe([1, 2, 3, 3]),
        /6\.\.7/,
      );
    }
  });
});

describe('batchNorm2d errors', () => {
  test('a 2-D input names batchNorm2d and the shape', () => {
    throwsWith(() => F.batchNorm2d(zeros([4, 3]), zeros([3]), ones([3]), null, null, { training: true }), RangeError, /^batchNorm2d/, /4-D/, shapeRe([4, 3]));
  });

  test('the nn.BatchNorm2d layer rejects a 2-D input the same way', () => {
    const bn = new nn.BatchNorm2d(3);
    assert.throws(() => bn.forward(zeros([4, 3])), /batchNorm2d.*\[4, 3\]/);
  });

  test('running statistics of the wrong length name which one and both shapes', () => {
    const x = ones([2, 3, 2, 2]);
    throwsWith(() => F.batchNorm2d(x, zeros([4]), ones([3])), RangeError, /^batchNorm2d/, /runningMean/, shapeRe([3]), shapeRe([4]), shapeRe([2, 3, 2, 2]));
    throwsWith(() => F.batchNorm2d(x, zeros([3]), ones([2])), RangeError, /^batchNorm2d/, /runningVar/, shapeRe([2]));
    throwsWith(() => F.batchNorm2d(x, zeros([3]), ones([3]), ones([5])), RangeError, /^batchNorm2d/, /weight/, shapeRe([5]));
  });

  test('training with one value per channel is refused, naming the shape', () => {
    throwsWith(() => F.batchNorm2d(ones([1, 3, 1, 1]), zeros([3]), ones([3]), null, null, { training: true }), RangeError, /^batchNorm2d/, /more than 1 value per channel/, shapeRe([1, 3, 1, 1]));
    // Eval mode with the same input is fine: it uses the running statistics.
    const y = F.batchNorm2d(ones([1, 3, 1, 1]), zeros([3]), ones([3]));
    assert.deepEqual([...y.shape], [1, 3, 1, 1]);
  });

  test('eval mode without running statistics is refused', () => {
    assert.throws(() => F.batchNorm2d(ones([2, 3, 2, 2]), null, null, null, null, { training: false }), /batchNorm2d.*running/);
    assert.throws(() => F.batchNorm2d(ones([2, 3, 2, 2]), zeros([3]), null), /batchNorm2d.*running/);
  });
});

describe('dense op errors', () => {
  test('linear with the wrong feature count names the feature counts and the weight shape', () => {
    throwsWith(() => linear(zeros([2, 3]), zeros([5, 4])), RangeError, /^linear/, /\b3 features\b/, shapeRe([5, 4]), /expects 4/);
    throwsWith(() => linear(zeros([2, 4]), zeros([5, 4]), zeros([4])), RangeError, /^linear/, /bias/, shapeRe([5]), shapeRe([4]));
    const layer = new nn.Linear(4, 5);
    assert.throws(() => layer.forward(zeros([2, 3])), /linear.*3 features.*\[5, 4\]/);
  });

  test('matmul with mismatched inner dimensions names both shapes', () => {
    throwsWith(() => matmul(zeros([2, 3]), zeros([4, 5])), RangeError, /^matmul/, shapeRe([2, 3]), shapeRe([4, 5]));
    throwsWith(() => matmul(zeros([2, 2, 3]), zeros([3, 3, 4])), RangeError, /^matmul/, shapeRe([2, 2, 3]), shapeRe([3, 3, 4]));
    throwsWith(() => matmul(zeros([2, 3]), zeros([1, 3, 4])), RangeError, /^matmul/, shapeRe([2, 3]), shapeRe([1, 3, 4]));
  });

  test('add with shapes that do not broadcast names the op and both shapes', () => {
    throwsWith(() => add(zeros([2, 3]), zeros([4])), RangeError, /^add/, shapeRe([2, 3]), shapeRe([4]), /broadcast/);
    throwsWith(() => mul(zeros([2, 3, 4]), zeros([2, 1])), RangeError, /^mul/, shapeRe([2, 3, 4]), shapeRe([2, 1]));
    // Compatible shapes still broadcast.
    assert.deepEqual([...add(zeros([2, 3, 4]), zeros([3, 1])).shape], [2, 3, 4]);
  });

  test('reshape to an incompatible size names both shapes and the value count', () => {
    throwsWith(() => reshape(zeros([2, 3]), [4, 2]), RangeError, /^reshape/, shapeRe([2, 3]), shapeRe([4, 2]), /\b6 values\b/);
    throwsWith(() => reshape(zeros([2, 3]), [-1, 4]), RangeError, /^reshape/, shapeRe([2, 3]), shapeRe([-1, 4]));
    throwsWith(() => reshape(zeros([2, 3]), [-1, -1]), RangeError, /^reshape/, /-1/);
    throwsWith(() => zeros([2, 3]).view([7]), RangeError, /^reshape/, shapeRe([2, 3]));
  });

  test('permute with a non-permutation names the op, the axes and the shape', () => {
    throwsWith(() => permute(zeros([2, 3]), [0, 0]), RangeError, /^permute/, /\[0, 0\]/, /not a permutation/, shapeRe([2, 3]));
    throwsWith(() => permute(zeros([2, 3, 4]), [1, 0]), RangeError, /^permute/, shapeRe([2, 3, 4]));
    throwsWith(() => permute(zeros([2, 3]), [0, 2]), RangeError, /^permute/, /axis 2/);
  });
});

describe('tensor() errors', () => {
  test('the wrong number of values for the shape names both counts and the shape', () => {
    throwsWith(() => tensor([1, 2, 3], [2, 2]), RangeError, /^tensor/, /\b3 values\b/, shapeRe([2, 2]), /\b4 needed\b/);
    throwsWith(() => tensor(new Float32Array(5), [2, 3]), RangeError, /^tensor/, /\b5 values\b/, shapeRe([2, 3]));
    throwsWith(() => tensor([[1, 2], [3, 4]], [3]), RangeError, /^tensor/, /\b4 values\b/, shapeRe([3]));
  });

  test('ragged nested arrays are rejected', () => {
    throwsWith(() => tensor([[1, 2], [3]]), TypeError, /^tensor/, /ragged/);
    throwsWith(() => tensor([[1, 2], 3]), TypeError, /^tensor/, /ragged/);
    throwsWith(() => tensor([1, [2, 3]]), TypeError, /^tensor/, /ragged/);
    throwsWith(() => tensor([[[1], [2]], [[3], [4, 5]]]), TypeError, /^tensor/, /ragged/);
  });

  test('an invalid shape is rejected', () => {
    throwsWith(() => tensor([1, 2], [2, -1]), RangeError, /^tensor/, /invalid shape/, shapeRe([2, -1]));
  });
});

describe('loss errors', () => {
  test('binaryCrossEntropy with a target of another shape names both shapes', () => {
    throwsWith(() => binaryCrossEntropy(full22(0.5), zeros([4])), RangeError, /^binaryCrossEntropy/, /target/, shapeRe([4]), shapeRe([2, 2]));
    throwsWith(() => F.binaryCrossEntropyWithLogits(zeros([2, 2]), zeros([2, 1])), RangeError, /^binaryCrossEntropyWithLogits/, shapeRe([2, 1]), shapeRe([2, 2]));
    throwsWith(() => F.mseLoss(zeros([3]), zeros([2])), RangeError, /^mseLoss/, shapeRe([2]), shapeRe([3]));
  });

  test('binaryCrossEntropy with inputs outside [0, 1] points at the value (and at the logits version)', () => {
    throwsWith(() => binaryCrossEntropy(tensor([0.5, 1.5]), tensor([0, 1])), RangeError, /^binaryCrossEntropy/, /\[0, 1\]/, /1\.5/, /index 1/, /WithLogits/);
    throwsWith(() => binaryCrossEntropy(tensor([-0.25, 0.5]), 1), RangeError, /^binaryCrossEntropy/, /-0\.25/, /index 0/);
    throwsWith(() => binaryCrossEntropy(tensor([0.5, Number.NaN]), 1), RangeError, /^binaryCrossEntropy/, /NaN/);
    // The endpoints themselves are valid probabilities.
    assert.ok(Number.isFinite(binaryCrossEntropy(tensor([0, 1]), tensor([0, 1])).item()));
  });

  test('an unknown reduction is named', () => {
    // @ts-expect-error: deliberately invalid at runtime
    throwsWith(() => F.mseLoss(zeros([3]), zeros([3]), { reduction: 'avg' }), RangeError, /^mseLoss/, /reduction/, /avg/);
  });
});

function full22(v: number) {
  return tensor([v, v, v, v], [2, 2]);
}

describe('autograd errors', () => {
  test('backward on a non-scalar without a gradient names the shape', () => {
    const x = tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
    const y = mul(x, 2);
    throwsWith(() => y.backward(), Error, /^backward/, /one-element/, shapeRe([2, 2]));
    // With an explicit gradient of the right shape it works: d(2x)/dx · g = 2g.
    y.backward(ones([2, 2]));
    assert.deepEqual(x.grad!.toArray(), [2, 2, 2, 2]);
  });

  test('backward with a gradient of the wrong shape names both shapes', () => {
    const x = tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
    const y = mul(x, 2);
    throwsWith(() => y.backward(ones([4])), RangeError, /^backward/, shapeRe([4]), shapeRe([2, 2]));
  });

  test('backward on a tensor that does not require grad says so', () => {
    throwsWith(() => sum(tensor([1, 2])).backward(), Error, /^backward/, /does not require grad/);
  });

  test('a second backward through a freed graph fails; retainGraph allows it and accumulates', () => {
    const x = tensor([1, -2, 3], [3], { requiresGrad: true });
    const loss = sum(mul(x, x));
    loss.backward();
    assert.deepEqual(x.grad!.toArray(), [2, -4, 6]);
    throwsWith(() => loss.backward(), Error, /^backward/, /second time/, /retainGraph/);
    // The failed second pass must not have touched the gradient.
    assert.deepEqual(x.grad!.toArray(), [2, -4, 6]);

    const z = tensor([1, -2, 3], [3], { requiresGrad: true });
    const loss2 = sum(mul(z, z));
    backward(loss2, undefined, { retainGraph: true });
    backward(loss2, undefined, { retainGraph: true });
    loss2.backward();
    // d(Σz²)/dz = 2z, accumulated three times.
    assert.deepEqual(z.grad!.toArray(), [6, -12, 18]);
    assert.throws(() => loss2.backward(), /second time/);
  });

  test('an intermediate freed by an earlier backward cannot be differentiated again either', () => {
    const x = tensor([0.5, 2], [2], { requiresGrad: true });
    const h = mul(x, 3);
    const a = sum(h);
    a.backward();
    const b = sum(mul(h, h));
    assert.throws(() => b.backward(), /backward.*second time/);
  });
});

describe('disposed tensors', () => {
  test('reading data after dispose() names the shape and dispose()', () => {
    const t = tensor([1, 2, 3, 4], [2, 2]);
    t.dispose();
    assert.equal(t.isDisposed, true);
    throwsWith(() => t.data, Error, /dispose\(\)/, shapeRe([2, 2]));
    throwsWith(() => t.toArray(), Error, /dispose\(\)/);
    const scalar = tensor(5);
    scalar.dispose();
    throwsWith(() => scalar.item(), Error, /dispose\(\)/);
  });

  test('using a disposed tensor in an op fails instead of computing on freed memory', () => {
    const t = tensor([1, 2, 3, 4], [2, 2]);
    const u = ones([2, 2]);
    t.dispose();
    assert.throws(() => add(t, u), /dispose\(\)/);
    assert.throws(() => add(u, t), /dispose\(\)/);
    assert.throws(() => matmul(t, u), /dispose\(\)/);
    assert.throws(() => reshape(t, [4]), /dispose\(\)/);
    // The other operand is unharmed.
    assert.deepEqual(u.toArray(), [1, 1, 1, 1]);
  });

  test('dispose() twice is harmless', () => {
    const t = ones([3]);
    t.dispose();
    assert.doesNotThrow(() => t.dispose());
  });
});

describe('Module.loadStateDict errors', () => {
  function layer(): nn.Sequential {
    return new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2));
  }

  test('missing keys are listed by name', () => {
    const m = layer();
    const state = { ...m.stateDict() };
    delete state['0.bias'];
    delete state['1.running_var'];
    throwsWith(() => layer().loadStateDict(state), Error, /^loadStateDict/, /missing keys/, /0\.bias/, /1\.running_var/);
  });

  test('unexpected keys are listed by name', () => {
    const state = { ...layer().stateDict(), 'main.9.weight': zeros([1]) };
    throwsWith(() => layer().loadStateDict(state), Error, /^loadStateDict/, /unexpected keys/, /main\.9\.weight/);
  });

  test('strict: false reports missing and unexpected keys instead of throwing, and loads the rest', () => {
    const source = layer();
    const state: nn.StateDict = { ...source.stateDict(), extra: zeros([1]) };
    delete state['1.bias'];
    const target = layer();
    const result = target.loadStateDict(state, { strict: false });
    assert.deepEqual(result.missingKeys, ['1.bias']);
    assert.deepEqual(result.unexpectedKeys, ['extra']);
    assert.deepEqual(target.stateDict()['0.weight']!.toArray(), source.stateDict()['0.weight']!.toArray());
  });

  test('a tensor of the wrong shape names the key and both shapes, and loads nothing', () => {
    const target = layer();
    const before = target.stateDict()['0.weight']!.toArray();
    const state = { ...layer().stateDict(), '1.weight': zeros([3]) };
    throwsWith(() => target.loadStateDict(state), RangeError, /^loadStateDict/, /'1\.weight'/, shapeRe([3]), shapeRe([2]));
    // Validation happens before any copy, so a failed load leaves earlier entries as they were.
    assert.deepEqual(target.stateDict()['0.weight']!.toArray(), before);
    throwsWith(() => target.loadStateDict({ ...layer().stateDict(), '0.weight': zeros([2, 1, 5, 5]) }), RangeError, /'0\.weight'/, shapeRe([2, 1, 5, 5]), shapeRe([2, 1, 3, 3]));
  });
});

describe('backend selection errors', () => {
  test("setBackend('nope') names the backend and lists the available ones", () => {
    const current = getBackendName();
    throwsWith(() => setBackend('nope'), Error, /^setBackend/, /'nope'/, new RegExp(listBackends().join(', ')));
    // The failed call leaves the current backend selected.
    assert.equal(getBackendName(), current);
  });
});
