/**
 * The DcganConfig behind a state dict: imageSize, channels, nz, ngf, ndf and the projection
 * read off the tensor shapes of a generator and/or discriminator named as `dcgan.ts` builds
 * them (pytorch/examples' `main.0.weight`, `main.1.running_mean`, …), then every name and
 * shape checked against what that config builds.
 */
import { hiddenBlocks, resolveDcganConfig, type DcganConfig, type Projection } from './dcgan.js';

/** Shapes by name; any record with a `shape` (safetensors / .pth tensors, our Tensors) fits. */
export type ShapeDict = ReadonlyMap<string, { readonly shape: readonly number[] }> | Readonly<Record<string, { readonly shape: readonly number[] }>>;

/** A state dict that is not a DCGAN this toolkit understands; the message says what was found. */
export class DcganInferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DcganInferenceError';
  }
}

function entries(dict: ShapeDict): Array<[string, readonly number[]]> {
  const list = dict instanceof Map ? [...dict.entries()] : Object.entries(dict as Record<string, { shape: readonly number[] }>);
  return list.map(([k, v]) => [k, v.shape]);
}

function batchNorm(out: Array<[string, number[]]>, prefix: string, n: number): void {
  out.push([`${prefix}.weight`, [n]], [`${prefix}.bias`, [n]], [`${prefix}.running_mean`, [n]], [`${prefix}.running_var`, [n]], [`${prefix}.num_batches_tracked`, []]);
}

/** Names and shapes of the generator's state dict for a config, in state-dict order (as DcganGenerator builds it). */
export function generatorShapes(config: DcganConfig): Array<[string, number[]]> {
  const { imageSize, channels, nz, ngf, projection } = config;
  const blocks = hiddenBlocks(imageSize);
  let mult = 2 ** blocks;
  const out: Array<[string, number[]]> = [];
  let i = 0;
  if (projection === 'conv') out.push([`main.${i++}.weight`, [nz, ngf * mult, 4, 4]]);
  else {
    out.push([`main.${i++}.weight`, [ngf * mult * 16, nz]]);
    i++; // Unflatten
  }
  batchNorm(out, `main.${i++}`, ngf * mult);
  i++; // ReLU
  for (let b = 0; b < blocks; b++) {
    out.push([`main.${i++}.weight`, [ngf * mult, ngf * (mult / 2), 4, 4]]);
    batchNorm(out, `main.${i++}`, ngf * (mult / 2));
    i++;
    mult /= 2;
  }
  out.push([`main.${i}.weight`, [ngf, channels, 4, 4]]);
  return out;
}

/** Names and shapes of the discriminator's state dict for a config (as DcganDiscriminator builds it). */
export function discriminatorShapes(config: DcganConfig): Array<[string, number[]]> {
  const { imageSize, channels, ndf } = config;
  const blocks = hiddenBlocks(imageSize);
  const out: Array<[string, number[]]> = [['main.0.weight', [ndf, channels, 4, 4]]];
  let i = 2;
  let mult = 1;
  for (let b = 0; b < blocks; b++) {
    out.push([`main.${i++}.weight`, [ndf * mult * 2, ndf * mult, 4, 4]]);
    batchNorm(out, `main.${i++}`, ndf * mult * 2);
    i++;
    mult *= 2;
  }
  out.push([`main.${i}.weight`, [1, ndf * mult, 4, 4]]);
  return out;
}

function summary(list: Array<[string, readonly number[]]>): string {
  if (list.length === 0) return 'no tensors';
  const shown = list.slice(0, 4).map(([k, s]) => `${k} [${s.join(', ')}]`).join(', ');
  return `${list.length} tensors: ${shown}${list.length > 4 ? ', …' : ''}`;
}

/** Layer weights `main.<i>.weight` of rank 2 or 4, by layer index. */
function layerWeights(list: Array<[string, readonly number[]]>): Array<{ index: number; shape: readonly number[] }> {
  const out: Array<{ index: number; shape: readonly number[] }> = [];
  for (const [k, s] of list) {
    const m = /^main\.(\d+)\.weight$/.exec(k);
    if (m !== null && (s.length === 4 || s.length === 2)) out.push({ index: Number(m[1]), shape: s });
  }
  return out.sort((a, b) => a.index - b.index);
}

function check(label: string, source: string, list: Array<[string, readonly number[]]>, expected: Array<[string, number[]]>, config: DcganConfig): void {
  const have = new Map(list);
  const problems: string[] = [];
  for (const [k, s] of expected) {
    const got = have.get(k);
    if (got === undefined) problems.push(`${k} is missing`);
    else if (got.length !== s.length || got.some((v, j) => v !== s[j])) problems.push(`${k} is [${got.join(', ')}], expected [${s.join(', ')}]`);
    have.delete(k);
  }
  for (const k of have.keys()) problems.push(`${k} is unexpected`);
  if (problems.length > 0) {
    const c = `${config.imageSize}×${config.imageSize}×${config.channels}, nz ${config.nz}, ngf ${config.ngf}, ndf ${config.ndf}, ${config.projection} projection`;
    throw new DcganInferenceError(`${source}: not a DCGAN ${label} this toolkit understands: read as ${c}, but ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}; found ${summary(list)}`);
  }
}

function notDcgan(source: string, label: string, list: Array<[string, readonly number[]]>, why: string): never {
  throw new DcganInferenceError(`${source}: not a DCGAN ${label} this toolkit understands (${why}); found ${summary(list)}`);
}

interface GeneratorPart {
  imageSize: number;
  channels: number;
  nz: number;
  ngf: number;
  projection: Projection;
}

function readGenerator(list: Array<[string, readonly number[]]>, source: string): GeneratorPart {
  const weights = layerWeights(list);
  const first = weights[0];
  const last = weights[weights.length - 1];
  if (first === undefined || last === undefined || first.index !== 0 || weights.length < 2) {
    notDcgan(source, 'generator', list, "expected layer weights 'main.0.weight' … with 2 or 4 dimensions");
  }
  const projection: Projection = first.shape.length === 4 ? 'conv' : 'linear';
  const nz = projection === 'conv' ? first.shape[0]! : first.shape[1]!;
  const blocks = weights.length - 2;
  const [ngf, channels] = [last.shape[0]!, last.shape[1]!];
  if (last.shape.length !== 4) notDcgan(source, 'generator', list, 'its last layer is not a transposed convolution');
  return { imageSize: 2 ** (blocks + 3), channels, nz, ngf, projection };
}

function readDiscriminator(list: Array<[string, readonly number[]]>, source: string): { imageSize: number; channels: number; ndf: number } {
  const weights = layerWeights(list);
  const first = weights[0];
  if (first === undefined || first.index !== 0 || first.shape.length !== 4 || weights.length < 2) {
    notDcgan(source, 'discriminator', list, "expected convolution weights 'main.0.weight' … with 4 dimensions");
  }
  return { imageSize: 2 ** (weights.length - 2 + 3), channels: first.shape[1]!, ndf: first.shape[0]! };
}

function resolve(source: string, label: string, list: Array<[string, readonly number[]]>, config: Partial<DcganConfig>): DcganConfig {
  try {
    return resolveDcganConfig(config);
  } catch (error) {
    return notDcgan(source, label, list, error instanceof Error ? error.message : String(error));
  }
}

export interface InferSources {
  /** Names the generator's file in errors. */
  generatorSource?: string;
  discriminatorSource?: string;
}

/**
 * Infers the DcganConfig from a generator and/or discriminator state dict (`module.` prefixes
 * already removed), and checks every name and shape against it. With only one network the
 * other's width is taken equal (ndf = ngf or ngf = ndf); nz needs the generator (100 without
 * it). Throws DcganInferenceError naming what was found.
 */
export function inferDcganConfig(netG: ShapeDict | undefined, netD?: ShapeDict, sources: InferSources = {}): DcganConfig {
  const gSource = sources.generatorSource ?? 'the generator state dict';
  const dSource = sources.discriminatorSource ?? 'the discriminator state dict';
  if (netG === undefined && netD === undefined) throw new DcganInferenceError('inferDcganConfig: give a generator or a discriminator state dict');
  const gList = netG === undefined ? undefined : entries(netG);
  const dList = netD === undefined ? undefined : entries(netD);
  const g = gList === undefined ? undefined : readGenerator(gList, gSource);
  const d = dList === undefined ? undefined : readDiscriminator(dList, dSource);
  if (g !== undefined && d !== undefined && (g.imageSize !== d.imageSize || g.channels !== d.channels)) {
    throw new DcganInferenceError(
      `${gSource} and ${dSource} do not belong together: the generator makes ${g.imageSize}×${g.imageSize}×${g.channels} images, the discriminator takes ${d.imageSize}×${d.imageSize}×${d.channels}`,
    );
  }
  const partial: Partial<DcganConfig> = {
    imageSize: g?.imageSize ?? d!.imageSize,
    channels: (g?.channels ?? d!.channels) as 1 | 3,
    nz: g?.nz ?? 100,
    ngf: g?.ngf ?? d!.ndf,
    ndf: d?.ndf ?? g!.ngf,
    projection: g?.projection ?? 'conv',
  };
  const config = resolve(g !== undefined ? gSource : dSource, g !== undefined ? 'generator' : 'discriminator', (gList ?? dList)!, partial);
  if (gList !== undefined) check('generator', gSource, gList, generatorShapes(config), config);
  if (dList !== undefined) check('discriminator', dSource, dList, discriminatorShapes(config), config);
  return config;
}
