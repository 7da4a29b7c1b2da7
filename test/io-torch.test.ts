/**
 * PyTorch .pth import and export (src/io/torch, src/models/infer.ts): PyTorch's eval-mode
 * outputs reproduced from its files, every fixture variant (DataParallel, non-contiguous,
 * float16/bfloat16/float64, legacy, deflated), bitwise round trips, hostile files and a
 * time-boxed fuzz loop. The fixtures come from test/golden/make_torch_checkpoints.py; only the
 * python round trip and the DDP test need PyTorch at test time, and they skip without it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { binaryCrossEntropyWithLogits, Generator, noGrad, optim, randn, tensor, tidy, type Tensor } from '../src/index.js';
import { loadTorchStateDict, loadWeights, saveTorchStateDict, TorchFormatError, WeightsError, type TorchTensor } from '../src/io/index.js';
import { saveCheckpoint, type CheckpointState } from '../src/train/index.js';
import { main } from '../src/cli/main.js';
import { PickleWriter, readZip, unpickle, writeZip, type ZipEntry } from '../src/io/torch/index.js';
import type { TensorToWrite } from '../src/io/safetensors.js';
import {
  DcganDiscriminator,
  DcganGenerator,
  DcganInferenceError,
  discriminatorShapes,
  generatorShapes,
  inferDcganConfig,
  type DcganConfig,
} from '../src/models/index.js';
import { OURS_CONFIG, oursStateDict } from './golden/make_ours_pth.js';

const FIXTURES = fileURLToPath(new URL('golden/fixtures/torch/', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, name)));
const load = (name: string): Map<string, TorchTensor> => loadTorchStateDict(fixture(name), name);
const dir = mkdtempSync(join(tmpdir(), 'dcgan-torch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Encoded {
  shape: number[];
  f32le: string;
}
interface PairOutputs {
  config: DcganConfig;
  z: Encoded;
  images: Encoded;
  d_logits: Encoded;
}
const outputs = JSON.parse(readFileSync(join(FIXTURES, 'outputs.json'), 'utf8')) as Record<'32' | '64', PairOutputs>;

function decode(e: Encoded): Float32Array {
  const b = Buffer.from(e.f32le, 'base64');
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

function toStateDict(m: Map<string, TorchTensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of m) out[k] = tensor(v.data, v.shape);
  return out;
}

function assertBitwise(a: Map<string, { shape: readonly number[]; data: Float32Array }>, b: Map<string, { shape: readonly number[]; data: Float32Array }>, label: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()], `${label}: names`);
  for (const [k, x] of a) {
    const y = b.get(k)!;
    assert.deepEqual([...y.shape], [...x.shape], `${label}: shape of ${k}`);
    assert.deepEqual(new Uint8Array(y.data.buffer, y.data.byteOffset, y.data.byteLength), new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength), `${label}: values of ${k}`);
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Expects a TorchFormatError whose one-line message matches `pattern`. */
function rejects(bytes: Uint8Array, pattern: RegExp, source = 'hostile.pth'): void {
  assert.throws(
    () => loadTorchStateDict(bytes, source),
    (error: unknown) => {
      assert.ok(error instanceof TorchFormatError, `expected TorchFormatError, got ${String(error)}`);
      assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
      assert.ok(error.message.startsWith(`${source}: `), `names the file: ${error.message}`);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

/** A zip as torch.save writes it, around a given pickle and storages. */
function archive(pickle: Uint8Array, storages: Uint8Array[] = [], extra: ZipEntry[] = []): Uint8Array {
  return writeZip([
    { name: 'archive/data.pkl', data: pickle },
    ...storages.map((data, i) => ({ name: `archive/data/${i}`, data })),
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
    ...extra,
  ]);
}

/** A one-tensor state-dict pickle with free size/stride/offset/storage numel. */
function tensorPickle(o: { size: number[]; stride: number[]; offset?: number; numel: number; storage?: string }): Uint8Array {
  const w = new PickleWriter();
  w.global('collections', 'OrderedDict').op(0x29).op(0x52).put();
  w.mark().string('w').global('torch._utils', '_rebuild_tensor_v2');
  w.mark().mark().string('storage').global('torch', o.storage ?? 'FloatStorage').string('0').string('cpu').int(o.numel).op(0x74).put().op(0x51);
  w.int(o.offset ?? 0).intTuple(o.size).intTuple(o.stride).op(0x89);
  w.global('collections', 'OrderedDict').op(0x29).op(0x52).put();
  w.op(0x74).put().op(0x52).put().op(0x75);
  return w.bytes();
}

const f32 = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('loadTorchStateDict: PyTorch files', () => {
  for (const key of ['32', '64'] as const) {
    it(`reproduces PyTorch's eval-mode images and logits (${key}×${key})`, () => {
      const g = load(`g${key}.pth`);
      const d = load(`d${key}.pth`);
      const config = inferDcganConfig(g, d, { generatorSource: `g${key}.pth`, discriminatorSource: `d${key}.pth` });
      assert.deepEqual(config, outputs[key].config);
      assert.equal(g.get('main.1.num_batches_tracked')!.dtype, 'I64');
      assert.equal(g.get('main.1.num_batches_tracked')!.data[0], 3);
      const netG = new DcganGenerator(config);
      netG.loadStateDict(toStateDict(g));
      netG.eval();
      const netD = new DcganDiscriminator(config);
      netD.loadStateDict(toStateDict(d));
      netD.eval();
      const z = outputs[key].z;
      const images = noGrad(() => netG.forward(tensor(decode(z), z.shape)));
      assert.deepEqual([...images.shape], outputs[key].images.shape);
      const dg = maxAbsDiff(images.data, decode(outputs[key].images));
      assert.ok(dg <= 1e-5, `generator differs from PyTorch by ${dg}`);
      const logits = noGrad(() => netD.forward(tensor(decode(outputs[key].images), outputs[key].images.shape)));
      const dd = maxAbsDiff(logits.data, decode(outputs[key].d_logits));
      assert.ok(dd <= 1e-5, `discriminator differs from PyTorch by ${dd}`);
    });
  }

  it('reads the DataParallel, non-contiguous, legacy and deflated variants bitwise as the plain file', () => {
    const plain = load('g32.pth');
    for (const name of ['g32_dataparallel.pth', 'g32_noncontiguous.pth', 'g32_legacy.pth', 'g32_deflated.pth', 'g32_float64.pth']) {
      assertBitwise(plain, load(name), name);
    }
    assert.equal(load('g32_float64.pth').get('main.0.weight')!.dtype, 'F64');
  });

  it('converts float16 and bfloat16 to float32 (within their precision)', () => {
    const plain = load('g32.pth');
    for (const [name, dtype, eps] of [['g32_float16.pth', 'F16', 2 ** -11], ['g32_bfloat16.pth', 'BF16', 2 ** -8]] as const) {
      const m = load(name);
      for (const [k, t] of plain) {
        const h = m.get(k)!;
        assert.equal(h.dtype, k.endsWith('num_batches_tracked') ? 'I64' : dtype);
        for (let i = 0; i < t.data.length; i++) {
          const a = t.data[i]!;
          assert.ok(Math.abs(h.data[i]! - a) <= eps * Math.abs(a) + 1e-7, `${name} ${k}[${i}]: ${h.data[i]} vs ${a}`);
        }
      }
    }
  });

  it('reads the newer records (byteorder, .format_version, .storage_alignment, .data/serialization_id) and refuses big-endian', () => {
    const entries = readZip(fixture('g32.pth'), 'g32.pth');
    const extra = (order: string): ZipEntry[] => [
      { name: 'g32/.format_version', data: ascii('1') },
      { name: 'g32/.storage_alignment', data: ascii('64') },
      { name: 'g32/byteorder', data: ascii(order) },
      { name: 'g32/.data/serialization_id', data: ascii('1234') },
    ];
    assertBitwise(load('g32.pth'), loadTorchStateDict(writeZip([...extra('little'), ...entries.reverse()])), 'reordered with records');
    rejects(writeZip([...extra('big'), ...entries]), /byteorder.*big/);
  });
});

describe('saveTorchStateDict', () => {
  it('round trips bitwise: ours → .pth → ours, and PyTorch files → ours → .pth → ours', () => {
    const ours = oursStateDict();
    const back = loadTorchStateDict(saveTorchStateDict(ours), 'ours');
    assertBitwise(new Map(ours.map(([k, t]) => [k, { shape: t.shape, data: t.data }])), back, 'ours');
    assert.equal(back.get('main.1.num_batches_tracked')!.dtype, 'I64');
    for (const name of ['g32.pth', 'd64.pth', 'g32_noncontiguous.pth']) {
      const m = load(name);
      const written = saveTorchStateDict([...m].map(([k, t]): [string, TensorToWrite] => [k, { shape: t.shape, data: t.data, dtype: t.dtype === 'I64' ? 'I64' : 'F32' }]));
      assertBitwise(m, loadTorchStateDict(written), name);
    }
  });

  it('writes 64-byte aligned stored entries, deterministically (the committed ours_g32.pth)', () => {
    const bytes = saveTorchStateDict(oursStateDict());
    assert.deepEqual(bytes, fixture('ours_g32.pth'));
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    let p = 0;
    let count = 0;
    while (view.getUint32(p, true) === 0x04034b50) {
      assert.equal(view.getUint16(p + 8, true), 0, 'stored');
      const start = p + 30 + view.getUint16(p + 26, true) + view.getUint16(p + 28, true);
      assert.equal(start % 64, 0, 'aligned');
      p = start + view.getUint32(p + 18, true);
      count++;
    }
    assert.equal(count, readZip(bytes, 'ours').length);
  });

  it('reads back what PyTorch re-saved from our file bitwise (ours → torch.load → load_state_dict → torch.save → ours)', () => {
    const ours = new Map(oursStateDict().map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
    assertBitwise(ours, load('ours_g32_resaved.pth'), 'ours_g32_resaved.pth');
    assert.deepEqual(inferDcganConfig(load('ours_g32_resaved.pth')), { ...OURS_CONFIG, ndf: OURS_CONFIG.ngf });
  });
});

describe('inferDcganConfig', () => {
  const configs: DcganConfig[] = [
    { imageSize: 16, channels: 3, nz: 5, ngf: 3, ndf: 2, projection: 'conv' },
    { imageSize: 32, channels: 1, nz: 7, ngf: 2, ndf: 3, projection: 'linear' },
    { imageSize: 128, channels: 3, nz: 4, ngf: 1, ndf: 1, projection: 'conv' },
  ];
  for (const config of configs) {
    it(`finds ${JSON.stringify(config)} from the shapes our models have`, () => {
      const g = new DcganGenerator(config).stateDict();
      const d = new DcganDiscriminator(config).stateDict();
      assert.deepEqual(generatorShapes(config), Object.entries(g).map(([k, t]) => [k, [...t.shape]]));
      assert.deepEqual(discriminatorShapes(config), Object.entries(d).map(([k, t]) => [k, [...t.shape]]));
      assert.deepEqual(inferDcganConfig(g, d), config);
      assert.equal(inferDcganConfig(undefined, d).ndf, config.ndf);
    });
  }

  it('says what it found in a state dict that is not a DCGAN', () => {
    const other = new Map([
      ['conv1.weight', { shape: [64, 3, 7, 7] }],
      ['bn1.weight', { shape: [64] }],
    ]);
    assert.throws(() => inferDcganConfig(other, undefined, { generatorSource: 'resnet.pth' }), (e: unknown) => e instanceof DcganInferenceError && /^resnet\.pth: not a DCGAN generator.*conv1\.weight \[64, 3, 7, 7\]/.test(e.message));
    const g = load('g32.pth');
    g.delete('main.4.running_var');
    assert.throws(() => inferDcganConfig(g), /main\.4\.running_var is missing/);
    assert.throws(() => inferDcganConfig(load('g32.pth'), load('d64.pth')), /do not belong together/);
  });
});

describe('the pickle reader', () => {
  it('reads LONG_BINPUT / LONG_BINGET beyond 256 memo entries, and the integer and float opcodes', () => {
    const w = new PickleWriter();
    w.op(0x5d).put().mark();
    for (let i = 0; i < 300; i++) w.string(`s${i}`);
    w.string('s299').string('s3'); // memo hits: LONG_BINGET, then BINGET
    for (const v of [-1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31, 2 ** 40, -(2 ** 52)]) w.int(v);
    w.op(0x65);
    const bytes = w.bytes();
    assert.ok(bytes.includes(0x72) && bytes.includes(0x6a));
    const refuse = (): never => assert.fail('no globals here');
    const { value, end } = unpickle(bytes, 0, { source: 'memo.pkl', global: refuse, reduce: refuse });
    assert.equal(end, bytes.length);
    assert.ok(Array.isArray(value));
    assert.deepEqual(value.slice(298), ['s298', 's299', 's299', 's3', -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31, 2 ** 40, -(2 ** 52)]);
    const float = unpickle(Uint8Array.from([0x80, 2, 0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x2e]), 0, { source: 'f', global: refuse, reduce: refuse });
    assert.equal(float.value, 1.5);
  });
});

describe('hostile .pth files', () => {
  const good = fixture('g32.pth');

  it('refuses truncated files and garbage', () => {
    for (const n of [0, 3, 21, 100, good.length - 23, good.length - 1]) rejects(good.subarray(0, n), /./);
    rejects(ascii('hello world, this is not a checkpoint at all'), /neither a zip archive nor a legacy/);
    rejects(fixture('g32_legacy.pth').subarray(0, 5000), /truncated|ends/);
  });

  it('refuses a zip entry whose size lies, overlapping entries and zip64', () => {
    const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const cd = (b: Uint8Array): number[] => {
      const out: number[] = [];
      for (let i = 0; i + 4 <= b.length; i++) if (view(b).getUint32(i, true) === 0x02014b50) out.push(i);
      return out;
    };
    const offsets = cd(good);
    const lie = (field: number, value: number, entry = 1): Uint8Array => {
      const b = good.slice();
      view(b).setUint32(offsets[entry]! + field, value, true);
      return b;
    };
    rejects(lie(20, 1_000_000), /size lies|past the end/); // compressed size
    rejects(lie(24, 123), /sizes differ/); // uncompressed size
    rejects(lie(20, 4), /sizes differ|overlap/);
    rejects(lie(42, 0), /local header|overlap|disagrees/); // local offset points at the first entry
    rejects(lie(16, 0x12345678), /CRC-32/);
    rejects(lie(20, 0xffffffff), /zip64/);
    // Deflated entries (g32_deflated.pth, written by Python's zipfile): sizes that lie, a bomb.
    const deflated = fixture('g32_deflated.pth');
    const dOffsets = cd(deflated);
    const dLie = (field: number, value: (old: number) => number): Uint8Array => {
      const b = deflated.slice();
      const at = dOffsets[1]! + field;
      view(b).setUint32(at, value(view(b).getUint32(at, true)), true);
      return b;
    };
    assert.equal(view(deflated).getUint16(dOffsets[1]! + 10, true), 8, 'entry 1 is deflated');
    rejects(dLie(24, () => 100), /does not inflate to its declared 100 bytes/);
    rejects(dLie(24, (n) => n + 1), /inflates to \d+ bytes, not its declared/);
    rejects(dLie(24, () => 0x7fff0000), /impossible or too large/);
    rejects(dLie(20, (n) => n - 10), /does not inflate|inflates to|CRC/);
    const eocd = good.length - 22;
    const b = good.slice();
    view(b).setUint16(eocd + 10, 0xffff, true);
    rejects(b, /zip64/);
  });

  it('refuses globals other than the state-dict ones, naming them', () => {
    const osSystem = ascii('\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02R.');
    rejects(archive(osSystem), /refusing the pickle global os\.system/);
    rejects(archive(ascii('\x80\x02cbuiltins\neval\nX\x01\x00\x00\x001\x85R.')), /builtins\.eval/);
    rejects(archive(ascii('\x80\x02cposix\nsystem\n.')), /posix\.system/);
    rejects(archive(ascii('\x80\x04\x8c\x02os\x8c\x06system\x93.')), /os\.system/); // STACK_GLOBAL
    rejects(archive(ascii('\x80\x02c__builtin__\n__import__\n.')), /__builtin__\.__import__/);
    rejects(archive(ascii('\x80\x02ctorch\nload\n.')), /torch\.load/);
  });

  it('refuses REDUCE on anything but the allowed callables, and other object-building opcodes', () => {
    rejects(archive(ascii('\x80\x02ctorch\nFloatStorage\n)R.')), /refusing to call torch\.FloatStorage/);
    rejects(archive(ascii('\x80\x02X\x02\x00\x00\x00os)R.')), /REDUCE .* calls a 'os'/);
    rejects(archive(ascii('\x80\x02ctorch._utils\n_rebuild_tensor_v2\n)R.')), /called with 0 arguments/);
    rejects(archive(ascii('\x80\x02(ios\nsystem\n.')), /INST/);
    rejects(archive(ascii('\x80\x02ccollections\nOrderedDict\n)\x81.')), /NEWOBJ/);
    rejects(archive(ascii('\x80\x02ccollections\nOrderedDict\n)RX\x01\x00\x00\x00ab.')), /BUILD/);
  });

  it('refuses memo references out of range and stack tricks', () => {
    rejects(archive(ascii('\x80\x02h\x05.')), /memo index 5 .* out of range/);
    rejects(archive(ascii('\x80\x02j\xff\xff\xff\xff.')), /memo index 4294967295/);
    rejects(archive(ascii('\x80\x02R.')), /stack underflow/);
    rejects(archive(ascii('\x80\x02t.')), /no MARK/);
    rejects(archive(ascii('\x80\x02X\xff\xff\xff\x7f')), /truncated/);
    rejects(archive(ascii('\x80\x02N')), /without a STOP/);
    rejects(archive(ascii('\x80\x02NN.')), /2 values on the stack/);
  });

  it('refuses storages shorter than size × stride implies, absurd shapes and lying storage sizes', () => {
    const data = [f32([1, 2, 3, 4, 5, 6])];
    assert.deepEqual([...loadTorchStateDict(archive(tensorPickle({ size: [2, 3], stride: [3, 1], numel: 6 }), data)).get('w')!.data], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...loadTorchStateDict(archive(tensorPickle({ size: [3, 2], stride: [1, 3], numel: 6 }), data)).get('w')!.data], [1, 4, 2, 5, 3, 6]);
    assert.deepEqual([...loadTorchStateDict(archive(tensorPickle({ size: [2], stride: [2], offset: 1, numel: 6 }), data)).get('w')!.data], [2, 4]);
    rejects(archive(tensorPickle({ size: [100], stride: [1], numel: 6 }), data), /reaches element 99 of storage '0', which holds 6/);
    rejects(archive(tensorPickle({ size: [2, 3], stride: [4, 1], numel: 6 }), data), /reaches element 6 of storage/);
    rejects(archive(tensorPickle({ size: [6], stride: [1], offset: 1, numel: 6 }), data), /reaches element 6/);
    rejects(archive(tensorPickle({ size: [2 ** 40, 2 ** 40], stride: [0, 0], numel: 6 }), data), /absurd shape/);
    rejects(archive(tensorPickle({ size: [2 ** 20, 2 ** 20], stride: [0, 0], numel: 6 }), data), /absurd shape|more values/);
    rejects(archive(tensorPickle({ size: [6], stride: [1], numel: 2 ** 50 }), data), /storage '0' has 24 bytes but/);
    rejects(archive(tensorPickle({ size: [6], stride: [1], numel: 6, storage: 'DoubleStorage' }), data), /needs? 48|has 24 bytes/);
    rejects(archive(tensorPickle({ size: [6], stride: [1], numel: 6 }), []), /no data\/0 record/);
    rejects(archive(tensorPickle({ size: [2, 3], stride: [3], numel: 6 }), data), /size \(2, 3\) but stride \(3\)/);
    const negative = ascii('\x80\x02ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQJ\xff\xff\xff\xffK\x06\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRu.');
    rejects(archive(negative, data), /storage offset is -1/);
  });

  it('says what it found when the pickle is not a state dict of tensors', () => {
    rejects(archive(ascii('\x80\x02]q\x00.')), /not a state dict/);
    rejects(archive(ascii('\x80\x02}(X\x05\x00\x00\x00epochK\x03u.')), /'epoch' is a 3, not a tensor/);
  });
});

/** xorshift32, seeded: the fuzz loop is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

describe('fuzzing the .pth reader', () => {
  // DCGAN_FUZZ_SECONDS=60 for a longer run.
  const seconds = Number(process.env['DCGAN_FUZZ_SECONDS'] ?? 4);
  it(`ends every mutated file in a result or a TorchFormatError, quickly (time-boxed, ${seconds} s)`, { timeout: (seconds + 60) * 1000 }, () => {
    const random = rng(20261130);
    const int = (n: number): number => Math.floor(random() * n);
    const seeds = ['g32.pth', 'd32.pth', 'g32_legacy.pth', 'g32_deflated.pth', 'g32_noncontiguous.pth'].map(fixture);
    const g32Entries = readZip(fixture('g32.pth'), 'g32');
    const pickle = g32Entries.find((e) => e.name.endsWith('data.pkl'))!;
    const special = [0, 1, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];
    const mutate = (): Uint8Array => {
      const kind = int(6);
      const base = seeds[int(seeds.length)]!;
      if (kind === 0) return base.subarray(0, int(base.length));
      if (kind === 1 || kind === 2) {
        const b = base.slice();
        const flips = 1 + int(8);
        for (let i = 0; i < flips; i++) b[int(b.length)]! ^= 1 << int(8);
        if (kind === 2) {
          // A length or offset field set to an edge value (headers sit near PK signatures).
          const at = int(b.length - 4);
          new DataView(b.buffer).setUint32(at, special[int(special.length)]!, true);
        }
        return b;
      }
      if (kind === 3) {
        // Entries reordered, a record dropped or duplicated now and then: a valid zip, maybe not a valid .pth.
        const entries = [...g32Entries].sort(() => random() - 0.5);
        const r = random();
        if (r < 0.25) entries.splice(int(entries.length), 1);
        else if (r < 0.5) entries.splice(int(entries.length), 0, entries[int(entries.length)]!);
        return writeZip(entries);
      }
      // The pickle mutated inside a zip with correct CRCs, so the unpickler sees it.
      const p = pickle.data.slice();
      const edits = 1 + int(4);
      for (let i = 0; i < edits; i++) {
        const at = int(p.length);
        if (random() < 0.5) p[at] = int(256);
        else if (at + 4 <= p.length) new DataView(p.buffer).setUint32(at, special[int(special.length)]!, true);
      }
      const cut = kind === 5 ? p.subarray(0, int(p.length)) : p;
      return writeZip(g32Entries.map((e) => (e === pickle ? { name: e.name, data: cut } : e)));
    };
    const deadline = Date.now() + seconds * 1000;
    let cases = 0;
    let ok = 0;
    let slowest = 0;
    const rss = process.memoryUsage().rss;
    let peak = rss;
    while (Date.now() < deadline) {
      const bytes = mutate();
      const t0 = Date.now();
      try {
        loadTorchStateDict(bytes, 'fuzz.pth');
        ok++;
      } catch (error) {
        if (!(error instanceof TorchFormatError)) assert.fail(`case ${cases}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
        assert.ok(!error.message.includes('\n') && error.message.startsWith('fuzz.pth: '), error.message);
      }
      slowest = Math.max(slowest, Date.now() - t0);
      if (cases % 64 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      cases++;
    }
    assert.ok(cases > 100, `only ${cases} cases ran`);
    assert.ok(slowest < 1000, `slowest case took ${slowest} ms`);
    assert.ok(peak - rss < 512 * 2 ** 20, `memory grew by ${((peak - rss) / 2 ** 20).toFixed(0)} MiB`);
    console.log(`# fuzz: ${cases} cases, ${ok} loaded, ${cases - ok} TorchFormatError, slowest ${slowest} ms, rss +${((peak - rss) / 2 ** 20).toFixed(0)} MiB`);
  });
});

/** Debian's python3 (DCGAN_TEST_PYTHON overrides it, e.g. to see the skips). */
const PYTHON = process.env['DCGAN_TEST_PYTHON'] ?? '/usr/bin/python3';

/** The python with torch, or why there is none. */
function findTorch(): { env: NodeJS.ProcessEnv } | { skip: string } {
  const python = PYTHON;
  if (!existsSync(python)) return { skip: `${python} is not installed` };
  const env = { ...process.env };
  const openblas = '/usr/lib/x86_64-linux-gnu/openblas-openmp';
  if (existsSync(openblas)) env['LD_LIBRARY_PATH'] = [openblas, env['LD_LIBRARY_PATH']].filter(Boolean).join(':');
  const r = spawnSync(python, ['-c', 'import torch'], { env, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || '').trim().split('\n').pop();
    return { skip: `PyTorch is not importable by ${python}${why ? ` (${why})` : ''}; install python3-torch to run it` };
  }
  return { env };
}
const torchPython = findTorch();

describe('with PyTorch installed', () => {
  const skip = 'skip' in torchPython ? torchPython.skip : false;

  it('python round trip: ours → torch.load(weights_only=True) → load_state_dict → torch.save → ours, bitwise (32×32×1, 64×64×3 G and D)', { skip }, () => {
    if ('skip' in torchPython) return;
    const ours = oursStateDict();
    const src = join(dir, 'ours.pth');
    const dst = join(dir, 'resaved.pth');
    writeFileSync(src, saveTorchStateDict(ours));
    // pytorch/examples' 64×64×3 layers (narrower, to stay quick), G and D.
    const config64: DcganConfig = { imageSize: 64, channels: 3, nz: 100, ngf: 8, ndf: 8, projection: 'conv' };
    const entriesOf = (net: DcganGenerator | DcganDiscriminator): Array<[string, TensorToWrite]> =>
      Object.entries(net.stateDict()).map(([k, t]) => [k, { shape: t.shape, data: t.data, dtype: k.endsWith('num_batches_tracked') ? 'I64' : 'F32' }]);
    const g64 = entriesOf(new DcganGenerator(config64, { seed: 3 }));
    const d64 = entriesOf(new DcganDiscriminator(config64, { seed: 4 }));
    writeFileSync(join(dir, 'g64.pth'), saveTorchStateDict(g64));
    writeFileSync(join(dir, 'd64.pth'), saveTorchStateDict(d64));
    const script = [
      'import sys, torch',
      `sys.path.insert(0, ${JSON.stringify(join(ROOT, 'examples/pytorch'))})`,
      'from dcgan_models import Discriminator, Generator',
      'def trip(net, src, dst):',
      '    net.load_state_dict(torch.load(src, weights_only=True), strict=True)',
      '    torch.save(net.state_dict(), dst)',
      'd = sys.argv[1]',
      "trip(Generator(8, 4, 1, 32), d + '/ours.pth', d + '/resaved.pth')",
      "trip(Generator(100, 8, 3, 64), d + '/g64.pth', d + '/g64-resaved.pth')",
      "trip(Discriminator(8, 3, 64), d + '/d64.pth', d + '/d64-resaved.pth')",
    ].join('\n');
    const r = spawnSync(PYTHON, ['-c', script, dir], { env: torchPython.env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const asMap = (list: Array<[string, TensorToWrite]>) => new Map(list.map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
    assertBitwise(asMap(ours), loadTorchStateDict(readFileSync(dst), dst), 'python round trip');
    assertBitwise(asMap(g64), loadTorchStateDict(readFileSync(join(dir, 'g64-resaved.pth'))), 'python round trip, G 64×64×3');
    assertBitwise(asMap(d64), loadTorchStateDict(readFileSync(join(dir, 'd64-resaved.pth'))), 'python round trip, D 64×64×3');
  });
});

/** Runs the CLI in this process; returns its exit status and what it printed. */
async function dcgan(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await main(['node', 'dcgan', ...args]);
    return { status: Number(process.exitCode ?? 0), stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
    process.exitCode = before;
  }
}

const TINY: DcganConfig = { imageSize: 16, channels: 1, nz: 8, ngf: 4, ndf: 4, projection: 'conv' };

/** A run folder with a checkpoint of a tiny G/D pair after one training step (as `dcgan train` writes it). */
function tinyRun(path: string, seed: number): string {
  mkdirSync(path, { recursive: true });
  const rng = new Generator(seed);
  const netG = new DcganGenerator(TINY, { generator: rng });
  const netD = new DcganDiscriminator(TINY, { generator: rng });
  const optG = new optim.Adam(netG.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
  const optD = new optim.Adam(netD.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
  tidy(() => {
    optD.zeroGrad();
    const fake = netG.forward(randn([4, 8, 1, 1], { generator: rng }));
    binaryCrossEntropyWithLogits(netD.forward(fake.detach()), 0).backward();
    optD.step();
    optG.zeroGrad();
    binaryCrossEntropyWithLogits(netD.forward(fake), 1).backward();
    optG.step();
  });
  const state: CheckpointState = {
    config: { ...TINY, data: 'shapes', batchSize: 4, lr: 2e-4 },
    netG,
    netD,
    optG,
    optD,
    step: 1,
    epoch: 0,
    elapsedSeconds: 0.5,
    loader: { epoch: 0, batchIndex: 1, seed },
    rng: rng.getState(),
    fixedNoise: randn([4, 8, 1, 1], { generator: rng }),
  };
  saveCheckpoint(join(path, 'checkpoint.safetensors'), state);
  return path;
}

describe('dcgan import / export', () => {
  it('exports a checkpoint to .pth + JSON and imports it back unchanged', async () => {
    const run = tinyRun(join(dir, 'run'), 1);
    const g = join(dir, 'netG.pth');
    const d = join(dir, 'netD.pth');
    const r = await dcgan('export', '--checkpoint', run, '--format', 'pytorch', '--out', g, '--netD', d);
    assert.equal(r.status, 0, r.stderr);
    const side = JSON.parse(readFileSync(`${g}.json`, 'utf8')) as { pytorch: Record<string, number>; step: number };
    assert.deepEqual(side.pytorch, { nz: 8, ngf: 4, ndf: 4, nc: 1, image_size: 16 });
    assert.equal(side.step, 1);
    const w = join(dir, 'imported.safetensors');
    const r2 = await dcgan('import', g, '--netD', d, '--out', w);
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /16×16×1, nz 8, ngf 4, ndf 4/);
    const weights = loadWeights(w);
    assert.deepEqual(weights.config, { imageSize: 16, channels: 1, nz: 8, ngf: 4, ndf: 4, projection: 'conv' });
    assertBitwise(loadTorchStateDict(readFileSync(g)), weights.netG, 'netG');
    assertBitwise(loadTorchStateDict(readFileSync(d)), weights.netD!, 'netD');
    assert.throws(() => loadWeights(join(run, 'checkpoint.safetensors')), (e: unknown) => e instanceof WeightsError && /format' is "dcgan-ts-checkpoint", expected 'dcgan-ts-weights'/.test(e.message));
    // The weights file exports again to the same bytes.
    const g2 = join(dir, 'again.pth');
    assert.equal((await dcgan('export', '--checkpoint', w, '--out', g2)).status, 0);
    assert.deepEqual(readFileSync(g2), readFileSync(g));
  });

  it('imports PyTorch files (DataParallel too) and explains what it cannot', async () => {
    const w = join(dir, 'g32.safetensors');
    assert.equal((await dcgan('import', join(FIXTURES, 'g32_dataparallel.pth'), '--netD', join(FIXTURES, 'd32.pth'), '--out', w)).status, 0);
    assertBitwise(load('g32.pth'), loadWeights(w).netG, 'g32');
    const mismatch = await dcgan('import', join(FIXTURES, 'g32.pth'), '--netD', join(FIXTURES, 'd64.pth'), '--out', w);
    assert.equal(mismatch.status, 2);
    assert.match(mismatch.stderr, /^dcgan: .*do not belong together/);
    const notPth = await dcgan('import', join(FIXTURES, 'outputs.json'), '--out', w);
    assert.equal(notPth.status, 2);
    assert.match(notPth.stderr, /^dcgan: .*outputs\.json: neither a zip archive nor a legacy/);
    const hostile = join(dir, 'evil.pth');
    writeFileSync(hostile, archive(ascii('\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.')));
    const evil = await dcgan('import', hostile, '--out', w);
    assert.equal(evil.status, 2);
    assert.match(evil.stderr, /refusing the pickle global os\.system/);
    assert.equal(evil.stderr.split('\n').length, 1);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

describe('scale-out through PyTorch DDP (examples/pytorch/ddp_train.py)', () => {
  const skip = 'skip' in torchPython ? torchPython.skip : false;

  it('export → 2-process DDP training (gloo, CPU) → import → sample', { skip, timeout: 180_000 }, async () => {
    if ('skip' in torchPython) return;
    const run = tinyRun(join(dir, 'ddp-run'), 2);
    const g = join(dir, 'ddp-netG.pth');
    const d = join(dir, 'ddp-netD.pth');
    assert.equal((await dcgan('export', '--checkpoint', run, '--out', g, '--netD', d)).status, 0);
    const out = join(dir, 'ddp-out');
    const port = await freePort();
    // --redirects 1 --tee 1: Debian's torch 1.13 launcher on Python 3.11 fails with its defaults
    // (an enum change makes '0' parse to None); these values parse, and output still reaches us.
    const args = ['-m', 'torch.distributed.run', '--redirects', '1', '--tee', '1', '--nproc_per_node', '2', '--master_addr', '127.0.0.1', '--master_port', String(port)];
    const script = [join(ROOT, 'examples/pytorch/ddp_train.py'), '--netG', g, '--netD', d, '--steps', '3', '--batch-size', '4', '--log-every', '1', '--out-dir', out, '--timeout', '90', '--watchdog', '100'];
    const t0 = Date.now();
    const r = spawnSync(PYTHON, [...args, ...script], { env: { ...torchPython.env, OMP_NUM_THREADS: '1' }, encoding: 'utf8', timeout: 150_000 });
    assert.equal(r.status, 0, `ddp_train.py failed (status ${r.status}, ${String(r.error ?? '')}): ${r.stdout}\n${r.stderr.slice(-6000)}`);
    const meta = JSON.parse(readFileSync(join(out, 'netG.pth.json'), 'utf8')) as { steps: number; processes: number };
    assert.deepEqual([meta.steps, meta.processes], [3, 2]);
    console.log(`# ddp_train.py: 2 processes, 3 steps, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const w = join(dir, 'ddp.safetensors');
    const imported = await dcgan('import', join(out, 'netG.pth'), '--netD', join(out, 'netD.pth'), '--out', w);
    assert.equal(imported.status, 0, imported.stderr);
    const weights = loadWeights(w);
    const before = loadTorchStateDict(readFileSync(g));
    assert.notDeepEqual(weights.netG.get('main.0.weight')!.data, before.get('main.0.weight')!.data, 'training changed the weights');
    assert.equal(weights.netG.get('main.1.num_batches_tracked')!.data[0], before.get('main.1.num_batches_tracked')!.data[0]! + 3);
    const netG = new DcganGenerator(weights.config);
    netG.loadStateDict(toStateDict(weights.netG));
    netG.eval();
    const z = new Float32Array(4 * 8).map((_, i) => Math.sin(i));
    const images = noGrad(() => netG.forward(tensor(z, [4, 8])));
    assert.deepEqual([...images.shape], [4, 1, 16, 16]);
    assert.ok(images.data.every((v) => Number.isFinite(v) && Math.abs(v) <= 1));
  });
});
