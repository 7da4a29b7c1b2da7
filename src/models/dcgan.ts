/**
 * The DCGAN generator and discriminator (Radford et al., 2015; DESIGN.md §1), for any
 * power-of-two image size from 16 to 256 and 1 or 3 channels.
 *
 * Layer for layer the 64×64×3 default is pytorch/examples' dcgan `netG`/`netD`, so state
 * dicts carry the same names (`main.0.weight`, `main.1.running_mean`, …) and shapes. One
 * difference: their `netD` ends in a Sigmoid and trains with BCELoss; ours ends at the
 * logit and trains with BCE-with-logits (numerically stable). The Sigmoid has no parameters,
 * so their netD state dict loads into ours unchanged (and ours into theirs).
 */
import { ConvTranspose2d, Conv2d } from '../nn/conv.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Linear } from '../nn/linear.js';
import { LeakyReLU, ReLU, Tanh } from '../nn/activation.js';
import { Unflatten } from '../nn/reshape.js';
import { Sequential } from '../nn/container.js';
import { Module } from '../nn/module.js';
import { add, mul } from '../ops/arithmetic.js';
import { fillNormal, tensor } from '../ops/create.js';
import { sum } from '../ops/reduce.js';
import { reshape } from '../ops/reshape.js';
import { Generator } from '../tensor/random.js';
import { shapeToString } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** How the generator turns z into its first 4×4 volume. */
export type Projection = 'conv' | 'linear';

export interface DcganConfig {
  /** Height and width of the images: a power of two from 16 to 256. */
  imageSize: number;
  /** 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
  /** Length of the latent vector z. */
  nz: number;
  /** Generator width: channels of its last hidden layer. */
  ngf: number;
  /** Discriminator width: channels of its first layer. */
  ndf: number;
  /**
   * 'conv': a 4×4 transposed convolution on z as a 1×1 image (pytorch/examples);
   * 'linear': Linear(nz → 4·4·C) and a reshape (the paper's projection). The two are the same map.
   */
  projection: Projection;
  /**
   * Classes of a class-conditional DCGAN (0 or absent: unconditional). The label enters G as a
   * second projection of its one-hot vector, added to z's (the same as concatenating it to z),
   * and D as a projection discriminator (Miyato & Koyama 2018): the logit gains ⟨E·y, Σ φ(x)⟩.
   */
  numClasses?: number;
}

/** The fields every DcganConfig has: what a checkpoint's config must hold to rebuild the networks (numClasses is optional). */
export const DCGAN_CONFIG_KEYS = ['imageSize', 'channels', 'nz', 'ngf', 'ndf', 'projection'] as const satisfies ReadonlyArray<keyof DcganConfig>;

export const DEFAULT_DCGAN_CONFIG: Readonly<DcganConfig> = Object.freeze({
  imageSize: 64,
  channels: 3,
  nz: 100,
  ngf: 64,
  ndf: 64,
  projection: 'conv',
});

/** An invalid model configuration; the message is meant for the user as it stands. */
export class DcganConfigError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'DcganConfigError';
  }
}

const MAX_WIDTH = 1 << 16;

function checkPositiveInt(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new DcganConfigError(`${name} must be an integer between 1 and ${max}, got ${String(value)}`);
  }
  return value;
}

/** Fills in defaults and validates; throws DcganConfigError with a one-line message. */
export function resolveDcganConfig(config: Partial<DcganConfig> = {}): DcganConfig {
  const c = { ...DEFAULT_DCGAN_CONFIG, ...stripUndefined(config) };
  const size = c.imageSize;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 16 || size > 256 || (size & (size - 1)) !== 0) {
    throw new DcganConfigError(`image size must be a power of two between 16 and 256, got ${String(size)}`);
  }
  if (c.channels !== 1 && c.channels !== 3) {
    throw new DcganConfigError(`channels must be 1 or 3, got ${String(c.channels)}`);
  }
  checkPositiveInt('nz', c.nz, MAX_WIDTH);
  checkPositiveInt('ngf', c.ngf, MAX_WIDTH);
  checkPositiveInt('ndf', c.ndf, MAX_WIDTH);
  if (c.projection !== 'conv' && c.projection !== 'linear') {
    throw new DcganConfigError(`projection must be 'conv' or 'linear', got '${String(c.projection)}'`);
  }
  const classes = c.numClasses ?? 0;
  if (!Number.isInteger(classes) || classes < 0 || classes > MAX_WIDTH) {
    throw new DcganConfigError(`numClasses must be an integer between 0 and ${MAX_WIDTH}, got ${String(c.numClasses)}`);
  }
  const out = pickDcganConfig({ ...c, imageSize: size });
  if (classes > 0) out.numClasses = classes;
  else delete out.numClasses;
  return out;
}

/** The model fields of a larger settings object (a training config, a checkpoint's config), unvalidated. */
export function pickDcganConfig<T extends DcganConfig>(settings: T): DcganConfig;
export function pickDcganConfig(settings: Readonly<Record<string, unknown>>): Partial<DcganConfig>;
export function pickDcganConfig(settings: Readonly<Record<string, unknown>>): Partial<DcganConfig> {
  const out = Object.fromEntries(DCGAN_CONFIG_KEYS.map((key) => [key, settings[key]])) as Partial<DcganConfig>;
  if (typeof settings['numClasses'] === 'number' && settings['numClasses'] > 0) out.numClasses = settings['numClasses'];
  return out;
}

/** Class labels as a one-hot matrix [N, numClasses] (no gradient), checking each label. */
export function oneHot(labels: readonly number[], numClasses: number, who: string): Tensor {
  const data = new Float32Array(labels.length * numClasses);
  labels.forEach((label, i) => {
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new RangeError(`${who}: class label ${String(label)} is outside 0..${numClasses - 1}`);
    }
    data[i * numClasses + label] = 1;
  });
  return tensor(data, [labels.length, numClasses]);
}

function checkLabels(who: string, numClasses: number, batch: number, labels: readonly number[] | undefined): readonly number[] | null {
  if (numClasses === 0) {
    if (labels !== undefined) throw new RangeError(`${who}: this model is unconditional; it takes no class labels`);
    return null;
  }
  if (labels === undefined) throw new RangeError(`${who}: this model is class-conditional (${numClasses} classes); pass one label per image`);
  if (labels.length !== batch) throw new RangeError(`${who}: ${labels.length} labels for a batch of ${batch}`);
  return labels;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Stride-2 blocks with BatchNorm between the 4×4 volume and the image: log2(imageSize) − 3. */
export function hiddenBlocks(imageSize: number): number {
  return Math.log2(imageSize) - 3;
}

export interface DcganBuildOptions {
  /** Seed of the weight initialisation (a fresh Generator); ignored when `generator` is given. */
  seed?: number;
  /** Draws the initial weights from this generator (its state advances). */
  generator?: Generator;
}

function initGenerator(options: DcganBuildOptions): Generator {
  return options.generator ?? new Generator(options.seed ?? 0);
}

/**
 * DCGAN initialisation (pytorch/examples' weights_init): convolution and linear weights
 * N(0, 0.02) with zero bias, BatchNorm γ ~ N(1, 0.02) and β = 0. Modules are visited in
 * state-dict order, so a seed always gives the same weights.
 */
export function initDcganWeights(net: Module, generator: Generator): void {
  for (const [, m] of net.namedModules()) {
    if (m instanceof Conv2d || m instanceof ConvTranspose2d || m instanceof Linear) {
      fillNormal(m.weight.data, generator, 0, 0.02);
      m.bias?.data.fill(0);
    } else if (m instanceof BatchNorm2d) {
      if (m.weight !== null) fillNormal(m.weight.data, generator, 1, 0.02);
      m.bias?.data.fill(0);
    }
  }
}

const up = { stride: 2, padding: 1, bias: false } as const;
const noBias = { bias: false } as const;

/** z [N, nz] or [N, nz, 1, 1] (and, when conditional, one class label each) → images [N, channels, imageSize, imageSize] in [−1, 1]. */
export class DcganGenerator extends Module {
  readonly main: Sequential;
  /** For a conditional model: the labels' projection to the first volume, added to z's. */
  readonly label: Module | null;

  constructor(readonly config: DcganConfig, options: DcganBuildOptions = {}) {
    super();
    const { imageSize, channels, nz, ngf, projection } = config;
    const blocks = hiddenBlocks(imageSize);
    let mult = 2 ** blocks;
    const layers: Module[] = [];
    if (projection === 'conv') {
      layers.push(new ConvTranspose2d(nz, ngf * mult, 4, noBias));
    } else {
      // Bias-free as the transposed convolution is: the BatchNorm right after supplies the shift.
      layers.push(new Linear(nz, ngf * mult * 16, noBias), new Unflatten([ngf * mult, 4, 4]));
    }
    layers.push(new BatchNorm2d(ngf * mult), new ReLU());
    for (let i = 0; i < blocks; i++) {
      layers.push(new ConvTranspose2d(ngf * mult, ngf * (mult / 2), 4, up), new BatchNorm2d(ngf * (mult / 2)), new ReLU());
      mult /= 2;
    }
    layers.push(new ConvTranspose2d(ngf, channels, 4, up), new Tanh());
    this.main = this.registerModule('main', new Sequential(...layers));
    const classes = config.numClasses ?? 0;
    const first = ngf * 2 ** blocks;
    this.label = classes === 0 ? null : this.registerModule('label', projection === 'conv' ? new ConvTranspose2d(classes, first, 4, noBias) : new Linear(classes, first * 16, noBias));
    initDcganWeights(this, initGenerator(options));
  }

  forward(z: Tensor, labels?: readonly number[]): Tensor {
    const { nz, projection } = this.config;
    const [n] = z.shape;
    const ok = (z.ndim === 2 && z.shape[1] === nz) || (z.ndim === 4 && z.shape[1] === nz && z.shape[2] === 1 && z.shape[3] === 1);
    if (!ok || n === undefined) {
      throw new RangeError(`DcganGenerator: z must have shape [N, ${nz}] or [N, ${nz}, 1, 1], got ${shapeToString(z.shape)}`);
    }
    const input = projection === 'conv' ? (z.ndim === 4 ? z : reshape(z, [n, nz, 1, 1])) : z.ndim === 2 ? z : reshape(z, [n, nz]);
    const classes = checkLabels('DcganGenerator', this.config.numClasses ?? 0, n, labels);
    if (classes === null || this.label === null) return this.main.forward(input);
    // W·[z; y] = W_z·z + W_y·y: the label's projection is added to z's, before BatchNorm.
    const y = oneHot(classes, this.config.numClasses!, 'DcganGenerator');
    const [project, ...rest] = this.main.layers;
    let h = add(project!.forward(input), this.label.forward(projection === 'conv' ? reshape(y, [n, y.shape[1]!, 1, 1]) : y));
    for (const layer of rest) h = layer.forward(h);
    return h;
  }
}

/** Images [N, channels, imageSize, imageSize] (and, when conditional, one class label each) → one logit per image, shape [N]. */
export class DcganDiscriminator extends Module {
  readonly main: Sequential;
  /** For a conditional model: the class embedding E [features, classes] of the projection term. */
  readonly embed: Linear | null;

  constructor(readonly config: DcganConfig, options: DcganBuildOptions = {}) {
    super();
    const { imageSize, channels, ndf } = config;
    const blocks = hiddenBlocks(imageSize);
    const layers: Module[] = [new Conv2d(channels, ndf, 4, up), new LeakyReLU(0.2)];
    let mult = 1;
    for (let i = 0; i < blocks; i++) {
      layers.push(new Conv2d(ndf * mult, ndf * mult * 2, 4, up), new BatchNorm2d(ndf * mult * 2), new LeakyReLU(0.2));
      mult *= 2;
    }
    layers.push(new Conv2d(ndf * mult, 1, 4, noBias));
    this.main = this.registerModule('main', new Sequential(...layers));
    const classes = config.numClasses ?? 0;
    this.embed = classes === 0 ? null : this.registerModule('embed', new Linear(classes, ndf * mult, noBias));
    initDcganWeights(this, initGenerator(options));
  }

  forward(x: Tensor, labels?: readonly number[]): Tensor {
    const { channels, imageSize } = this.config;
    if (x.ndim !== 4 || x.shape[1] !== channels || x.shape[2] !== imageSize || x.shape[3] !== imageSize) {
      throw new RangeError(`DcganDiscriminator: images must have shape [N, ${channels}, ${imageSize}, ${imageSize}], got ${shapeToString(x.shape)}`);
    }
    const n = x.shape[0]!;
    const classes = checkLabels('DcganDiscriminator', this.config.numClasses ?? 0, n, labels);
    if (classes === null || this.embed === null) return reshape(this.main.forward(x), [n]);
    const layers = this.main.layers;
    let features = x;
    for (const layer of layers.slice(0, -1)) features = layer.forward(features);
    const logits = reshape(layers.at(-1)!.forward(features), [n]);
    // Projection: ⟨E·y, Σ_hw φ(x)⟩ per image.
    const pooled = sum(features, [2, 3]);
    const projected = this.embed.forward(oneHot(classes, this.config.numClasses!, 'DcganDiscriminator'));
    return add(logits, sum(mul(pooled, projected), 1));
  }
}

/** The generator for a (partial) config; defaults are pytorch/examples' 64×64×3, nz 100, ngf 64. */
export function dcganGenerator(config: Partial<DcganConfig> = {}, options: DcganBuildOptions = {}): DcganGenerator {
  return new DcganGenerator(resolveDcganConfig(config), options);
}

/** The discriminator for a (partial) config; it outputs logits (no Sigmoid). */
export function dcganDiscriminator(config: Partial<DcganConfig> = {}, options: DcganBuildOptions = {}): DcganDiscriminator {
  return new DcganDiscriminator(resolveDcganConfig(config), options);
}
