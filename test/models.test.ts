/** The DCGAN builders: pytorch/examples' names and shapes, every size, both projections, init, errors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { noGrad, randn, tidy, Generator } from '../src/index.js';
import { dcganDiscriminator, dcganGenerator, DcganConfigError, resolveDcganConfig } from '../src/models/index.js';

/** BatchNorm2d's five state entries, as PyTorch names them. */
function bn(index: number, features: number): Array<[string, number[]]> {
  return [
    [`main.${index}.weight`, [features]],
    [`main.${index}.bias`, [features]],
    [`main.${index}.running_mean`, [features]],
    [`main.${index}.running_var`, [features]],
    [`main.${index}.num_batches_tracked`, []],
  ];
}

// pytorch/examples dcgan/main.py, nz=100, ngf=ndf=64, nc=3, written out from its Generator and
// Discriminator classes (nn.Sequential indices count the parameter-free ReLU/LeakyReLU/Tanh too).
const PYTORCH_NETG: Array<[string, number[]]> = [
  ['main.0.weight', [100, 512, 4, 4]], // ConvTranspose2d(nz, ngf*8, 4, 1, 0, bias=False)
  ...bn(1, 512), // 2: ReLU
  ['main.3.weight', [512, 256, 4, 4]], // ConvTranspose2d(ngf*8, ngf*4, 4, 2, 1)
  ...bn(4, 256), // 5: ReLU
  ['main.6.weight', [256, 128, 4, 4]],
  ...bn(7, 128), // 8: ReLU
  ['main.9.weight', [128, 64, 4, 4]],
  ...bn(10, 64), // 11: ReLU
  ['main.12.weight', [64, 3, 4, 4]], // ConvTranspose2d(ngf, nc, 4, 2, 1); 13: Tanh
];

const PYTORCH_NETD: Array<[string, number[]]> = [
  ['main.0.weight', [64, 3, 4, 4]], // Conv2d(nc, ndf, 4, 2, 1, bias=False); 1: LeakyReLU(0.2)
  ['main.2.weight', [128, 64, 4, 4]],
  ...bn(3, 128), // 4: LeakyReLU
  ['main.5.weight', [256, 128, 4, 4]],
  ...bn(6, 256), // 7: LeakyReLU
  ['main.8.weight', [512, 256, 4, 4]],
  ...bn(9, 512), // 10: LeakyReLU
  ['main.11.weight', [1, 512, 4, 4]], // Conv2d(ndf*8, 1, 4, 1, 0); theirs has 12: Sigmoid (no parameters)
];

function entries(state: Record<string, { shape: readonly number[] }>): Array<[string, number[]]> {
  return Object.entries(state).map(([k, t]) => [k, [...t.shape]]);
}

describe('DCGAN models', () => {
  it('64×64×3 defaults: netG names and shapes equal pytorch/examples exactly, in order', () => {
    tidy(() => assert.deepEqual(entries(dcganGenerator().stateDict()), PYTORCH_NETG));
  });

  it('64×64×3 defaults: netD names and shapes equal pytorch/examples (without its parameter-free Sigmoid)', () => {
    tidy(() => assert.deepEqual(entries(dcganDiscriminator().stateDict()), PYTORCH_NETD));
  });

  it('no conv layer has a bias, as in pytorch/examples', () => {
    tidy(() => {
      for (const net of [dcganGenerator(), dcganDiscriminator()]) {
        for (const name of Object.keys(net.stateDict())) {
          if (name.endsWith('.bias')) {
            const index = Number(name.split('.')[1]);
            assert.ok(net.stateDict()[`main.${index}.running_mean`], `${name} belongs to a BatchNorm`);
          }
        }
      }
    });
  });

  for (const imageSize of [16, 32, 64, 128, 256]) {
    for (const channels of [1, 3] as const) {
      it(`${imageSize}×${imageSize}×${channels}: G maps z to images, D maps images to one logit each`, () => {
        tidy(() =>
          noGrad(() => {
            const config = { imageSize, channels, nz: 8, ngf: 2, ndf: 2 };
            const g = dcganGenerator(config, { seed: 1 });
            const d = dcganDiscriminator(config, { seed: 2 });
            const blocks = Math.log2(imageSize) - 3;
            // conv: ConvT, BN, ReLU, then (ConvT, BN, ReLU) × blocks, ConvT, Tanh.
            assert.equal(g.main.layers.length, 3 + 3 * blocks + 2);
            // Conv, LReLU, then (Conv, BN, LReLU) × blocks, Conv.
            assert.equal(d.main.layers.length, 2 + 3 * blocks + 1);
            const images = g.forward(randn([2, 8, 1, 1], { generator: new Generator(3) }));
            assert.deepEqual([...images.shape], [2, channels, imageSize, imageSize]);
            for (const v of images.data) assert.ok(v >= -1 && v <= 1);
            assert.deepEqual([...d.forward(images).shape], [2]);
            // z may also be given flat.
            assert.deepEqual([...g.forward(randn([3, 8])).shape], [3, channels, imageSize, imageSize]);
          }),
        );
      });
    }
  }

  it('widths double per block: 128×128 starts at ngf·16 and D ends at ndf·16', () => {
    tidy(() => {
      const g = dcganGenerator({ imageSize: 128, ngf: 4, ndf: 4, nz: 10 });
      const d = dcganDiscriminator({ imageSize: 128, ngf: 4, ndf: 4, nz: 10 });
      assert.deepEqual([...g.stateDict()['main.0.weight']!.shape], [10, 64, 4, 4]);
      const last = Object.entries(d.stateDict()).at(-1)!;
      assert.deepEqual([last[0], [...last[1].shape]], ['main.14.weight', [1, 64, 4, 4]]);
    });
  });

  it("projection 'linear' is Linear(nz → 4·4·C) + Unflatten + BN + ReLU, same output shape as 'conv'", () => {
    tidy(() =>
      noGrad(() => {
        const config = { imageSize: 32, channels: 3 as const, nz: 10, ngf: 4, ndf: 4 };
        const lin = dcganGenerator({ ...config, projection: 'linear' }, { seed: 5 });
        const conv = dcganGenerator({ ...config, projection: 'conv' }, { seed: 5 });
        const ls = lin.stateDict();
        assert.deepEqual([...ls['main.0.weight']!.shape], [4 * 4 * 16, 10]);
        assert.equal(ls['main.0.bias'], undefined, 'no bias before BatchNorm');
        assert.deepEqual([...ls['main.2.weight']!.shape], [16]);
        assert.deepEqual([...conv.stateDict()['main.0.weight']!.shape], [10, 16, 4, 4]);
        // After the projection both have the same layers, shifted by one index (the Unflatten).
        assert.equal(Object.keys(ls).length, Object.keys(conv.stateDict()).length);
        const z = randn([2, 10, 1, 1]);
        assert.deepEqual([...lin.forward(z).shape], [2, 3, 32, 32]);
        assert.deepEqual([...conv.forward(z).shape], [2, 3, 32, 32]);
      }),
    );
  });

  it('initialisation: weights N(0, 0.02), BN γ ~ N(1, 0.02), β = 0, deterministic for a seed', () => {
    tidy(() => {
      const g = dcganGenerator({ ngf: 16 }, { seed: 7 });
      const w = g.stateDict()['main.3.weight']!.data; // 128·64·16 = 131072 values
      let sum = 0;
      let sq = 0;
      for (const v of w) {
        sum += v;
        sq += v * v;
      }
      const mean = sum / w.length;
      const std = Math.sqrt(sq / w.length - mean * mean);
      assert.ok(Math.abs(mean) < 1e-3, `mean ${mean}`);
      assert.ok(Math.abs(std - 0.02) < 1e-3, `std ${std}`);
      const gamma = g.stateDict()['main.1.weight']!.data;
      const gMean = gamma.reduce((a, b) => a + b, 0) / gamma.length;
      assert.ok(Math.abs(gMean - 1) < 0.01, `gamma mean ${gMean}`);
      assert.ok(g.stateDict()['main.1.bias']!.data.every((v) => v === 0));
      const again = dcganGenerator({ ngf: 16 }, { seed: 7 });
      assert.deepEqual(again.stateDict()['main.3.weight']!.data, w);
      const other = dcganGenerator({ ngf: 16 }, { seed: 8 });
      assert.notDeepEqual(other.stateDict()['main.3.weight']!.data, w);
    });
  });

  it('bad configs are clear one-line errors', () => {
    const cases: Array<[object, RegExp]> = [
      [{ imageSize: 48 }, /^image size must be a power of two between 16 and 256, got 48$/],
      [{ imageSize: 8 }, /power of two between 16 and 256, got 8/],
      [{ imageSize: 512 }, /got 512/],
      [{ channels: 2 }, /^channels must be 1 or 3, got 2$/],
      [{ ngf: 0 }, /^ngf must be an integer between 1 and \d+, got 0$/],
      [{ nz: 1.5 }, /^nz must be/],
      [{ projection: 'dense' }, /^projection must be 'conv' or 'linear', got 'dense'$/],
    ];
    for (const [config, message] of cases) {
      assert.throws(() => resolveDcganConfig(config), (e: unknown) => e instanceof DcganConfigError && message.test(e.message));
      assert.throws(() => dcganGenerator(config), DcganConfigError);
    }
  });

  it('wrong input shapes name the expected shape', () => {
    tidy(() => {
      const config = { imageSize: 16, nz: 4, ngf: 2, ndf: 2 };
      assert.throws(() => dcganGenerator(config).forward(randn([2, 5])), /z must have shape \[N, 4\] or \[N, 4, 1, 1\], got \[2, 5\]/);
      assert.throws(() => dcganDiscriminator(config).forward(randn([2, 3, 32, 32])), /images must have shape \[N, 3, 16, 16\], got \[2, 3, 32, 32\]/);
    });
  });
});
