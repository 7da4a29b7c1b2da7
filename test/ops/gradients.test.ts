/**
 * Every differentiable op, on every backend: the forward pass against a float64 reference
 * written from the definition, and the analytic gradient against central finite differences
 * of that reference (float64, so the numeric side is exact to ~1e-9).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  add, batchNorm2d, binaryCrossEntropy, binaryCrossEntropyWithLogits, conv2d, convTranspose2d, div, flatten, leakyRelu, linear,
  matmul, mean, mseLoss, mul, permute, pow, relu, reshape, rsub, rdiv, sigmoid, sub, sum, tanh, tensor, transpose, exp, log, abs, sqrt,
  square, neg, expand, tidy, setConvColumnBudget, type Tensor,
} from '../../src/index.js';
import { assertClose, forEachBackend, numericGradients, randomValues, testRandom } from '../helpers.js';
import {
  batchNormRef, bceRef, bceWithLogitsRef, broadcastRef, conv2dRef, convOutSize, convTranspose2dRef, convTransposeOutSize, matmulRef, type ConvRefSpec,
} from './reference.js';

interface InputSpec {
  shape: number[];
  data: Float32Array;
  /** False for inputs that are constants (targets). */
  grad?: boolean;
}

interface OpCheck {
  inputs: InputSpec[];
  ours: (ts: Tensor[]) => Tensor;
  reference: (xs: Float64Array[]) => Float64Array;
  forwardTol?: { rtol?: number; atol?: number };
  gradTol?: { rtol?: number; atol?: number };
}

let seedCounter = 1000;
function input(shape: number[], scale = 1, grad = true): InputSpec {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: randomValues(n, seedCounter++, scale), grad };
}

/** Values bounded away from 0, for ops with a kink or a pole there. */
function awayFromZero(spec: InputSpec, margin = 0.05): InputSpec {
  for (let i = 0; i < spec.data.length; i++) {
    const v = spec.data[i]!;
    if (Math.abs(v) < margin) spec.data[i] = v < 0 ? -margin - Math.abs(v) : margin + Math.abs(v);
  }
  return spec;
}

function checkOp(what: string, c: OpCheck): void {
  tidy(() => {
    const ts = c.inputs.map((s) => tensor(s.data, s.shape, { requiresGrad: s.grad !== false }));
    const y = c.ours(ts);
    const xs = c.inputs.map((s) => Float64Array.from(s.data));
    const expected = c.reference(xs);
    assertClose(y.data, expected, { rtol: 1e-5, atol: 1e-5, ...c.forwardTol }, `${what} forward`);
    const gy = randomValues(y.size, seedCounter++);
    y.backward(tensor(gy, y.shape));
    const numeric = numericGradients(c.reference, xs, gy);
    c.inputs.forEach((s, i) => {
      if (s.grad === false) return;
      const g = ts[i]!.grad;
      if (g === null) throw new Error(`${what}: input ${i} received no gradient`);
      assertClose(g.data, numeric[i]!, { rtol: 1e-4, atol: 1e-4, ...c.gradTol }, `${what} gradient of input ${i}`);
    });
  });
}

/** Random valid convolution geometries: odd and even sizes, strides 1–2 (some 3), padding 0–2, batch 1–2. */
function convCases(count: number, seed: number, transposed: boolean): ConvRefSpec[] {
  const rand = testRandom(seed);
  const pick = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const cases: ConvRefSpec[] = [];
  while (cases.length < count) {
    const stride = cases.length < 2 ? cases.length + 1 : pick(1, 3);
    const s: ConvRefSpec = {
      n: cases.length === 0 ? 1 : pick(1, 2),
      cin: pick(1, 3),
      h: pick(1, 7),
      w: pick(1, 6),
      cout: pick(1, 3),
      kh: pick(1, 4),
      kw: pick(1, 4),
      stride,
      padding: pick(0, 2),
      outputPadding: transposed ? pick(0, stride - 1) : 0,
    };
    if (transposed) {
      const [oh, ow] = convTransposeOutSize(s);
      if (oh < 1 || ow < 1) continue;
    } else if (s.kh > s.h + 2 * s.padding || s.kw > s.w + 2 * s.padding) {
      continue;
    }
    cases.push(s);
  }
  return cases;
}

const describeName = (s: ConvRefSpec): string =>
  `N${s.n} C${s.cin}→${s.cout} ${s.h}×${s.w} k${s.kh}×${s.kw} s${s.stride} p${s.padding}${s.outputPadding ? ` op${s.outputPadding}` : ''}`;

forEachBackend((backend) => {
  describe(`ops on the ${backend} backend`, () => {
    it('relu and leaky relu pass NaN on, as PyTorch (so a NaN is never hidden from the divergence check)', () => {
      // 11 values: vector lanes and the scalar tail both see a NaN.
      const values = new Float32Array([Number.NaN, -1, 2, 0, -0.5, 3, Number.NaN, -2, 1, -3, Number.NaN]);
      const x = tensor(values, [11], { requiresGrad: true });
      const finite = (t: Tensor): number[] => Array.from(t.data).filter((v) => !Number.isNaN(v)).map((v) => v + 0);
      for (const y of [relu(x), leakyRelu(x, 0.2)]) {
        for (const i of [0, 6, 10]) assert.ok(Number.isNaN(y.data[i]!), `output ${i} should be NaN, got ${y.data[i]}`);
      }
      assert.deepEqual(finite(relu(x)), [0, 2, 0, 0, 3, 0, 1, 0]);
      assertClose(finite(leakyRelu(x, 0.2)), [-0.2, 2, 0, -0.1, 3, -0.4, 1, -0.6]);
    });

    describe('conv2d', () => {
      for (const [i, s] of convCases(14, 7, false).entries()) {
        const bias = i % 2 === 0;
        it(describeName(s) + (bias ? ' +bias' : ''), () => {
          const inputs = [input([s.n, s.cin, s.h, s.w]), input([s.cout, s.cin, s.kh, s.kw], 0.5)];
          if (bias) inputs.push(input([s.cout]));
          checkOp('conv2d', {
            inputs,
            ours: ([x, w, b]) => conv2d(x!, w!, b ?? null, { stride: s.stride, padding: s.padding }),
            reference: ([x, w, b]) => conv2dRef(s, x!, w!, b ?? null),
          });
        });
      }
      for (const activation of [{ op: 'relu' }, { op: 'leakyRelu', negativeSlope: 0.2 }] as const) {
        it(`fused ${activation.op} (what Sequential runs for Conv2d → activation), +bias`, () => {
          const s = { n: 3, cin: 3, h: 6, w: 6, cout: 4, kh: 4, kw: 4, stride: 2, padding: 1 };
          const slope = activation.op === 'relu' ? 0 : activation.negativeSlope;
          checkOp(`conv2d+${activation.op}`, {
            inputs: [input([3, 3, 6, 6]), input([4, 3, 4, 4], 0.5), input([4])],
            ours: ([x, w, b]) => conv2d(x!, w!, b!, { stride: 2, padding: 1, activation }),
            reference: ([x, w, b]) => conv2dRef(s, x!, w!, b!).map((v) => (v > 0 ? v : slope * v)),
          });
        });
      }
      it("D's last layer: the window covers the image (one GEMM per pass), with a bias and with stride 2", () => {
        for (const s of [
          { n: 3, cin: 5, h: 4, w: 4, cout: 1, kh: 4, kw: 4, stride: 1, padding: 0 },
          { n: 2, cin: 3, h: 3, w: 2, cout: 4, kh: 3, kw: 2, stride: 2, padding: 0 },
        ]) {
          checkOp('conv2d window covers image', {
            inputs: [input([s.n, s.cin, s.h, s.w]), input([s.cout, s.cin, s.kh, s.kw], 0.5), input([s.cout])],
            ours: ([x, w, b]) => conv2d(x!, w!, b!, { stride: s.stride, padding: s.padding }),
            reference: ([x, w, b]) => conv2dRef(s, x!, w!, b!),
          });
        }
      });
      it('rectangular stride and padding pairs', () => {
        const s = { n: 2, cin: 2, h: 6, w: 7, cout: 2, kh: 3, kw: 2 };
        checkOp('conv2d pairs', {
          inputs: [input([2, 2, 6, 7]), input([2, 2, 3, 2])],
          ours: ([x, w]) => conv2d(x!, w!, null, { stride: [2, 1], padding: [1, 0] }),
          // Stride/padding pairs: compare against a square reference per axis by direct definition.
          reference: ([x, w]) => {
            const oh = Math.floor((6 + 2 - 3) / 2) + 1;
            const ow = Math.floor((7 - 2) / 1) + 1;
            const y = new Float64Array(2 * 2 * oh * ow);
            for (let n = 0; n < 2; n++) for (let o = 0; o < 2; o++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
              let acc = 0;
              for (let c = 0; c < 2; c++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 2; kx++) {
                const iy = oy * 2 - 1 + ky;
                const ix = ox + kx;
                if (iy < 0 || iy >= s.h || ix >= s.w) continue;
                acc += x![((n * 2 + c) * 6 + iy) * 7 + ix]! * w![((o * 2 + c) * 3 + ky) * 2 + kx]!;
              }
              y[((n * 2 + o) * oh + oy) * ow + ox] = acc;
            }
            return y;
          },
        });
      });
    });

    describe('convTranspose2d', () => {
      for (const [i, s] of convCases(14, 11, true).entries()) {
        const bias = i % 2 === 1;
        it(describeName(s) + (bias ? ' +bias' : ''), () => {
          const inputs = [input([s.n, s.cin, s.h, s.w]), input([s.cin, s.cout, s.kh, s.kw], 0.5)];
          if (bias) inputs.push(input([s.cout]));
          checkOp('convTranspose2d', {
            inputs,
            ours: ([x, w, b]) => convTranspose2d(x!, w!, b ?? null, { stride: s.stride, padding: s.padding, outputPadding: s.outputPadding ?? 0 }),
            reference: ([x, w, b]) => convTranspose2dRef(s, x!, w!, b ?? null),
          });
        });
      }
      it('DCGAN upsampling block (k4 s2 p1) and the 1×1 → 4×4 projection', () => {
        for (const s of [
          { n: 2, cin: 3, h: 4, w: 4, cout: 2, kh: 4, kw: 4, stride: 2, padding: 1 },
          { n: 2, cin: 5, h: 1, w: 1, cout: 3, kh: 4, kw: 4, stride: 1, padding: 0 },
        ]) {
          checkOp('convTranspose2d dcgan', {
            inputs: [input([s.n, s.cin, s.h, s.w]), input([s.cin, s.cout, 4, 4], 0.5)],
            ours: ([x, w]) => convTranspose2d(x!, w!, null, { stride: s.stride, padding: s.padding }),
            reference: ([x, w]) => convTranspose2dRef(s, x!, w!, null),
          });
        }
      });
      it('outputSize picks the output padding', () => {
        const s = { n: 1, cin: 2, h: 3, w: 3, cout: 2, kh: 3, kw: 3, stride: 2, padding: 1, outputPadding: 1 };
        checkOp('convTranspose2d outputSize', {
          inputs: [input([1, 2, 3, 3]), input([2, 2, 3, 3], 0.5)],
          ours: ([x, w]) => convTranspose2d(x!, w!, null, { stride: 2, padding: 1, outputSize: [6, 6] }),
          reference: ([x, w]) => convTranspose2dRef(s, x!, w!, null),
        });
      });
    });

    describe('convolutions in batch chunks (bounded column buffers)', () => {
      // n = 5 images; per image the columns hold rows·plane floats. Budgets of one image and of
      // two and a half (chunks 2, 2, 1) exercise the permutes, the last short chunk and the
      // weight gradient summed over chunks (the kept-columns path is the default above).
      const s = { n: 5, cin: 3, h: 6, w: 6, cout: 4, kh: 4, kw: 4, stride: 2, padding: 1 };
      const convBytesPerImage = s.cin * 16 * 3 * 3 * 4;
      const transposedBytesPerImage = s.cout * 16 * 3 * 3 * 4;
      for (const images of [1, 2.5]) {
        it(`conv2d, ${images} image(s) of columns per chunk`, () => {
          const previous = setConvColumnBudget(images * convBytesPerImage);
          try {
            checkOp('conv2d chunked', {
              inputs: [input([5, 3, 6, 6]), input([4, 3, 4, 4], 0.5), input([4])],
              ours: ([x, w, b]) => conv2d(x!, w!, b!, { stride: 2, padding: 1 }),
              reference: ([x, w, b]) => conv2dRef(s, x!, w!, b!),
            });
          } finally {
            setConvColumnBudget(previous);
          }
        });
        it(`convTranspose2d, ${images} image(s) of columns per chunk`, () => {
          const t = { n: 5, cin: 3, h: 3, w: 3, cout: 4, kh: 4, kw: 4, stride: 2, padding: 1 };
          const previous = setConvColumnBudget(images * transposedBytesPerImage);
          try {
            checkOp('convTranspose2d chunked', {
              inputs: [input([5, 3, 3, 3]), input([3, 4, 4, 4], 0.5), input([4])],
              ours: ([x, w, b]) => convTranspose2d(x!, w!, b!, { stride: 2, padding: 1 }),
              reference: ([x, w, b]) => convTranspose2dRef(t, x!, w!, b!),
            });
          } finally {
            setConvColumnBudget(previous);
          }
        });
      }
    });

    describe('batchNorm2d', () => {
      for (const [n, c, h, w] of [[4, 3, 3, 2], [1, 2, 3, 3], [3, 1, 1, 1], [2, 4, 2, 1]] as const) {
        it(`training, input [${n}, ${c}, ${h}, ${w}]`, () => {
          checkOp('batchNorm2d train', {
            inputs: [input([n, c, h, w], 2), input([c], 0.5), input([c])],
            ours: ([x, g, b]) => batchNorm2d(x!, null, null, g!, b!, { training: true, eps: 1e-5 }),
            reference: ([x, g, b]) => batchNormRef(x!, n, c, h * w, g!, b!, 1e-5, null),
            gradTol: { rtol: 2e-4, atol: 2e-4 },
          });
        });
      }
      it('eval mode uses running statistics', () => {
        const rm = Float32Array.from([0.3, -0.2]);
        const rv = Float32Array.from([1.5, 0.7]);
        checkOp('batchNorm2d eval', {
          inputs: [input([2, 2, 3, 3]), input([2], 0.5), input([2])],
          ours: ([x, g, b]) => batchNorm2d(x!, tensor(rm), tensor(rv), g!, b!, { training: false }),
          reference: ([x, g, b]) => batchNormRef(x!, 2, 2, 9, g!, b!, 1e-5, { mean: Float64Array.from(rm), variance: Float64Array.from(rv) }),
        });
      });
      for (const activation of [{ op: 'relu' }, { op: 'leakyRelu', negativeSlope: 0.2 }] as const) {
        it(`training, fused ${activation.op} (what Sequential runs for BatchNorm → activation)`, () => {
          const slope = activation.op === 'relu' ? 0 : activation.negativeSlope;
          checkOp(`batchNorm2d+${activation.op}`, {
            inputs: [input([4, 3, 3, 2], 2), input([3], 0.5), input([3])],
            ours: ([x, g, b]) => batchNorm2d(x!, null, null, g!, b!, { training: true, eps: 1e-5, activation }),
            reference: ([x, g, b]) => batchNormRef(x!, 4, 3, 6, g!, b!, 1e-5, null).map((v) => (v > 0 ? v : slope * v)),
            gradTol: { rtol: 2e-4, atol: 2e-4 },
          });
        });
      }
      it('without affine parameters', () => {
        checkOp('batchNorm2d no affine', {
          inputs: [input([3, 2, 2, 2])],
          ours: ([x]) => batchNorm2d(x!, null, null, null, null, { training: true }),
          reference: ([x]) => batchNormRef(x!, 3, 2, 4, null, null, 1e-5, null),
          gradTol: { rtol: 2e-4, atol: 2e-4 },
        });
      });
    });

    describe('linear and matmul', () => {
      it('linear with bias', () => {
        checkOp('linear', {
          inputs: [input([5, 7]), input([3, 7]), input([3])],
          ours: ([x, w, b]) => linear(x!, w!, b!),
          reference: ([x, w, b]) => {
            const y = new Float64Array(15);
            for (let i = 0; i < 5; i++) for (let o = 0; o < 3; o++) {
              let s = b![o]!;
              for (let k = 0; k < 7; k++) s += x![i * 7 + k]! * w![o * 7 + k]!;
              y[i * 3 + o] = s;
            }
            return y;
          },
        });
      });
      it('matmul 2-D, odd sizes', () => {
        checkOp('matmul', {
          inputs: [input([5, 3]), input([3, 7])],
          ours: ([a, b]) => matmul(a!, b!),
          reference: ([a, b]) => matmulRef(a!, b!, 5, 3, 7),
        });
      });
      it('matmul batched, with a shared right operand', () => {
        checkOp('matmul batched', {
          inputs: [input([3, 2, 4]), input([1, 4, 5])],
          ours: ([a, b]) => matmul(a!, b!),
          reference: ([a, b]) => {
            const y = new Float64Array(3 * 2 * 5);
            for (let i = 0; i < 3; i++) y.set(matmulRef(a!.subarray(i * 8, i * 8 + 8), b!, 2, 4, 5), i * 10);
            return y;
          },
        });
      });
    });

    describe('elementwise', () => {
      const shapes: Array<[number[], number[]]> = [[[2, 3], [2, 3]], [[2, 3, 4], [3, 1]], [[4], [2, 1, 4]], [[2, 1], [1, 5]], [[3, 2], []]];
      const binaries = [
        ['add', add, (a: number, b: number) => a + b],
        ['sub', sub, (a: number, b: number) => a - b],
        ['mul', mul, (a: number, b: number) => a * b],
        ['div', div, (a: number, b: number) => a / b],
      ] as const;
      for (const [name, op, f] of binaries) {
        for (const [sa, sb] of shapes) {
          it(`${name} [${sa}] with [${sb}]`, () => {
            const a = input(sa);
            const b = name === 'div' ? awayFromZero(input(sb), 0.5) : input(sb);
            const outShape = [...Array(Math.max(sa.length, sb.length)).keys()].map((i, _, all) => {
              const da = sa[sa.length - all.length + i] ?? 1;
              const db = sb[sb.length - all.length + i] ?? 1;
              return Math.max(da, db);
            });
            checkOp(name, {
              inputs: [a, b],
              ours: ([x, y]) => op(x!, y!),
              reference: ([x, y]) => broadcastRef(f, x!, sa, y!, sb, outShape),
              gradTol: { rtol: 2e-4, atol: 2e-4 },
            });
          });
        }
      }
      const scalarOps = [
        ['add scalar', (x: Tensor) => add(x, 1.5), (v: number) => v + 1.5],
        ['mul scalar', (x: Tensor) => mul(x, -2.5), (v: number) => v * -2.5],
        ['sub scalar', (x: Tensor) => sub(x, 0.25), (v: number) => v - 0.25],
        ['div scalar', (x: Tensor) => div(x, 4), (v: number) => v / 4],
        ['rsub', (x: Tensor) => rsub(x, 1), (v: number) => 1 - v],
        ['rdiv', (x: Tensor) => rdiv(x, 2), (v: number) => 2 / v],
        ['pow 3', (x: Tensor) => pow(x, 3), (v: number) => v ** 3],
        ['neg', neg, (v: number) => -v],
        ['relu', relu, (v: number) => Math.max(v, 0)],
        ['leakyRelu 0.2', (x: Tensor) => leakyRelu(x, 0.2), (v: number) => (v > 0 ? v : 0.2 * v)],
        ['tanh', tanh, Math.tanh],
        ['sigmoid', sigmoid, (v: number) => 1 / (1 + Math.exp(-v))],
        ['exp', exp, Math.exp],
        ['abs', abs, Math.abs],
        ['square', square, (v: number) => v * v],
      ] as const;
      for (const [name, op, f] of scalarOps) {
        it(name, () => {
          const x = awayFromZero(input([3, 5], 2), 0.1);
          checkOp(name, { inputs: [x], ours: ([t]) => op(t!), reference: ([v]) => v!.map(f), gradTol: { rtol: 2e-4, atol: 2e-4 } });
        });
      }
      for (const [name, op, f] of [['log', log, Math.log], ['sqrt', sqrt, Math.sqrt]] as const) {
        it(name, () => {
          const x = input([4, 3]);
          x.data.forEach((v, i) => (x.data[i] = Math.abs(v) + 0.5));
          checkOp(name, { inputs: [x], ours: ([t]) => op(t!), reference: ([v]) => v!.map(f) });
        });
      }
    });

    describe('reductions and reshaping', () => {
      const x = (): InputSpec => input([2, 3, 4]);
      const reduceRef = (v: Float64Array, shape: number[], axes: number[]): Float64Array => {
        const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const out = new Float64Array(outShape.reduce((a, b) => a * b, 1));
        for (let i = 0; i < v.length; i++) {
          let r = i;
          let o = 0;
          const coords: number[] = [];
          for (let d = shape.length - 1; d >= 0; d--) {
            coords[d] = r % shape[d]!;
            r = Math.floor(r / shape[d]!);
          }
          for (let d = 0; d < shape.length; d++) o = o * outShape[d]! + (axes.includes(d) ? 0 : coords[d]!);
          out[o]! += v[i]!;
        }
        return out;
      };
      it('sum over everything', () => checkOp('sum', { inputs: [x()], ours: ([t]) => sum(t!), reference: ([v]) => Float64Array.of(v!.reduce((a, b) => a + b, 0)) }));
      it('sum over axes 0 and 2, keepDim', () =>
        checkOp('sum axes', { inputs: [x()], ours: ([t]) => sum(t!, [0, -1], { keepDim: true }), reference: ([v]) => reduceRef(v!, [2, 3, 4], [0, 2]) }));
      it('mean over axis 1', () =>
        checkOp('mean', { inputs: [x()], ours: ([t]) => mean(t!, 1), reference: ([v]) => reduceRef(v!, [2, 3, 4], [1]).map((s) => s / 3) }));
      it('reshape, flatten and transpose', () =>
        checkOp('reshape', {
          inputs: [x()],
          ours: ([t]) => mul(transpose(flatten(reshape(t!, [4, -1]), 0), 0, 0), 1),
          reference: ([v]) => v!.slice(),
        }));
      it('permute', () =>
        checkOp('permute', {
          inputs: [x()],
          ours: ([t]) => permute(t!, [2, 0, 1]),
          reference: ([v]) => {
            const out = new Float64Array(24);
            for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 4; c++) out[(c * 2 + a) * 3 + b] = v![(a * 3 + b) * 4 + c]!;
            return out;
          },
        }));
      it('expand', () =>
        checkOp('expand', {
          inputs: [input([3, 1])],
          ours: ([t]) => expand(t!, [2, 3, 4]),
          reference: ([v]) => broadcastRef((a) => a, v!, [3, 1], new Float64Array(1), [], [2, 3, 4]),
        }));
    });

    describe('losses', () => {
      const targets = (n: number): InputSpec => {
        const t = input([n], 1, false);
        const rand = testRandom(99);
        t.data.forEach((_, i) => (t.data[i] = i % 3 === 0 ? 1 : i % 3 === 1 ? 0 : rand()));
        return t;
      };
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        it(`binaryCrossEntropyWithLogits (${reduction})`, () => {
          const x = input([12], 3);
          x.data[0] = 40;
          x.data[1] = -40;
          const t = targets(12);
          checkOp('bceWithLogits', {
            inputs: [x, t],
            ours: ([a, b]) => binaryCrossEntropyWithLogits(a!, b!, { reduction }),
            reference: ([a, b]) => {
              const per = a!.map((v, i) => bceWithLogitsRef(v, b![i]!));
              return reduction === 'none' ? per : Float64Array.of(per.reduce((p, q) => p + q, 0) / (reduction === 'mean' ? per.length : 1));
            },
          });
        });
        it(`binaryCrossEntropy (${reduction})`, () => {
          const p = input([12]);
          p.data.forEach((v, i) => (p.data[i] = 0.05 + 0.9 / (1 + Math.exp(-2 * v))));
          const t = targets(12);
          checkOp('bce', {
            inputs: [p, t],
            ours: ([a, b]) => binaryCrossEntropy(a!, b!, { reduction }),
            reference: ([a, b]) => {
              const per = a!.map((v, i) => bceRef(v, b![i]!));
              return reduction === 'none' ? per : Float64Array.of(per.reduce((q, r) => q + r, 0) / (reduction === 'mean' ? per.length : 1));
            },
          });
        });
      }
      it('mseLoss', () =>
        checkOp('mse', {
          inputs: [input([3, 4]), input([3, 4], 1, false)],
          ours: ([a, b]) => mseLoss(a!, b!),
          reference: ([a, b]) => Float64Array.of(a!.reduce((s, v, i) => s + (v - b![i]!) ** 2, 0) / 12),
        }));
    });

    describe('composition', () => {
      it('a small conv → batchnorm → leakyRelu → transposed conv → tanh chain', () => {
        const s1 = { n: 2, cin: 2, h: 6, w: 6, cout: 3, kh: 4, kw: 4, stride: 2, padding: 1 };
        const [oh, ow] = convOutSize(s1);
        const s2 = { n: 2, cin: 3, h: oh, w: ow, cout: 1, kh: 4, kw: 4, stride: 2, padding: 1 };
        checkOp('chain', {
          inputs: [input([2, 2, 6, 6]), input([3, 2, 4, 4], 0.5), input([3, 1, 4, 4], 0.5)],
          ours: ([x, w1, w2]) => tanh(convTranspose2d(leakyRelu(batchNorm2d(conv2d(x!, w1!, null, { stride: 2, padding: 1 }), null, null, null, null, { training: true }), 0.2), w2!, null, { stride: 2, padding: 1 })),
          reference: ([x, w1, w2]) => {
            const h = batchNormRef(conv2dRef(s1, x!, w1!, null), 2, 3, oh * ow, null, null, 1e-5, null).map((v) => (v > 0 ? v : 0.2 * v));
            return convTranspose2dRef(s2, h, w2!, null).map(Math.tanh);
          },
          gradTol: { rtol: 5e-4, atol: 5e-4 },
        });
      });
    });
  });
});
