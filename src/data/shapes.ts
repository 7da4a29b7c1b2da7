/**
 * The built-in `shapes` dataset: one filled circle, square or triangle per image, of varied
 * size, position, rotation and colour, on a plain background chosen to contrast with it (also
 * in grey: the two colours' BT.601 lumas differ by at least MIN_LUMA_CONTRAST).
 *
 * Image i depends only on (seed, i): its parameters come from a Generator seeded with a hash
 * of both, so any index can be read in any order and reads are reproducible. Geometry is in
 * fractions of the side, so an index shows the same picture at every image size. Edges are
 * anti-aliased by 4×4 supersampling, done only for pixels a signed-distance bound says the
 * edge may cross. Only + − × ÷ and sqrt are used (sines and cosines come from the
 * generator's IEEE-exact detCosSin2Pi), so the pixels are the same on every platform.
 */
import { detCosSin2Pi, Generator } from '../tensor/random.js';
import { checkChannels, checkImageSize, checkRead, DatasetError, luma, mixSeed, type LabelledDataset } from './common.js';

export type ShapeKind = 'circle' | 'square' | 'triangle';

export const SHAPE_KINDS: readonly ShapeKind[] = ['circle', 'square', 'triangle'];

/** One image's parameters. Positions and sizes are fractions of the image side. */
export interface ShapeSpec {
  readonly kind: ShapeKind;
  /** Centre. */
  readonly cx: number;
  readonly cy: number;
  /** Circumradius (the circle's radius; the distance from centre to corner for polygons). */
  readonly radius: number;
  /** Rotation in turns (fractions of a full turn). */
  readonly rotation: number;
  /** RGB in [0, 1]. */
  readonly color: readonly [number, number, number];
  readonly background: readonly [number, number, number];
}

export interface ShapesOptions {
  imageSize: number;
  channels: 1 | 3;
  seed?: number;
  /** Number of images (default 60000). */
  length?: number;
  /**
   * Turn squares and triangles to random angles. Off by default: axis-aligned squares and
   * upright triangles are what a small DCGAN learns to draw recognisably within minutes.
   */
  rotate?: boolean;
}

export const SHAPES_DEFAULT_LENGTH = 60000;
export const MIN_RADIUS = 0.25;
export const MAX_RADIUS = 0.45;
export const MIN_LUMA_CONTRAST = 0.3;
/**
 * Rotations (in turns) that put an edge normal straight down: a square with axis-aligned
 * sides and a triangle with a flat base and its apex up (image y grows downwards).
 */
const UPRIGHT = { square: 0.125, triangle: 1 / 12 } as const;

const SUPERSAMPLE = 4;
/** Half the diagonal of a pixel: a pixel whose centre is further than this from the edge is not crossed by it. */
const HALF_DIAGONAL = 0.7072;
/** Apothem / circumradius of a regular n-gon: cos(π/n). */
const APOTHEM_RATIO: Record<'square' | 'triangle', number> = { square: Math.SQRT1_2, triangle: 0.5 };
const SIDES: Record<'square' | 'triangle', number> = { square: 4, triangle: 3 };

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const h6 = (h - Math.floor(h)) * 6;
  const sector = Math.floor(h6) % 6;
  const f = h6 - Math.floor(h6);
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  switch (sector) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

function lumaOf(c: readonly [number, number, number]): number {
  return luma(c[0], c[1], c[2]);
}

export class ShapesDataset implements LabelledDataset {
  readonly name = 'shapes';
  /** Labels: 0 circle, 1 square, 2 triangle (the order of SHAPE_KINDS). */
  readonly classes: readonly string[] = SHAPE_KINDS;
  readonly length: number;
  readonly channels: 1 | 3;
  readonly imageSize: number;
  readonly seed: number;
  /** Whether squares and triangles are turned to random angles (see ShapesOptions.rotate). */
  readonly rotate: boolean;
  private readonly coverage: Float32Array;

  constructor(options: ShapesOptions) {
    this.imageSize = checkImageSize(options.imageSize);
    this.channels = checkChannels(options.channels);
    this.rotate = options.rotate ?? false;
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new DatasetError(`shapes: seed must be a finite number, got ${String(seed)}`);
    this.seed = seed;
    const length = options.length ?? SHAPES_DEFAULT_LENGTH;
    if (!Number.isInteger(length) || length < 1) {
      throw new DatasetError(`shapes: length must be a positive integer, got ${String(length)}`);
    }
    this.length = length;
    this.coverage = new Float32Array(this.imageSize * this.imageSize);
  }

  /** The parameters of image `index` (what read() draws). */
  shapeAt(index: number): ShapeSpec {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`shapes: image index ${index} is out of range [0, ${this.length})`);
    }
    const rng = new Generator(mixSeed(this.seed, index));
    const kind = SHAPE_KINDS[Math.min(2, Math.floor(rng.nextFloat() * 3))]!;
    const radius = MIN_RADIUS + (MAX_RADIUS - MIN_RADIUS) * rng.nextFloat();
    // Keep the whole circumcircle inside the image.
    const cx = radius + (1 - 2 * radius) * rng.nextFloat();
    const cy = radius + (1 - 2 * radius) * rng.nextFloat();
    // A square looks the same every quarter turn, a triangle every third.
    const period = kind === 'square' ? 0.25 : kind === 'triangle' ? 1 / 3 : 1;
    const spin = rng.nextFloat(); // drawn either way, so the other parameters do not depend on `rotate`
    const rotation = kind === 'circle' ? 0 : this.rotate ? period * spin : UPRIGHT[kind];
    // Background: a muted colour, dark or light; shape: a saturated colour of contrasting luma.
    const dark = rng.nextFloat() < 0.5;
    const bgValue = dark ? 0.05 + 0.35 * rng.nextFloat() : 0.6 + 0.35 * rng.nextFloat();
    const background = hsvToRgb(rng.nextFloat(), 0.4 * rng.nextFloat(), bgValue);
    const bgLuma = lumaOf(background);
    let color: [number, number, number] | null = null;
    for (let attempt = 0; attempt < 32 && color === null; attempt++) {
      const value = dark ? 0.65 + 0.35 * rng.nextFloat() : 0.05 + 0.45 * rng.nextFloat();
      const candidate = hsvToRgb(rng.nextFloat(), 0.5 + 0.5 * rng.nextFloat(), value);
      if (Math.abs(lumaOf(candidate) - bgLuma) >= MIN_LUMA_CONTRAST) color = candidate;
    }
    color ??= bgLuma < 0.5 ? [1, 1, 1] : [0, 0, 0];
    return { kind, cx, cy, radius, rotation, color, background };
  }

  label(index: number): number {
    return SHAPE_KINDS.indexOf(this.shapeAt(index).kind);
  }

  read(index: number, out: Float32Array, offset = 0): void {
    checkRead(this, index, out, offset);
    const spec = this.shapeAt(index);
    const cov = this.coverage;
    renderCoverage(spec, this.imageSize, cov);
    const plane = this.imageSize * this.imageSize;
    const planes: Array<[number, number]> =
      this.channels === 1
        ? [[lumaOf(spec.background), lumaOf(spec.color)]]
        : [0, 1, 2].map((c) => [spec.background[c]!, spec.color[c]!]);
    planes.forEach(([bg, fg], c) => {
      const base = offset + c * plane;
      for (let i = 0; i < plane; i++) {
        const v = 2 * (bg + cov[i]! * (fg - bg)) - 1;
        out[base + i] = v < -1 ? -1 : v > 1 ? 1 : v;
      }
    });
  }
}

/** Fills `out` (size×size) with the fraction of each pixel the shape covers, in [0, 1]. */
export function renderCoverage(spec: ShapeSpec, size: number, out: Float32Array): void {
  out.fill(0);
  const cx = spec.cx * size;
  const cy = spec.cy * size;
  const r = spec.radius * size;
  // Outward edge normals and the apothem for polygons: inside ⇔ every (p − c)·n ≤ apothem.
  let normals: Float64Array | null = null;
  let apothem = 0;
  if (spec.kind !== 'circle') {
    const n = SIDES[spec.kind];
    apothem = r * APOTHEM_RATIO[spec.kind];
    normals = new Float64Array(2 * n);
    for (let k = 0; k < n; k++) {
      let u = spec.rotation + (k + 0.5) / n;
      u -= Math.floor(u);
      const [c, s] = detCosSin2Pi(u);
      normals[2 * k] = c;
      normals[2 * k + 1] = s;
    }
  }
  // A lower bound on the signed distance to the edge (exact for the circle and inside polygons).
  const distance = (px: number, py: number): number => {
    const dx = px - cx;
    const dy = py - cy;
    if (normals === null) return Math.sqrt(dx * dx + dy * dy) - r;
    let d = -Infinity;
    for (let k = 0; k < normals.length; k += 2) {
      const e = dx * normals[k]! + dy * normals[k + 1]! - apothem;
      if (e > d) d = e;
    }
    return d;
  };
  const x0 = Math.max(0, Math.floor(cx - r) - 1);
  const x1 = Math.min(size - 1, Math.ceil(cx + r) + 1);
  const y0 = Math.max(0, Math.floor(cy - r) - 1);
  const y1 = Math.min(size - 1, Math.ceil(cy + r) + 1);
  const samples = SUPERSAMPLE * SUPERSAMPLE;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const d = distance(x + 0.5, y + 0.5);
      let c: number;
      if (d <= -HALF_DIAGONAL) c = 1;
      else if (d >= HALF_DIAGONAL) c = 0;
      else {
        let inside = 0;
        for (let sy = 0; sy < SUPERSAMPLE; sy++) {
          for (let sx = 0; sx < SUPERSAMPLE; sx++) {
            if (distance(x + (sx + 0.5) / SUPERSAMPLE, y + (sy + 0.5) / SUPERSAMPLE) <= 0) inside++;
          }
        }
        c = inside / samples;
      }
      out[y * size + x] = c;
    }
  }
}
