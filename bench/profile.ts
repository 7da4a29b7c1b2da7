/**
 * Per-layer, per-pass profile of the DCGAN training step's convolutions (ours; the PyTorch
 * twin is bench/peers/pytorch_profile.py, and bench/profile-compare.ts puts them side by side):
 *
 *   node --import tsx bench/profile.ts --backend native --threads 2 --image-size 64 --channels 3 --batch 64 --repeats 5
 *
 * For every ConvTranspose2d of G and Conv2d of D, at the input shape that layer sees in a step,
 * it times forward, backward-data (dx only) and backward-filter (dW only) separately, and the
 * BatchNorm + activation that follows (forward and backward together). Each is warmed up once,
 * then the median of --repeats is taken. Then the whole step (benchmarkTrainingStep), so the
 * per-step weighted sum of the passes can be held against it. One JSON object on stdout.
 * (bench/profile-compare.ts imports only this file's types, so running main() on load is safe.)
 */
import {
  conv2d, convTranspose2d, getBackend, getBackendName, nn, noGrad, randn, setBackend, setThreads, tensor, tidy, uniform,
  Generator, type Pair, type Tensor,
} from '../src/index.js';
import { benchmarkTrainingStep } from '../src/bench/training-step.js';
import type { ConvGeometry, DirectConvPass } from '../src/kernels/backend.js';
import { planConv2d, planConvTranspose2d } from '../src/ops/conv.js';
import { convolutionChoices, type ConvolutionChoice } from '../src/ops/conv-algorithm.js';
import { dcganDiscriminator, dcganGenerator, type DcganConfig } from '../src/models/dcgan.js';
import { median, parseFlags } from './util.js';

export type PassName = 'forward' | 'backwardData' | 'backwardFilter' | 'bnAct';
export type PassTimes = { forward: number; backwardData: number; backwardFilter: number; bnAct?: number };

export interface LayerProfile {
  net: 'G' | 'D';
  /** Position in net.main (PyTorch's main.<index>). */
  index: number;
  kind: 'convT' | 'conv';
  inShape: number[];
  outShape: number[];
  weightShape: number[];
  stride: number;
  padding: number;
  /** What follows the convolution up to the next one ('bn+relu', 'leakyrelu', 'tanh', …; '' if nothing); timed as bnAct. */
  post: string;
  /** Median milliseconds of one pass. */
  passes: PassTimes;
  /** How many times one training step runs each pass of this layer. */
  perStep: PassTimes;
  /** PyTorch's JSON only: the aten kernel of its forward (e.g. aten::mkldnn_convolution). */
  implementation?: string;
  /** Native backend with oneDNN: the direct implementation oneDNN has for the forward and backward-data passes (null: none). */
  direct?: { forward: string | null; backwardData: string | null };
}

export interface ProfileReport {
  backend: string;
  /** PyTorch's JSON only. */
  version?: string;
  threads: number;
  /** Native backend: when oneDNN's direct convolutions replace im2col + GEMM (DCGAN_DIRECT_CONV), and oneDNN's version. */
  directConv?: { mode: string; library: string | null };
  config: { imageSize: number; channels: number; batch: number; nz: number; ngf: number; ndf: number; projection: 'conv'; repeats: number; stepWarmup: number };
  layers: LayerProfile[];
  /** Ours only: the algorithm timed for each convolution pass (DCGAN_DIRECT_CONV=auto), with the times. */
  convolutionChoices?: ConvolutionChoice[];
  /** Median of a whole training step (D real + D fake + G, Adam on both). */
  stepMs: number;
  /** Σ perStep × ms over every layer and pass, bnAct included. */
  stepEstimateMs: number;
  /** The same sum over the three convolution passes only. */
  convEstimateMs: number;
  note: string;
}

/**
 * Per-step multiplicities (see the step in src/bench/training-step.ts). D runs three times
 * (real, detached fake, fake for G's loss), each with a backward: its weights need dW in
 * the two D passes (it is frozen in G's, src/train/step.ts), and every layer after the first needs dx because its input depends on D's earlier weights;
 * only the first layer's input (an image) needs dx just once, in the G pass where fake requires grad.
 * G runs forward and backward once; its first layer's input is noise, which needs no dx.
 */
function perStepCounts(net: 'G' | 'D', position: number, hasPost: boolean): PassTimes {
  const counts: PassTimes =
    net === 'D'
      ? { forward: 3, backwardData: position === 0 ? 1 : 3, backwardFilter: 2 }
      : { forward: 1, backwardData: position === 0 ? 0 : 1, backwardFilter: 1 };
  if (hasPost) counts.bnAct = counts.forward;
  return counts;
}

function estimateMs(layers: readonly LayerProfile[], passes: readonly PassName[]): number {
  let total = 0;
  for (const layer of layers) {
    for (const pass of passes) total += (layer.perStep[pass] ?? 0) * (layer.passes[pass] ?? 0);
  }
  return total;
}

type ConvModule = nn.Conv2d | nn.ConvTranspose2d;

interface ConvSite {
  net: 'G' | 'D';
  index: number;
  /** 0 for the net's first convolution, 1 for the next, … */
  position: number;
  conv: ConvModule;
  post: nn.Module[];
  inShape: number[];
  outShape: number[];
}

function postLabel(post: readonly nn.Module[]): string {
  const name = (m: nn.Module): string =>
    m instanceof nn.BatchNorm2d ? 'bn' : m instanceof nn.LeakyReLU ? 'leakyrelu' : m instanceof nn.ReLU ? 'relu' : m instanceof nn.Tanh ? 'tanh' : m.constructor.name.toLowerCase();
  return post.map(name).join('+');
}

/** Runs `input` through the net's layers once (no grad) to learn the shape each convolution sees. */
function findConvSites(net: 'G' | 'D', layers: readonly nn.Module[], input: Tensor): ConvSite[] {
  return tidy(() =>
    noGrad(() => {
      const sites: ConvSite[] = [];
      let x = input;
      layers.forEach((layer, index) => {
        const y = layer.forward(x);
        if (layer instanceof nn.Conv2d || layer instanceof nn.ConvTranspose2d) {
          sites.push({ net, index, position: sites.length, conv: layer, post: [], inShape: [...x.shape], outShape: [...y.shape] });
        } else {
          sites[sites.length - 1]?.post.push(layer);
        }
        x = y;
      });
      return sites;
    }),
  );
}

function firstOf(p: Pair | undefined, fallback: number): number {
  return p === undefined ? fallback : typeof p === 'number' ? p : p[0];
}

/** Warm-up once, then the median of `repeats`; each repetition in its own tidy so memory stays flat. */
function medianMs(repeats: number, timeOnce: () => number): number {
  tidy(timeOnce);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push(tidy(timeOnce));
  return +median(times).toFixed(3);
}

/** Leaf gradients outlive tidy; dropping them keeps every repetition the same (a fresh .grad each time). */
function clearGrads(tensors: readonly Tensor[]): void {
  for (const t of tensors) {
    t.grad?.dispose();
    t.grad = null;
  }
}

function profileSite(site: ConvSite, repeats: number, generator: Generator): LayerProfile {
  const { conv } = site;
  const stride = firstOf(conv.options.stride, 1);
  const padding = firstOf(conv.options.padding, 0);
  const isTransposed = conv instanceof nn.ConvTranspose2d;
  // The op alone, as the layer calls it (DCGAN's convolutions have no bias).
  const run = (x: Tensor, w: Tensor): Tensor => (isTransposed ? convTranspose2d(x, w, null, { stride, padding }) : conv2d(x, w, null, { stride, padding }));

  return tidy(() => {
    const x = randn(site.inShape, { generator });
    const w = tensor(conv.weight.data, conv.weight.shape);
    const dy = randn(site.outShape, { generator });

    const forward = medianMs(repeats, () => {
      x.requiresGrad = false;
      w.requiresGrad = false;
      const t0 = performance.now();
      noGrad(() => run(x, w));
      return performance.now() - t0;
    });
    // Only y.backward(dy) is timed; the forward that builds the graph is not.
    const timeBackward = (inputNeedsGrad: boolean): number =>
      medianMs(repeats, () => {
        x.requiresGrad = inputNeedsGrad;
        w.requiresGrad = !inputNeedsGrad;
        const y = run(x, w);
        const t0 = performance.now();
        y.backward(dy);
        const elapsed = performance.now() - t0;
        clearGrads([x, w]);
        return elapsed;
      });
    const backwardData = timeBackward(true);
    const backwardFilter = timeBackward(false);
    const passes: PassTimes = { forward, backwardData, backwardFilter };

    if (site.post.length > 0) {
      // The real BatchNorm (training mode, running statistics move) and activation modules of the net.
      const postParams = site.post.flatMap((m) => m.parameters());
      const h = randn(site.outShape, { generator });
      h.requiresGrad = true;
      passes.bnAct = medianMs(repeats, () => {
        const t0 = performance.now();
        const out = site.post.reduce<Tensor>((acc, m) => m.forward(acc), h);
        out.backward(dy);
        const elapsed = performance.now() - t0;
        clearGrads([h, ...postParams]);
        return elapsed;
      });
    }

    // Which direct implementation oneDNN offers for the two passes it can take (conv: forward = C·x;
    // transposed conv: forward = Cᵀ·x), where the backend has one.
    const backend = getBackend() as { directConvImpl?: (pass: DirectConvPass, g: ConvGeometry, k: number) => string | null };
    let direct: LayerProfile['direct'];
    if (backend.directConvImpl !== undefined) {
      const options = { stride, padding };
      const [g, k] = isTransposed
        ? (({ geometry, inChannels }) => [geometry, inChannels] as const)(planConvTranspose2d(site.inShape, conv.weight.shape, options))
        : (({ geometry, outChannels }) => [geometry, outChannels] as const)(planConv2d(site.inShape, conv.weight.shape, options));
      const forwardPass: DirectConvPass = isTransposed ? 'adjoint' : 'convolve';
      const dataPass: DirectConvPass = isTransposed ? 'convolve' : 'adjoint';
      direct = { forward: backend.directConvImpl(forwardPass, g, k), backwardData: backend.directConvImpl(dataPass, g, k) };
    }

    return {
      net: site.net,
      index: site.index,
      kind: isTransposed ? 'convT' : 'conv',
      inShape: site.inShape,
      outShape: site.outShape,
      weightShape: [...conv.weight.shape],
      stride,
      padding,
      post: postLabel(site.post),
      passes,
      perStep: perStepCounts(site.net, site.position, site.post.length > 0),
      ...(direct === undefined ? {} : { direct }),
    };
  });
}

function main(): void {
  const flags = parseFlags(process.argv.slice(2));
  // Without --backend: the default (the fastest that starts here), as the CLI does.
  if (flags['backend'] !== undefined) setBackend(flags['backend']);
  const threads = Number(flags['threads'] ?? 2);
  setThreads(threads);
  const imageSize = Number(flags['image-size'] ?? 64);
  const channels = Number(flags['channels'] ?? 3) as 1 | 3;
  const batch = Number(flags['batch'] ?? 64);
  const repeats = Number(flags['repeats'] ?? 5);
  const stepWarmup = Number(flags['step-warmup'] ?? 2);
  const config: DcganConfig = {
    imageSize,
    channels,
    nz: Number(flags['nz'] ?? 100),
    ngf: Number(flags['ngf'] ?? 64),
    ndf: Number(flags['ndf'] ?? 64),
    projection: 'conv',
  };

  const generator = new Generator(0);
  const netG = dcganGenerator(config, { generator });
  const netD = dcganDiscriminator(config, { generator });
  const sites = [
    ...findConvSites('G', netG.main.layers, randn([batch, config.nz, 1, 1], { generator })),
    ...findConvSites('D', netD.main.layers, uniform([batch, channels, imageSize, imageSize], -1, 1, { generator })),
  ];

  const layers: LayerProfile[] = [];
  for (const site of sites) {
    process.stderr.write(`profile: ${site.net}.main.${site.index} ${site.inShape.join('×')} → ${site.outShape.join('×')}…\n`);
    layers.push(profileSite(site, repeats, generator));
  }
  process.stderr.write('profile: whole training step…\n');
  const step = benchmarkTrainingStep({ imageSize, channels, batch, nz: config.nz, ngf: config.ngf, ndf: config.ndf, steps: repeats, warmup: stepWarmup });

  const report: ProfileReport = {
    backend: getBackendName(),
    threads: getBackend().threads ?? 1,
    ...directConvReport(),
    config: { imageSize, channels, batch, nz: config.nz, ngf: config.ngf, ndf: config.ndf, projection: 'conv', repeats, stepWarmup },
    layers,
    convolutionChoices: convolutionChoices(),
    stepMs: step.stepMs,
    stepEstimateMs: +estimateMs(layers, ['forward', 'backwardData', 'backwardFilter', 'bnAct']).toFixed(1),
    convEstimateMs: +estimateMs(layers, ['forward', 'backwardData', 'backwardFilter']).toFixed(1),
    note:
      'ms are medians after one warm-up. forward under noGrad; backwardData/backwardFilter time only y.backward(dy) with only x / only w requiring grad ' +
      '(includes creating the leaf .grad); bnAct = the following BatchNorm (training) and activation, forward + backward. ' +
      'perStep: D forward 3, dW 2 (frozen in the G pass), dx 3 (first layer 1); G forward 1, dW 1, dx 1 (first layer 0). ' +
      'stepEstimateMs = sum of perStep x ms; the step also has losses, Adam, graph bookkeeping and the G noise draw.',
  };
  console.log(JSON.stringify(report));
}

/** The native backend's direct-convolution mode and oneDNN's version, where it has them. */
function directConvReport(): Pick<ProfileReport, 'directConv'> {
  const backend = getBackend() as { directConv?: string; library?: { directConv?: string } };
  return backend.directConv === undefined ? {} : { directConv: { mode: backend.directConv, library: backend.library?.directConv ?? null } };
}

main();
