/** src/io: safetensors, checkpoints (round trip, atomicity, NaN refusal, errors), PNG grids, the loss plot, the report. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { binaryCrossEntropyWithLogits, Generator, optim, randn, tidy } from '../src/index.js';
import { decodeSafetensors, encodeSafetensors, makeGrid, renderLossPlotSvg, renderReport, SafetensorsError, saveImage, saveImageGrid } from '../src/io/index.js';
import { CheckpointError, configDifferences, loadCheckpoint, loadNetworks, saveCheckpoint, type CheckpointState } from '../src/train/index.js';
import { dcganDiscriminator, dcganGenerator, type DcganConfig } from '../src/models/index.js';

const dir = mkdtempSync(join(tmpdir(), 'dcgan-io-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A hand-built safetensors file: header JSON (padded as given) and data bytes. */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

describe('safetensors', () => {
  it('round-trips F32 and I64 tensors and string metadata; header padded with spaces to 8 bytes', () => {
    const a = new Float32Array([1.5, -2, 3.25, Math.fround(0.1), 0, -0, 1e-30, 3e38]);
    const bytes = encodeSafetensors(
      {
        'main.0.weight': { shape: [2, 2, 2], data: a },
        'main.1.num_batches_tracked': { shape: [], data: new Float32Array([12345]), dtype: 'I64' },
        empty: { shape: [0, 3], data: new Float32Array(0) },
      },
      { note: 'hello', json: '{"x":1}' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.match(headerText, / *$/);
    const header = JSON.parse(headerText) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
    assert.deepEqual(header['main.0.weight'], { dtype: 'F32', shape: [2, 2, 2], data_offsets: [0, 32] });
    assert.deepEqual(header['main.1.num_batches_tracked'], { dtype: 'I64', shape: [], data_offsets: [32, 40] });
    // The I64 is little-endian int64, as PyTorch writes it.
    assert.equal(new DataView(bytes.buffer).getBigInt64(8 + n + 32, true), 12345n);
    const file = decodeSafetensors(bytes);
    assert.deepEqual(file.metadata, { note: 'hello', json: '{"x":1}' });
    assert.deepEqual(file.tensors.get('main.0.weight')!.data, a);
    assert.equal(Object.is(file.tensors.get('main.0.weight')!.data[5], -0), true);
    assert.deepEqual(file.tensors.get('main.1.num_batches_tracked'), { dtype: 'I64', shape: [], data: new Float32Array([12345]) });
    assert.deepEqual(file.tensors.get('empty')!.shape, [0, 3]);
  });

  it('reads the other common dtypes into float32 (F64, F16, BF16, I32, I16, I8, U8, BOOL)', () => {
    const parts: Array<[string, string, Uint8Array, number[]]> = [];
    const dv = (size: number, fill: (v: DataView) => void): Uint8Array => {
      const b = new Uint8Array(size);
      fill(new DataView(b.buffer));
      return b;
    };
    parts.push(['f64', 'F64', dv(16, (v) => { v.setFloat64(0, 0.5, true); v.setFloat64(8, -3, true); }), [0.5, -3]]);
    parts.push(['f16', 'F16', dv(4, (v) => { v.setUint16(0, 0x3c00, true); v.setUint16(2, 0xc000, true); }), [1, -2]]);
    parts.push(['bf16', 'BF16', dv(4, (v) => { v.setUint16(0, 0x3f80, true); v.setUint16(2, 0x4040, true); }), [1, 3]]);
    parts.push(['i32', 'I32', dv(8, (v) => { v.setInt32(0, -7, true); v.setInt32(4, 9, true); }), [-7, 9]]);
    parts.push(['i16', 'I16', dv(4, (v) => { v.setInt16(0, -300, true); v.setInt16(2, 300, true); }), [-300, 300]]);
    parts.push(['i8', 'I8', new Uint8Array([0xff, 0x05]), [-1, 5]]);
    parts.push(['u8', 'U8', new Uint8Array([0xff, 0x05]), [255, 5]]);
    parts.push(['bool', 'BOOL', new Uint8Array([1, 0]), [1, 0]]);
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const [name, dtype, bytes] of parts) {
      header[name] = { dtype, shape: [2], data_offsets: [offset, offset + bytes.length] };
      offset += bytes.length;
    }
    const data = new Uint8Array(offset);
    offset = 0;
    for (const [, , bytes] of parts) {
      data.set(bytes, offset);
      offset += bytes.length;
    }
    const file = decodeSafetensors(rawFile(header, data));
    for (const [name, , , expected] of parts) assert.deepEqual([...file.tensors.get(name)!.data], expected, name);
  });

  const good = (): Uint8Array => encodeSafetensors({ a: { shape: [2], data: new Float32Array([1, 2]) }, b: { shape: [1], data: new Float32Array([3]) } });
  const corrupt: Array<[string, () => Uint8Array, RegExp]> = [
    ['a file shorter than 8 bytes', () => new Uint8Array(5), /shorter than the 8-byte header length/],
    ['a header length beyond the end (truncated header)', () => good().subarray(0, 20), /the header claims \d+ bytes but the file holds 12/],
    ['truncated data', () => good().subarray(0, good().length - 4), /beyond the 8 data bytes \(truncated\?\)/],
    ['bad header JSON', () => rawFile(null, new Uint8Array(0), '{"a": {"dtype": "F32",'), /the header is not valid JSON/],
    ['a header that is not an object', () => rawFile([1, 2], new Uint8Array(0)), /the header is not a JSON object/],
    ['offsets out of bounds', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 400] } }, f32Bytes([1, 2, 3])), /'b' has data_offsets \[8, 400\] beyond the 12 data bytes/],
    ['offsets that end before they begin', () => rawFile({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, f32Bytes([1])), /end before they begin/],
    ['overlapping tensors', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32Bytes([1, 2, 3])), /'b' overlaps the tensor before it/],
    ['a gap between tensors', () => rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32Bytes([1, 2, 3])), /gap of 4 bytes before tensor 'b'/],
    ['trailing bytes', () => rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32Bytes([1, 2])), /4 bytes follow the last tensor/],
    ['a size that does not fit the shape', () => rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32Bytes([1, 2])), /'a' \(F32 \[3\]\) needs 12 bytes but its data_offsets span 8/],
    ['an unknown dtype', () => rawFile({ a: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unsupported dtype "Q4"/],
    ['a prototype name as dtype', () => rawFile({ a: { dtype: 'constructor', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unsupported dtype/],
    ['a negative shape', () => rawFile({ a: { dtype: 'U8', shape: [-1], data_offsets: [0, 1] } }, new Uint8Array(1)), /invalid shape \[-1\]/],
    ['non-string metadata', () => rawFile({ __metadata__: { step: 3 } }, new Uint8Array(0)), /__metadata__ entry 'step' is not a string/],
  ];
  for (const [what, make, message] of corrupt) {
    it(`rejects ${what} with a clear error`, () => {
      assert.throws(
        () => decodeSafetensors(make(), 'bad.safetensors'),
        (e: unknown) => e instanceof SafetensorsError && e.message.startsWith('bad.safetensors is not a valid safetensors file: ') && message.test(e.message) && !e.message.includes('\n'),
      );
    });
  }

  it('refuses to write what it cannot represent', () => {
    assert.throws(() => encodeSafetensors({ a: { shape: [3], data: new Float32Array(2) } }), /has 2 values but shape \[3\]/);
    assert.throws(() => encodeSafetensors({ a: { shape: [1], data: new Float32Array([1.5]), dtype: 'I64' } }), /non-integer 1.5/);
    assert.throws(() => encodeSafetensors({ __metadata__: { shape: [0], data: new Float32Array(0) } }), /reserved/);
  });
});

const MODEL: DcganConfig = { imageSize: 16, channels: 3, nz: 8, ngf: 4, ndf: 4, projection: 'conv' };

/** A tiny G/D pair with Adam states after two training steps, as the trainer would hold them. */
function trainedState(seed: number): CheckpointState {
  const rng = new Generator(seed);
  const netG = dcganGenerator(MODEL, { generator: rng });
  const netD = dcganDiscriminator(MODEL, { generator: rng });
  const optG = new optim.Adam(netG.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
  const optD = new optim.Adam(netD.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
  for (let i = 0; i < 2; i++) {
    tidy(() => {
      optD.zeroGrad();
      const fake = netG.forward(randn([4, 8, 1, 1], { generator: rng }));
      binaryCrossEntropyWithLogits(netD.forward(fake.detach()), 0).backward();
      optD.step();
      optG.zeroGrad();
      binaryCrossEntropyWithLogits(netD.forward(fake), 1).backward();
      optG.step();
    });
  }
  const fixedNoise = randn([6, 8, 1, 1], { generator: rng });
  return {
    config: { ...MODEL, data: 'shapes', batchSize: 4, lr: 2e-4 },
    netG,
    netD,
    optG,
    optD,
    step: 2,
    epoch: 0,
    elapsedSeconds: 1.25,
    loader: { epoch: 0, batchIndex: 2, seed: 9 },
    rng: rng.getState(),
    fixedNoise,
  };
}

describe('checkpoints', () => {
  it('round-trip: G, D (with BN buffers), both Adam states, step, epoch, loader, RNG, fixed noise, config', () => {
    tidy(() => {
      const path = join(dir, 'roundtrip.safetensors');
      const state = trainedState(1);
      saveCheckpoint(path, state);
      const loaded = loadCheckpoint(path);
      assert.deepEqual(loaded.config, state.config);
      assert.deepEqual(loaded.model, MODEL);
      assert.equal(loaded.step, 2);
      assert.equal(loaded.epoch, 0);
      assert.equal(loaded.elapsedSeconds, 1.25);
      assert.deepEqual(loaded.loader, state.loader);
      assert.deepEqual(loaded.rng, state.rng);
      assert.deepEqual(loaded.fixedNoise.data, state.fixedNoise.data);
      for (const side of ['netG', 'netD'] as const) {
        const own = state[side].stateDict();
        assert.deepEqual(Object.keys(loaded[side]), Object.keys(own));
        for (const [k, t] of Object.entries(own)) assert.deepEqual(loaded[side][k]!.data, t.data, `${side}.${k}`);
      }
      assert.equal(loaded.netG['main.1.num_batches_tracked']!.data[0], 2);
      // A fresh model and optimizer take the state and continue identically.
      const g2 = dcganGenerator(MODEL, { seed: 99 });
      const d2 = dcganDiscriminator(MODEL, { seed: 99 });
      loadNetworks(loaded, g2, d2);
      const optG2 = new optim.Adam(g2.parameters());
      optG2.loadStateDict(loaded.optG);
      const a = state.optG.stateDict();
      const b = optG2.stateDict();
      assert.deepEqual(b.hyper, a.hyper);
      a.state.forEach((s, i) => {
        assert.equal(b.state[i]!['step'], s!['step']);
        assert.deepEqual((b.state[i]!['exp_avg_sq'] as { data: Float32Array }).data, (s!['exp_avg_sq'] as { data: Float32Array }).data);
      });
    });
  });

  it('the netG./netD. tensors are pytorch/examples state dicts under a prefix, BN counters stored as I64', () => {
    tidy(() => {
      const path = join(dir, 'names.safetensors');
      saveCheckpoint(path, trainedState(2));
      const file = decodeSafetensors(readFileSync(path));
      assert.equal(file.tensors.get('netG.main.0.weight')!.dtype, 'F32');
      assert.deepEqual(file.tensors.get('netG.main.0.weight')!.shape, [8, 8, 4, 4]);
      assert.equal(file.tensors.get('netD.main.3.num_batches_tracked')!.dtype, 'I64');
      assert.ok(file.tensors.has('optD.state.0.exp_avg'));
      assert.equal(file.metadata['format'], 'dcgan-ts-checkpoint');
      assert.equal(JSON.parse(file.metadata['optG']!).state[0].step, 2);
    });
  });

  it('is atomic: a failure in the middle of writing leaves the previous checkpoint intact and no temp file', () => {
    tidy(() => {
      const sub = mkdtempSync(join(dir, 'atomic-'));
      const path = join(sub, 'checkpoint.safetensors');
      saveCheckpoint(path, trainedState(3));
      const before = readFileSync(path);
      const next = trainedState(4);
      let chunks = 0;
      assert.throws(
        () =>
          saveCheckpoint(path, next, {
            afterChunk: () => {
              chunks++;
              throw new Error('ENOSPC: no space left on device (simulated)');
            },
          }),
        /ENOSPC/,
      );
      assert.equal(chunks, 1);
      assert.deepEqual(readFileSync(path), before);
      assert.deepEqual(readdirSync(sub), ['checkpoint.safetensors']);
      loadCheckpoint(path);
    });
  });

  it('a folder it cannot write to leaves the old file untouched', { skip: process.getuid?.() === 0 ? 'running as root: permissions do not apply' : false }, () => {
    tidy(() => {
      const sub = mkdtempSync(join(dir, 'ro-'));
      const path = join(sub, 'checkpoint.safetensors');
      saveCheckpoint(path, trainedState(3));
      const before = readFileSync(path);
      chmodSync(sub, 0o555);
      try {
        assert.throws(() => saveCheckpoint(path, trainedState(4)), /EACCES|EPERM/);
      } finally {
        chmodSync(sub, 0o755);
      }
      assert.deepEqual(readFileSync(path), before);
    });
  });

  it('refuses to write NaN or infinite weights, keeping the last good checkpoint', () => {
    tidy(() => {
      const path = join(dir, 'nan.safetensors');
      const state = trainedState(5);
      saveCheckpoint(path, state);
      const before = readFileSync(path);
      state.netD.stateDict()['main.2.weight']!.data[3] = Number.NaN;
      assert.throws(() => saveCheckpoint(path, state), (e: unknown) => e instanceof CheckpointError && /netD\.main\.2\.weight holds a non-finite value \(NaN\) at index 3/.test(e.message));
      assert.deepEqual(readFileSync(path), before);
    });
  });

  it('missing, corrupt and foreign files are clear one-line errors', () => {
    const oneLine = (path: string, message: RegExp): void =>
      assert.throws(() => loadCheckpoint(path), (e: unknown) => e instanceof CheckpointError && message.test(e.message) && !e.message.includes('\n'));
    oneLine(join(dir, 'nope.safetensors'), /^checkpoint not found: .*nope\.safetensors$/);
    oneLine(dir, /is a folder, not a checkpoint file/);
    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, 'this is not a checkpoint at all');
    oneLine(garbage, /garbage\.safetensors is not a valid safetensors file/);
    const foreign = join(dir, 'foreign.safetensors');
    writeFileSync(foreign, encodeSafetensors({ w: { shape: [1], data: new Float32Array([1]) } }));
    oneLine(foreign, /not a usable dcgan-ts checkpoint: its metadata 'format' is null/);
    tidy(() => {
      const good = join(dir, 'good.safetensors');
      saveCheckpoint(good, trainedState(6));
      const bytes = readFileSync(good);
      const truncated = join(dir, 'truncated.safetensors');
      writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
      oneLine(truncated, /truncated/);
      // A valid file whose config says 48×48.
      const file = decodeSafetensors(bytes);
      const meta = { ...file.metadata, config: JSON.stringify({ ...JSON.parse(file.metadata['config']!), imageSize: 48 }) };
      const badConfig = join(dir, 'badconfig.safetensors');
      writeFileSync(badConfig, encodeSafetensors([...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data, dtype: t.dtype === 'I64' ? 'I64' : 'F32' }]), meta));
      oneLine(badConfig, /its model config is invalid \(image size must be a power of two between 16 and 256, got 48\)/);
    });
  });

  it('configDifferences names every differing key with both values', () => {
    assert.deepEqual(configDifferences({ imageSize: 32, ngf: 8, lr: 2e-4 }, { imageSize: 16, ngf: 8, lr: 1e-3 }), [
      'imageSize (checkpoint 32, requested 16)',
      'lr (checkpoint 0.0002, requested 0.001)',
    ]);
    assert.deepEqual(configDifferences({ a: 1 }, { a: 1 }), []);
  });
});

describe('PNG grids', () => {
  it('lays out like torchvision make_grid: nrow per row, 2 px padding around and between', () => {
    const batch = { shape: [10, 3, 16, 16], data: new Float32Array(10 * 3 * 256).fill(1) };
    const grid = makeGrid(batch);
    // 8 columns × (16 + 2) + 2, 2 rows × (16 + 2) + 2
    assert.deepEqual([grid.width, grid.height, grid.channels], [146, 38, 3]);
    assert.equal(grid.pixels[0], 0, 'padding is black');
    assert.equal(grid.pixels[(2 * 146 + 2) * 3], 255, 'first image starts at (2, 2)');
    assert.equal(grid.pixels[(20 * 146 + 2 + 2 * 18) * 3], 0, 'the missing images of the last row are padding');
    const single = makeGrid({ shape: [3, 1, 4, 4], data: new Float32Array(48) }, { nrow: 8 });
    assert.deepEqual([single.width, single.height], [3 * 6 + 2, 8]);
  });

  it('maps [−1, 1] to bytes as save_image does, clamping outside values', () => {
    const data = new Float32Array([-1, -0.5, 0, 0.5, 1, 2, -3, Number.NaN, 0.9999]);
    const grid = makeGrid({ shape: [1, 1, 3, 3], data }, { padding: 0 });
    assert.deepEqual([...grid.pixels], [0, 64, 128, 191, 255, 255, 0, 0, 255]);
  });

  it('writes PNGs that decode to the right size and pixels (RGB and grey)', () => {
    const rgb = new Float32Array(4 * 3 * 8 * 8);
    rgb.fill(-1);
    for (let i = 0; i < 64; i++) rgb[i] = 1; // image 0: red channel full
    const path = join(dir, 'grid.png');
    saveImageGrid(path, { shape: [4, 3, 8, 8], data: rgb }, { nrow: 2 });
    const png = PNG.sync.read(readFileSync(path));
    assert.deepEqual([png.width, png.height], [2 * 10 + 2, 2 * 10 + 2]);
    const at = (x: number, y: number): number[] => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3)];
    assert.deepEqual(at(2, 2), [255, 0, 0]);
    assert.deepEqual(at(12, 2), [0, 0, 0]);
    const grey = join(dir, 'grey.png');
    saveImage(grey, { shape: [2, 1, 5, 7], data: new Float32Array(70).fill(0) }, 1);
    const g = PNG.sync.read(readFileSync(grey));
    assert.deepEqual([g.width, g.height, g.data[0], g.data[1], g.data[2]], [7, 5, 128, 128, 128]);
  });

  it('rejects batches that are not [N, 1|3, H, W]', () => {
    assert.throws(() => makeGrid({ shape: [2, 2, 4, 4], data: new Float32Array(64) }), /expected a non-empty batch \[N, 1 or 3, H, W\], got \[2, 2, 4, 4\]/);
  });
});

describe('loss plot and report', () => {
  it('renders the losses to SVG with both series and axes', async () => {
    const points = Array.from({ length: 40 }, (_, i) => ({ step: i + 1, lossD: 1.4 - i / 40, lossG: 0.7 + i / 30 }));
    const svg = await renderLossPlotSvg(points);
    assert.match(svg, /^<svg/);
    assert.match(svg, /lossD \(discriminator\)/);
    assert.match(svg, /lossG \(generator\)/);
    assert.match(svg, />step</);
  });

  it('report.html links images by relative paths and inlines the plot', () => {
    const html = renderReport({
      config: { imageSize: 16, data: 'shapes' },
      summary: { steps: '10' },
      lossPlotSvg: '<?xml version="1.0"?><svg id="plot"></svg>',
      lossPlotPng: 'loss.png',
      grids: [{ src: 'samples/step_000005.png', step: 5 }, { src: 'samples/step_000010.png', step: 10 }],
      finalSamples: 'samples/final.png',
      realSamples: 'real_samples.png',
      notes: ['<script>alert(1)</script>'],
    });
    assert.match(html, /<img src="samples\/step_000005\.png"/);
    assert.match(html, /<img src="samples\/final\.png"/);
    assert.match(html, /<img src="real_samples\.png"/);
    assert.match(html, /<svg id="plot"><\/svg>/);
    assert.ok(!html.includes('<?xml'));
    assert.ok(!html.includes('<script>'), 'notes are escaped');
    assert.ok(!/(src|href)="\//.test(html), 'no absolute paths');
  });
});
