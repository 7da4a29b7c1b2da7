/**
 * How the BatchNorm statistics a generator samples with change its local FID: a checkpoint's
 * generator (its average, or --raw-weights) or a PyTorch netG.pth, evaluated on Fashion-MNIST
 * 32×32×1 as `dcgan eval` does (10 000 samples, seed 0), sampling
 *   --mode stored        in eval mode with the running statistics the file holds;
 *   --mode recompute:B   in eval mode after recomputing them over B batches of 64 noise images;
 *   --mode batch:S       in train mode, each batch of S images normalised by its own statistics
 *                        (what pytorch/examples' main.py does when it draws its grids).
 *
 *   node --import tsx bench/sampling-statistics.ts --checkpoint runs/x [--raw-weights] --mode recompute:16 [--threads 2]
 *
 * Prints one JSON line.
 */
import { setBackend, setThreads } from '../src/index.js';
import { noGrad } from '../src/autograd/mode.js';
import { openModelSource, samplingGenerator } from '../src/cli/model-source.js';
import { openDataset } from '../src/data/index.js';
import { evaluateGenerator } from '../src/eval/evaluate.js';
import { loadFeatureExtractor } from '../src/eval/extractor.js';
import type { DcganGenerator } from '../src/models/dcgan.js';
import { recomputeBatchNormStatistics } from '../src/nn/batchnorm.js';
import { randn } from '../src/ops/create.js';
import { Generator } from '../src/tensor/random.js';
import { tidy } from '../src/tensor/scope.js';
import { generate } from '../src/train/trainer.js';
import { parseFlags } from './util.js';

const flags = parseFlags(process.argv.slice(2));
setBackend(flags['backend'] ?? 'native');
setThreads(Number(flags['threads'] ?? 2));
const checkpoint = flags['checkpoint'];
if (checkpoint === undefined) throw new Error('--checkpoint is required');
const mode = flags['mode'] ?? 'stored';
const [kind, arg] = mode.split(':');
if (!['stored', 'recompute', 'batch'].includes(kind!)) throw new Error(`--mode is stored, recompute:B or batch:S, got ${mode}`);
const n = Number(flags['n'] ?? 10000);

const source = openModelSource(checkpoint);
const { netG, weights } = samplingGenerator(source, flags['raw-weights'] !== undefined);
const g = netG as DcganGenerator;
const { nz, imageSize, channels } = g.config;
const real = await openDataset('fashion-mnist', { imageSize, channels });
const extractor = await loadFeatureExtractor('fashion-mnist', { imageSize, channels, dataset: real });

if (kind === 'recompute') {
  const noise = new Generator(123);
  recomputeBatchNormStatistics(g, Number(arg ?? 16), () => tidy(() => void g.forward(randn([64, nz, 1, 1], { generator: noise }))));
}
const rng = new Generator(0);
const per = channels * imageSize * imageSize;
const sample = (count: number): Float32Array =>
  tidy(() => {
    if (kind !== 'batch') return Float32Array.from(generate(g, randn([count, nz, 1, 1], { generator: rng })).data);
    const size = Number(arg ?? 64);
    const out = new Float32Array(count * per);
    g.train(true);
    for (let start = 0; start < count; start += size) {
      const c = Math.min(size, count - start);
      out.set(noGrad(() => g.forward(randn([c, nz, 1, 1], { generator: rng }))).data, start * per);
    }
    g.eval();
    return out;
  });
const report = evaluateGenerator(extractor, real, { n, batchSize: 250, seed: 0, sample });
console.log(JSON.stringify({ checkpoint, weights, mode, fid_local: report.fid_local, kid_local: report.kid_local.mean, precision_local: report.precision_local, recall_local: report.recall_local, feature_extractor: report.feature_extractor.id }));
