/**
 * src/io/onnx: the protobuf writer, the exported graphs read back field by field, the exported
 * generator and discriminator run in onnxruntime-web (wasm, 1 thread) against our own forward
 * pass, the torch-fidelity variant's bytes, onnx.checker (Debian's python3-onnx, where
 * installed), export errors, and the CLI's writeOnnxExport.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-web';
import { Generator, nn, noGrad, optim, randn, tidy, type Tensor } from '../src/index.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { exportOnnx, OnnxExportError, ProtoWriter } from '../src/io/onnx/index.js';
import { DcganDiscriminator, DcganGenerator, dcganDiscriminator, dcganGenerator, type DcganConfig } from '../src/models/dcgan.js';
import { Command } from 'commander';
import { exportOnnxCommandAction, onnxExportOptions, writeOnnxExport, type OnnxExportFlags } from '../src/cli/export-onnx.js';
import { UsageError } from '../src/cli/errors.js';

ort.env.wasm.numThreads = 1;

const dir = mkdtempSync(join(tmpdir(), 'dcgan-onnx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// A minimal protobuf reader, to check what the writer wrote (test-side only).

type Field = { field: number; wire: number; int?: bigint; bytes?: Uint8Array; fixed32?: Uint8Array };

function readVarint(b: Uint8Array, pos: { at: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = b[pos.at++];
    if (byte === undefined) throw new Error('truncated varint');
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return result;
    shift += 7n;
  }
}

function readFields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  const pos = { at: 0 };
  while (pos.at < b.length) {
    const key = Number(readVarint(b, pos));
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, int: readVarint(b, pos) });
    else if (wire === 2) {
      const n = Number(readVarint(b, pos));
      out.push({ field, wire, bytes: b.subarray(pos.at, pos.at + n) });
      pos.at += n;
    } else if (wire === 5) {
      out.push({ field, wire, fixed32: b.subarray(pos.at, pos.at + 4) });
      pos.at += 4;
    } else throw new Error(`unexpected wire type ${wire}`);
    if (pos.at > b.length) throw new Error('field runs past the end');
  }
  return out;
}

const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);
const all = (fs: Field[], n: number): Field[] => fs.filter((f) => f.field === n);
const one = (fs: Field[], n: number): Field => {
  const found = all(fs, n);
  assert.equal(found.length, 1, `field ${n} appears ${found.length} times`);
  return found[0]!;
};
const packedVarints = (b: Uint8Array): bigint[] => {
  const pos = { at: 0 };
  const out: bigint[] = [];
  while (pos.at < b.length) out.push(readVarint(b, pos));
  return out;
};

/** The parts of a ModelProto the tests look at. */
interface ReadModel {
  irVersion: number;
  opsets: Array<{ domain: string; version: number }>;
  producer: string;
  metadata: Record<string, string>;
  nodes: Array<{ op: string; inputs: string[]; outputs: string[]; attrs: Map<string, Field[]> }>;
  initializers: Map<string, { dims: number[]; dataType: number; floats: Float32Array | null; ints: bigint[] | null }>;
  inputs: Array<{ name: string; elemType: number; shape: Array<number | string> }>;
  outputs: Array<{ name: string; elemType: number; shape: Array<number | string> }>;
}

function readValueInfo(b: Uint8Array): { name: string; elemType: number; shape: Array<number | string> } {
  const f = readFields(b);
  const tensor = readFields(one(readFields(one(f, 2).bytes!), 1).bytes!);
  const dims = all(readFields(one(tensor, 2).bytes!), 1).map((d) => {
    const df = readFields(d.bytes!);
    const param = all(df, 2)[0];
    return param !== undefined ? text(param.bytes) : Number(one(df, 1).int);
  });
  return { name: text(one(f, 1).bytes), elemType: Number(one(tensor, 1).int), shape: dims };
}

function readModel(bytes: Uint8Array): ReadModel {
  const m = readFields(bytes);
  const g = readFields(one(m, 7).bytes!);
  const initializers: ReadModel['initializers'] = new Map();
  for (const t of all(g, 5)) {
    const f = readFields(t.bytes!);
    const dims = all(f, 1).flatMap((d) => packedVarints(d.bytes!)).map(Number);
    const floatField = all(f, 4)[0];
    const intField = all(f, 7)[0];
    const floats = floatField ? new Float32Array(floatField.bytes!.slice().buffer) : null;
    initializers.set(text(one(f, 8).bytes), { dims, dataType: Number(one(f, 2).int), floats, ints: intField ? packedVarints(intField.bytes!) : null });
  }
  return {
    irVersion: Number(one(m, 1).int),
    opsets: all(m, 8).map((o) => {
      const f = readFields(o.bytes!);
      return { domain: text(all(f, 1)[0]?.bytes), version: Number(one(f, 2).int) };
    }),
    producer: text(one(m, 2).bytes),
    metadata: Object.fromEntries(all(m, 14).map((e) => { const f = readFields(e.bytes!); return [text(one(f, 1).bytes), text(one(f, 2).bytes)]; })),
    nodes: all(g, 1).map((n) => {
      const f = readFields(n.bytes!);
      const attrs = new Map(all(f, 5).map((a) => { const af = readFields(a.bytes!); return [text(one(af, 1).bytes), af] as const; }));
      return { op: text(one(f, 4).bytes), inputs: all(f, 1).map((x) => text(x.bytes)), outputs: all(f, 2).map((x) => text(x.bytes)), attrs };
    }),
    initializers,
    inputs: all(g, 11).map((v) => readValueInfo(v.bytes!)),
    outputs: all(g, 12).map((v) => readValueInfo(v.bytes!)),
  };
}

// ---------------------------------------------------------------------------------------------
// Networks with weights and BatchNorm statistics that look trained (not the initial N(0, 0.02)
// weights, unit variances and zero means, which would leave every activation near zero).

function roughen(net: DcganGenerator | DcganDiscriminator, seed: number): void {
  const rng = new Generator(seed);
  for (const [, m] of net.namedModules()) {
    if (m instanceof nn.Conv2d || m instanceof nn.ConvTranspose2d || m instanceof nn.Linear) {
      const fanIn = m instanceof nn.ConvTranspose2d ? m.weight.shape[0]! : m.weight.size / m.weight.shape[0]!;
      rng.fillNormal(m.weight.data, 0, 1.5 / Math.sqrt(fanIn));
    } else if (m instanceof nn.BatchNorm2d) {
      rng.fillNormal(m.weight!.data, 1, 0.2);
      rng.fillNormal(m.bias!.data, 0, 0.2);
      rng.fillNormal(m.runningMean!.data, 0, 0.3);
      rng.fillUniform(m.runningVar!.data, 0.3, 2);
      m.numBatchesTracked!.data[0] = 1234;
    }
  }
}

function generator(config: Partial<DcganConfig>, seed: number): DcganGenerator {
  const g = dcganGenerator(config, { seed });
  roughen(g, seed + 100);
  return g.eval();
}

function discriminator(config: Partial<DcganConfig>, seed: number): DcganDiscriminator {
  const d = dcganDiscriminator(config, { seed });
  roughen(d, seed + 200);
  return d.eval();
}

function forward(net: DcganGenerator | DcganDiscriminator, x: Tensor): Float32Array {
  return tidy(() => noGrad(() => net.forward(x)).toFloat32Array());
}

async function runOrt(bytes: Uint8Array, feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<Map<string, { data: ort.Tensor['data']; dims: readonly number[]; type: string }>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const input: Record<string, ort.Tensor> = {};
    for (const [name, { data, dims }] of Object.entries(feeds)) input[name] = new ort.Tensor('float32', data, dims);
    const results = await session.run(input);
    return new Map(Object.entries(results).map(([name, t]) => [name, { data: t.data, dims: t.dims, type: t.type }]));
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** torchvision's save_image quantisation of an image in [−1, 1] (as src/io/png.ts does it). */
function toByte(v: number): number {
  const b = Math.floor(((v + 1) / 2) * 255 + 0.5);
  return b < 0 ? 0 : b > 255 ? 255 : b;
}

const SMALL_32x1: Partial<DcganConfig> = { imageSize: 32, channels: 1, nz: 16, ngf: 8, ndf: 8 };
const SMALL_64x3: Partial<DcganConfig> = { imageSize: 64, channels: 3, nz: 20, ngf: 8, ndf: 8 };
const CASES = [
  { label: '32×32×1', config: SMALL_32x1 },
  { label: '64×64×3', config: SMALL_64x3 },
] as const;


// ---------------------------------------------------------------------------------------------

describe('protobuf writer', () => {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

  it('varints: small, multi-byte, 2^35, and negatives as 10-byte two’s complement', () => {
    assert.equal(hex(new ProtoWriter().varint(0).finish()), '00');
    assert.equal(hex(new ProtoWriter().varint(1).finish()), '01');
    assert.equal(hex(new ProtoWriter().varint(127).finish()), '7f');
    assert.equal(hex(new ProtoWriter().varint(128).finish()), '8001');
    assert.equal(hex(new ProtoWriter().varint(300).finish()), 'ac02');
    assert.equal(hex(new ProtoWriter().varint(2 ** 35).finish()), '8080808080' + '01');
    assert.equal(hex(new ProtoWriter().varint(-1).finish()), 'ffffffffffffffffff01');
    assert.equal(hex(new ProtoWriter().varint(-2).finish()), 'feffffffffffffffff01');
    assert.throws(() => new ProtoWriter().varint(0.5), /safe integer/);
  });

  it('fields: tags with wire types, strings, floats, nested messages, packed numbers', () => {
    // Field 1 varint 150 is the protobuf documentation's example: 08 96 01.
    assert.equal(hex(new ProtoWriter().int(1, 150).finish()), '089601');
    assert.equal(hex(new ProtoWriter().string(2, 'testing').finish()), '120774657374696e67');
    assert.equal(hex(new ProtoWriter().float(2, 1).finish()), '150000803f');
    assert.equal(hex(new ProtoWriter().message(3, (w) => w.int(1, 150)).finish()), '1a03089601');
    assert.equal(hex(new ProtoWriter().packedInts(4, [3, 270, 86942]).finish()), '2206038e029ea705');
    assert.equal(hex(new ProtoWriter().packedFloats(4, new Float32Array([1, -2])).finish()), '22080000803f000000c0');
    assert.equal(hex(new ProtoWriter().packedFloats(4, [1, -2]).finish()), '22080000803f000000c0');
    // Growth beyond the first buffer keeps every byte.
    const big = new Float32Array(10000).map((_, i) => i);
    const f = readFields(new ProtoWriter().int(1, 7).packedFloats(2, big).string(3, 'end').finish());
    assert.deepEqual(new Float32Array(f[1]!.bytes!.slice().buffer), big);
    assert.equal(text(f[2]!.bytes), 'end');
  });
});

describe('exported graphs, read back', () => {
  it('generator (conv projection): IR 8, opset 17, our parameter names, N symbolic, inference BatchNorm', () => {
    const g = generator(SMALL_32x1, 1);
    const m = readModel(exportOnnx(g, { producer: 'test-producer' }));
    assert.equal(m.irVersion, 8);
    assert.deepEqual(m.opsets, [{ domain: '', version: 17 }]);
    assert.equal(m.producer, 'test-producer');
    assert.equal(m.metadata['dcgan_network'], 'generator');
    assert.deepEqual(JSON.parse(m.metadata['dcgan_config']!), g.config);
    assert.deepEqual(m.inputs, [{ name: 'z', elemType: 1, shape: ['N', 16, 1, 1] }]);
    assert.deepEqual(m.outputs, [{ name: 'images', elemType: 1, shape: ['N', 1, 32, 32] }]);
    assert.deepEqual(m.nodes.map((n) => n.op), [
      'ConvTranspose', 'BatchNormalization', 'Relu',
      'ConvTranspose', 'BatchNormalization', 'Relu',
      'ConvTranspose', 'BatchNormalization', 'Relu',
      'ConvTranspose', 'Tanh',
    ]);
    // Every parameter and running statistic, under its state-dict name, with its values; no counters.
    const state = Object.entries(g.stateDict()).filter(([name]) => !name.endsWith('num_batches_tracked'));
    assert.deepEqual([...m.initializers.keys()].sort(), state.map(([name]) => name).sort());
    for (const [name, t] of state) {
      const init = m.initializers.get(name)!;
      assert.deepEqual(init.dims, t.shape, name);
      assert.deepEqual(init.floats, t.toFloat32Array(), name);
    }
    const up = m.nodes[3]!;
    assert.deepEqual(up.inputs, ['main.2', 'main.3.weight']);
    const ints = (n: (typeof m.nodes)[number], a: string): number[] => packedVarints(one(n.attrs.get(a)!, 8).bytes!).map(Number);
    assert.deepEqual(ints(up, 'strides'), [2, 2]);
    assert.deepEqual(ints(up, 'pads'), [1, 1, 1, 1]);
    assert.deepEqual(ints(up, 'kernel_shape'), [4, 4]);
    assert.deepEqual(ints(m.nodes[0]!, 'pads'), [0, 0, 0, 0]);
    const bn = m.nodes[1]!;
    assert.deepEqual(bn.inputs, ['main.0', 'main.1.weight', 'main.1.bias', 'main.1.running_mean', 'main.1.running_var']);
    assert.equal(bn.attrs.has('training_mode'), false);
    assert.equal(Buffer.from(one(bn.attrs.get('epsilon')!, 2).fixed32!).readFloatLE(), Math.fround(1e-5));
    assert.deepEqual(m.nodes.at(-1)!.outputs, ['images']);
  });

  it('generator (linear projection): Flatten, Gemm (transB), Reshape to the 4×4 volume', () => {
    const m = readModel(exportOnnx(generator({ ...SMALL_32x1, projection: 'linear' }, 2)));
    assert.deepEqual(m.nodes.slice(0, 4).map((n) => n.op), ['Flatten', 'Gemm', 'Reshape', 'BatchNormalization']);
    assert.deepEqual(m.nodes[1]!.inputs, ['z_vector', 'main.0.weight']);
    assert.equal(one(m.nodes[1]!.attrs.get('transB')!, 3).int, 1n);
    assert.deepEqual(m.initializers.get('main.0.weight')!.dims, [8 * 4 * 16, 16]);
    assert.deepEqual(m.initializers.get('main.1.shape')!.ints, [0n, 32n, 4n, 4n]);
  });

  it('discriminator: LeakyRelu(0.2), no sigmoid, Reshape to logits [N]', () => {
    const m = readModel(exportOnnx(discriminator(SMALL_64x3, 3)));
    assert.deepEqual(m.inputs, [{ name: 'images', elemType: 1, shape: ['N', 3, 64, 64] }]);
    assert.deepEqual(m.outputs, [{ name: 'logits', elemType: 1, shape: ['N'] }]);
    const ops = m.nodes.map((n) => n.op);
    assert.deepEqual(ops.slice(0, 5), ['Conv', 'LeakyRelu', 'Conv', 'BatchNormalization', 'LeakyRelu']);
    assert.deepEqual(ops.slice(-2), ['Conv', 'Reshape']);
    assert.equal(ops.includes('Sigmoid'), false);
    assert.equal(Buffer.from(one(m.nodes[1]!.attrs.get('alpha')!, 2).fixed32!).readFloatLE(), Math.fround(0.2));
    assert.deepEqual(m.initializers.get('output.shape')!.ints, [BigInt.asUintN(64, -1n)]);
  });

  it('torch-fidelity variant: z [N, nz] in, uint8 [N, 3, H, W] out', () => {
    const grey = readModel(exportOnnx(generator(SMALL_32x1, 4), { torchFidelity: true }));
    assert.deepEqual(grey.inputs, [{ name: 'z', elemType: 1, shape: ['N', 16] }]);
    assert.deepEqual(grey.outputs, [{ name: 'images', elemType: 2, shape: ['N', 3, 32, 32] }]);
    assert.deepEqual(grey.nodes.slice(-6).map((n) => n.op), ['Mul', 'Add', 'Clip', 'Floor', 'Cast', 'Concat']);
    const rgb = readModel(exportOnnx(generator({ ...SMALL_64x3, projection: 'linear' }, 5), { torchFidelity: true }));
    assert.equal(rgb.nodes[0]!.op, 'Gemm');
    assert.deepEqual(rgb.nodes.slice(-5).map((n) => n.op), ['Mul', 'Add', 'Clip', 'Floor', 'Cast']);
  });
});

describe('onnxruntime-web (wasm, 1 thread) runs the exports as we do', () => {
  for (const { label, config } of CASES) {
    for (const projection of ['conv', 'linear'] as const) {
      it(`generator ${label}, ${projection} projection: within 1e-4 for a batch of z, and for batch 1`, async (t) => {
        const g = generator({ ...config, projection }, 10);
        const bytes = exportOnnx(g);
        const nz = g.config.nz;
        const z = randn([5, nz, 1, 1], { generator: new Generator(20) });
        const ours = forward(g, z);
        // Not a degenerate test: the images use the range of tanh.
        assert.ok(Math.max(...ours.map(Math.abs)) > 0.9, 'the test generator should saturate somewhere');
        const results = await runOrt(bytes, { z: { data: z.toFloat32Array(), dims: [5, nz, 1, 1] } });
        const images = results.get('images')!;
        assert.deepEqual(images.dims, [5, g.config.channels, g.config.imageSize, g.config.imageSize]);
        const diff = maxAbsDiff(images.data as Float32Array, ours);
        assert.ok(diff <= 1e-4, `max |onnxruntime − ours| = ${diff}`);
        t.diagnostic(`max |onnxruntime − ours| = ${diff.toExponential(2)}`);
        const single = await runOrt(bytes, { z: { data: z.toFloat32Array().slice(0, nz), dims: [1, nz, 1, 1] } });
        assert.ok(maxAbsDiff(single.get('images')!.data as Float32Array, ours.slice(0, ours.length / 5)) <= 1e-4);
        z.dispose();
      });
    }

    it(`discriminator ${label}: logits [N] within 1e-4`, async (t) => {
      const d = discriminator(config, 11);
      const bytes = exportOnnx(d);
      const { channels, imageSize } = d.config;
      const x = randn([4, channels, imageSize, imageSize], { generator: new Generator(21) });
      const ours = forward(d, x);
      const results = await runOrt(bytes, { images: { data: x.toFloat32Array(), dims: [4, channels, imageSize, imageSize] } });
      const logits = results.get('logits')!;
      assert.deepEqual(logits.dims, [4]);
      const diff = maxAbsDiff(logits.data as Float32Array, ours);
      assert.ok(diff <= 1e-4, `max |onnxruntime − ours| = ${diff} for logits ${[...ours]}`);
      t.diagnostic(`logits ${[...ours].map((v) => v.toFixed(3)).join(', ')}; max |onnxruntime − ours| = ${diff.toExponential(2)}`);
      x.dispose();
    });

    it(`torch-fidelity generator ${label}: uint8 RGB equal to our save_image quantisation`, async (t) => {
      for (const projection of ['conv', 'linear'] as const) {
        const g = generator({ ...config, projection }, 12);
        const bytes = exportOnnx(g, { torchFidelity: true });
        const { nz, channels, imageSize } = g.config;
        const n = 6;
        const z = randn([n, nz], { generator: new Generator(22) });
        const ours = forward(g, z);
        const results = await runOrt(bytes, { z: { data: z.toFloat32Array(), dims: [n, nz] } });
        const images = results.get('images')!;
        assert.equal(images.type, 'uint8');
        assert.deepEqual(images.dims, [n, 3, imageSize, imageSize]);
        const bytesOut = images.data as Uint8Array;
        const plane = imageSize * imageSize;
        let exact = 0;
        let nearTie = 0;
        for (let i = 0; i < n; i++) {
          for (let c = 0; c < 3; c++) {
            for (let p = 0; p < plane; p++) {
              // Grey images are repeated into the three channels.
              const v = ours[(i * channels + (channels === 1 ? 0 : c)) * plane + p]!;
              const want = toByte(v);
              const got = bytesOut[(i * 3 + c) * plane + p]!;
              if (got === want) {
                exact++;
                continue;
              }
              // Our float and onnxruntime's differ in the last bits (≤ 1e-4); where 127.5·v + 128
              // is that close to an integer, the two sides may round to neighbouring bytes.
              const scaled = 127.5 * v + 128;
              const toBoundary = Math.abs(scaled - Math.round(scaled));
              assert.ok(Math.abs(got - want) === 1 && toBoundary <= 127.5 * 1e-4, `image ${i} channel ${c} pixel ${p}: got ${got}, expected ${want} (v = ${v})`);
              nearTie++;
            }
          }
        }
        assert.ok(exact > 0.99 * n * 3 * plane, `${exact} exact, ${nearTie} off by one at a rounding boundary`);
        t.diagnostic(`${projection}: ${exact} bytes equal, ${nearTie} off by one at a rounding boundary`);
        // The whole byte range is used: 0 and 255 where tanh saturates.
        assert.ok(bytesOut.includes(0) && bytesOut.includes(255), 'expected clipped pixels at 0 and 255');
        z.dispose();
      }
    });
  }
});

describe('onnx.checker.check_model(full_check=True)', () => {
  it('accepts every exported file (Debian python3-onnx; skipped where it is missing)', (t) => {
    const python = '/usr/bin/python3';
    if (!existsSync(python)) return t.skip(`${python} is not installed`);
    const probe = spawnSync(python, ['-c', 'import onnx; print(onnx.__version__)'], { encoding: 'utf8' });
    if (probe.status !== 0) return t.skip('python3 has no onnx module (apt-get install python3-onnx)');
    // The networks of the onnxruntime tests: G (both projections, plain and torch-fidelity) and D.
    const exported: string[] = [];
    const write = (name: string, bytes: Uint8Array): void => {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      exported.push(path);
    };
    for (const { label, config } of CASES) {
      for (const projection of ['conv', 'linear'] as const) {
        const g = generator({ ...config, projection }, 10);
        write(`g-${label}-${projection}.onnx`, exportOnnx(g));
        write(`g-${label}-${projection}-fidelity.onnx`, exportOnnx(g, { torchFidelity: true }));
      }
      write(`d-${label}.onnx`, exportOnnx(discriminator(config, 11)));
    }
    const script = [
      'import sys, onnx',
      'for path in sys.argv[1:]:',
      '    model = onnx.load(path)',
      '    onnx.checker.check_model(model, full_check=True)',
      '    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)',
      '    out = inferred.graph.output[0].type.tensor_type',
      '    print(path, [d.dim_param or d.dim_value for d in out.shape.dim], out.elem_type)',
    ].join('\n');
    const run = spawnSync(python, ['-c', script, ...exported], { encoding: 'utf8' });
    assert.equal(run.status, 0, `onnx ${probe.stdout.trim()} rejected a file: ${run.stderr.trim().split('\n').at(-1)}`);
    assert.equal(run.stdout.trim().split('\n').length, exported.length);
  });
});

describe('export errors (one line each)', () => {
  const oneLine = (pattern: RegExp) => (error: unknown): boolean => {
    assert.ok(error instanceof OnnxExportError, String(error));
    assert.match(error.message, pattern);
    assert.equal(error.message.includes('\n'), false);
    return true;
  };

  it('a layer with no ONNX form, BatchNorm without running statistics, torch-fidelity for D, not a DCGAN', () => {
    class Swish extends nn.Module {
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const g = generator(SMALL_32x1, 30);
    const layers = [...g.main.layers];
    layers[2] = new Swish();
    Object.defineProperty(g, 'main', { value: new nn.Sequential(...layers) });
    assert.throws(() => exportOnnx(g), oneLine(/^ONNX export: cannot export main\.2 \(Swish\): this layer has no ONNX export$/));

    const g2 = generator(SMALL_32x1, 31);
    const layers2 = [...g2.main.layers];
    layers2[1] = new nn.BatchNorm2d(layers2[1] instanceof nn.BatchNorm2d ? layers2[1].numFeatures : 0, { trackRunningStats: false });
    Object.defineProperty(g2, 'main', { value: new nn.Sequential(...layers2) });
    assert.throws(() => exportOnnx(g2), oneLine(/cannot export main\.1 \(BatchNorm2d\): it keeps no running statistics/));

    assert.throws(() => exportOnnx(discriminator(SMALL_32x1, 32), { torchFidelity: true }), oneLine(/generator only/));
    const notDcgan = new nn.Sequential(new nn.ReLU()) as unknown as DcganGenerator;
    assert.throws(() => exportOnnx(notDcgan), oneLine(/expected a DcganGenerator or DcganDiscriminator, got Sequential/));
  });
});

describe('CLI: writeOnnxExport (dcgan export --format onnx)', () => {
  const runDir = join(dir, 'run');
  let g: DcganGenerator;
  let d: DcganDiscriminator;

  before(() => {
    const model = { ...SMALL_32x1, projection: 'conv' as const };
    g = generator(model, 40);
    d = discriminator(model, 41);
    const rng = new Generator(42);
    mkdirSync(runDir, { recursive: true });
    saveCheckpoint(join(runDir, 'checkpoint.safetensors'), {
      config: { ...g.config, data: 'shapes', batchSize: 4 },
      netG: g,
      netD: d,
      optG: new optim.Adam(g.parameters()),
      optD: new optim.Adam(d.parameters()),
      step: 0,
      epoch: 0,
      elapsedSeconds: 0,
      loader: { epoch: 0, batchIndex: 0, seed: 0 },
      rng: rng.getState(),
      fixedNoise: randn([2, 16, 1, 1], { generator: rng }),
    });
  });

  it('writes the generator from a run folder, the discriminator and the torch-fidelity variant from the file', async () => {
    const lines: string[] = [];
    const out = join(dir, 'generator.onnx');
    const summary = exportOnnxCommandAction({ checkpoint: runDir, out }, (line) => lines.push(line));
    assert.equal(summary.network, 'generator');
    assert.equal(summary.input, 'z float32 [N, 16, 1, 1]');
    assert.match(lines[0]!, /^wrote .*generator\.onnx \([\d.]+ KiB\): the generator, z float32 \[N, 16, 1, 1\] → images float32 \[N, 1, 32, 32\], ONNX IR 8, opset 17$/);
    const file = new Uint8Array(readFileSync(out));
    assert.deepEqual(file, exportOnnx(g));

    const z = randn([3, 16, 1, 1], { generator: new Generator(43) });
    const results = await runOrt(file, { z: { data: z.toFloat32Array(), dims: [3, 16, 1, 1] } });
    assert.ok(maxAbsDiff(results.get('images')!.data as Float32Array, forward(g, z)) <= 1e-4);

    const dOut = join(dir, 'discriminator.onnx');
    const dSummary = writeOnnxExport(join(runDir, 'checkpoint.safetensors'), dOut, { discriminator: true });
    assert.equal(dSummary.output, 'logits float32 [N]');
    assert.deepEqual(new Uint8Array(readFileSync(dOut)), exportOnnx(d));

    const json: string[] = [];
    const fOut = join(dir, 'fid.onnx');
    exportOnnxCommandAction({ checkpoint: runDir, out: fOut, torchFidelity: true, json: true }, (line) => json.push(line));
    const parsed = JSON.parse(json[0]!) as { variant: string; output: string };
    assert.equal(parsed.variant, 'torch-fidelity');
    assert.equal(parsed.output, 'images uint8 [N, 3, 32, 32]');
    assert.deepEqual(new Uint8Array(readFileSync(fOut)), exportOnnx(g, { torchFidelity: true }));
  });

  it('as a commander action: --discriminator and --torch-fidelity reach writeOnnxExport', async () => {
    const lines: string[] = [];
    const command = onnxExportOptions(new Command('export'))
      .requiredOption('--checkpoint <file|dir>', 'checkpoint')
      .requiredOption('--out <file>', 'output')
      .option('--json', 'JSON')
      .action((flags: OnnxExportFlags) => {
        exportOnnxCommandAction(flags, (line) => lines.push(line));
      });
    const out = join(dir, 'via-commander.onnx');
    await command.parseAsync(['--checkpoint', runDir, '--out', out, '--torch-fidelity', '--json'], { from: 'user' });
    assert.equal((JSON.parse(lines[0]!) as { variant: string }).variant, 'torch-fidelity');
    assert.deepEqual(new Uint8Array(readFileSync(out)), exportOnnx(g, { torchFidelity: true }));
    await command.parseAsync(['--checkpoint', runDir, '--out', out, '--discriminator'], { from: 'user' });
    assert.match(lines[1]!, /the discriminator, images float32 \[N, 1, 32, 32\] → logits float32 \[N\]/);
  });

  it('user errors are one-line UsageErrors', () => {
    const usage = (pattern: RegExp) => (error: unknown): boolean => {
      assert.ok(error instanceof UsageError, String(error));
      assert.match(error.message, pattern);
      assert.equal(error.message.includes('\n'), false);
      return true;
    };
    const out = join(dir, 'x.onnx');
    assert.throws(() => writeOnnxExport(runDir, out, { discriminator: true, torchFidelity: true }), usage(/cannot be combined with --discriminator/));
    assert.throws(() => writeOnnxExport(runDir, join(dir, 'x.png')), usage(/--out must be a \.onnx file/));
    assert.throws(() => writeOnnxExport(runDir, dir), usage(/is a folder/));
    assert.throws(() => writeOnnxExport(runDir, join(dir, 'missing', 'x.onnx')), usage(/does not exist/));
    assert.throws(() => writeOnnxExport(join(dir, 'nowhere'), out), usage(/nowhere/));
    assert.throws(() => writeOnnxExport(dir, out), usage(/no checkpoint in/));
    assert.equal(existsSync(out), false);
  });
});
