import { setBackend, setThreads } from '../src/index.js';
import { openDataset } from '../src/data/index.js';
import { loadFeatureExtractor } from '../src/eval/extractor.js';
import { evaluateGenerator } from '../src/eval/evaluate.js';
import { randn } from '../src/ops/create.js';
import { Generator } from '../src/tensor/random.js';
import { tidy } from '../src/tensor/scope.js';
import { noGrad } from '../src/autograd/mode.js';
import { generate } from '../src/train/trainer.js';
import { openModelSource, samplingGenerator } from '../src/cli/model-source.js';
import { BatchNorm2d } from '../src/nn/batchnorm.js';
import type { DcganGenerator } from '../src/models/dcgan.js';

setBackend('native'); setThreads(2);
const [path, raw, mode] = process.argv.slice(2);
const source = openModelSource(path!);
const { netG } = samplingGenerator(source, raw === 'raw');
const real = await openDataset('fashion-mnist', { imageSize: 32, channels: 1 });
const extractor = await loadFeatureExtractor('fashion-mnist', { imageSize: 32, channels: 1, dataset: real });
const nz = 100;
const g = netG as DcganGenerator;
const bns = [...g.namedModules()].map(([, m]) => m).filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
if (mode!.startsWith('standing')) {
  const batches = Number(mode!.split(':')[1] ?? 50), size = Number(mode!.split(':')[2] ?? 64);
  for (const bn of bns) { (bn as { momentum: number | null }).momentum = null; bn.numBatchesTracked!.data[0] = 0; bn.runningMean!.data.fill(0); bn.runningVar!.data.fill(1); }
  const rng = new Generator(123);
  g.train(true);
  for (let i = 0; i < batches; i++) tidy(() => noGrad(() => { g.forward(randn([size, nz, 1, 1], { generator: rng })); }));
  g.eval();
}
const rng = new Generator(0);
const sample = (count: number): Float32Array => tidy(() => {
  if (mode!.startsWith('train')) {
    const size = Number(mode!.split(':')[1] ?? 64);
    const out = new Float32Array(count * 32 * 32);
    g.train(true);
    for (let s = 0; s < count; s += size) {
      const c = Math.min(size, count - s);
      const imgs = noGrad(() => g.forward(randn([c, nz, 1, 1], { generator: rng })));
      out.set(imgs.data, s * 1024);
    }
    g.eval();
    return out;
  }
  return Float32Array.from(generate(g, randn([count, nz, 1, 1], { generator: rng })).data);
});
const report = evaluateGenerator(extractor, real, { n: 10000, batchSize: 250, seed: 0, sample });
console.log(JSON.stringify({ path, raw, mode, fid: report.fid_local.toFixed(3), kid: report.kid_local.mean.toFixed(4), p: report.precision_local, r: report.recall_local }));
