/**
 * `npm run bench:profile`: the per-layer, per-pass convolution profile of the DCGAN training
 * step, ours (bench/profile.ts) next to PyTorch's (bench/peers/pytorch_profile.py), run one
 * after the other in processes of their own. A Markdown table on stderr, the combined JSON on stdout.
 *
 *   node --import tsx bench/profile-compare.ts [--threads 2] [--image-size 64 --channels 3 --batch 64] [--repeats 5]
 *     [--backend native] [--nz 100 --ngf 64 --ndf 64] [--step-warmup 2] [--no-peer]
 */
// Types only: importing bench/profile.ts itself would run the profile.
import type { LayerProfile, PassName, ProfileReport } from './profile.js';
import { parseFlags, PEER_ENV, peerAvailable, runJson } from './util.js';

const flags = parseFlags(process.argv.slice(2));
const PASSES: readonly PassName[] = ['forward', 'backwardData', 'backwardFilter', 'bnAct'];
const PASS_LABELS: Record<PassName, string> = { forward: 'forward', backwardData: 'backward-data', backwardFilter: 'backward-filter', bnAct: 'bn+act' };

/** Flags both sides take, with the defaults of the brief's 64×64×3 batch-64 run. */
function sharedArgs(): string[] {
  const defaults: Record<string, string | undefined> = {
    threads: '2', 'image-size': '64', channels: '3', batch: '64', repeats: '5', nz: undefined, ngf: undefined, ndf: undefined, 'step-warmup': undefined,
  };
  return Object.entries(defaults).flatMap(([name, fallback]) => {
    const value = flags[name] ?? fallback;
    return value === undefined ? [] : [`--${name}`, value];
  });
}

function ms(v: number | undefined): string {
  if (v === undefined) return '—';
  return v.toFixed(v < 1 ? 3 : v < 100 ? 2 : 1);
}

function ratio(ours: number | undefined, peer: number | undefined): string {
  return ours === undefined || peer === undefined || peer === 0 ? '—' : (ours / peer).toFixed(2);
}

const shape = (s: readonly number[]): string => s.join('×');

/** Σ perStep × ms over the given layers and passes. */
function weighted(layers: readonly LayerProfile[], passes: readonly PassName[]): number {
  let total = 0;
  for (const layer of layers) for (const pass of passes) total += (layer.perStep[pass] ?? 0) * (layer.passes[pass] ?? 0);
  return total;
}

interface TotalRow {
  part: string;
  oursMs: number;
  pytorchMs: number | null;
  ratio: number | null;
}

function main(): void {
  const shared = sharedArgs();
  const oursArgs = ['--import', 'tsx', 'bench/profile.ts', ...shared, ...(flags['backend'] ? ['--backend', flags['backend']] : [])];
  process.stderr.write(`profile-compare: ours (node ${oursArgs.slice(2).join(' ')})\n`);
  const ours = runJson<ProfileReport>(process.execPath, oursArgs, process.env, true);

  let peer: ProfileReport | null = null;
  if (peerAvailable(flags)) {
    process.stderr.write(`profile-compare: PyTorch (bench/peers/pytorch_profile.py ${shared.join(' ')})\n`);
    peer = runJson<ProfileReport>('/usr/bin/python3', ['bench/peers/pytorch_profile.py', ...shared], PEER_ENV, true);
  } else {
    process.stderr.write('profile-compare: PyTorch peer not available (apt-get install python3-torch libopenblas0-openmp); ours only\n');
  }
  const peerLayer = (layer: LayerProfile): LayerProfile | undefined => {
    const match = peer?.layers.find((p) => p.net === layer.net && p.index === layer.index);
    if (match !== undefined && shape(match.inShape) !== shape(layer.inShape)) {
      throw new Error(`profile-compare: ${layer.net}.main.${layer.index} sees ${shape(layer.inShape)} here but ${shape(match.inShape)} in PyTorch`);
    }
    return match;
  };

  const c = ours.config;
  const out: string[] = [];
  out.push(
    `\n### Convolution passes of one DCGAN training step: ${c.imageSize}×${c.imageSize}×${c.channels}, batch ${c.batch}, ngf ${c.ngf}, ndf ${c.ndf}, ` +
      `ours ${ours.backend} / ${peer ? `PyTorch ${peer.version ?? ''}` : 'no PyTorch'}, ${ours.threads} thread(s), median of ${c.repeats}\n`,
  );
  out.push('| layer | shapes (in → out, weight) | pass | ×/step | ours ms | PyTorch ms | ours/PyTorch | PyTorch kernel |');
  out.push('| --- | --- | --- | ---: | ---: | ---: | ---: | --- |');
  for (const layer of ours.layers) {
    const theirs = peerLayer(layer);
    let first = true;
    for (const pass of PASSES) {
      const mine = layer.passes[pass];
      if (mine === undefined) continue;
      const head = first
        ? `${layer.net}.main.${layer.index} ${layer.kind} | ${shape(layer.inShape)} → ${shape(layer.outShape)}, w ${shape(layer.weightShape)} (s${layer.stride} p${layer.padding})`
        : ' | ';
      const label = pass === 'bnAct' ? layer.post : PASS_LABELS[pass];
      out.push(`| ${head} | ${label} | ${layer.perStep[pass] ?? 0} | ${ms(mine)} | ${ms(theirs?.passes[pass])} | ${ratio(mine, theirs?.passes[pass])} | ${first ? (theirs?.implementation ?? '') : ''} |`);
      first = false;
    }
  }

  // Per-net sums weighted by how often a step runs each pass, then against the measured step.
  const totals: TotalRow[] = [];
  const addTotal = (part: string, oursMs: number, pytorchMs: number | null): void => {
    totals.push({ part, oursMs: +oursMs.toFixed(3), pytorchMs: pytorchMs === null ? null : +pytorchMs.toFixed(3), ratio: pytorchMs ? +(oursMs / pytorchMs).toFixed(2) : null });
  };
  for (const net of ['G', 'D'] as const) {
    const mine = ours.layers.filter((l) => l.net === net);
    const theirs = peer?.layers.filter((l) => l.net === net) ?? null;
    for (const pass of PASSES) addTotal(`${net} ${PASS_LABELS[pass]}`, weighted(mine, [pass]), theirs && weighted(theirs, [pass]));
    addTotal(`**${net} all passes**`, weighted(mine, PASSES), theirs && weighted(theirs, PASSES));
  }
  const convPasses = PASSES.filter((p) => p !== 'bnAct');
  addTotal('**convolutions, both nets (estimate)**', weighted(ours.layers, convPasses), peer && weighted(peer.layers, convPasses));
  addTotal('**all passes, both nets (estimate)**', weighted(ours.layers, PASSES), peer && weighted(peer.layers, PASSES));
  addTotal('**measured training step**', ours.stepMs, peer && peer.stepMs);
  addTotal('step − estimate (losses, Adam, bookkeeping)', ours.stepMs - weighted(ours.layers, PASSES), peer && peer.stepMs - weighted(peer.layers, PASSES));

  const share = (r: ProfileReport | null, passes: readonly PassName[]): string => (r ? `${((100 * weighted(r.layers, passes)) / r.stepMs).toFixed(0)}%` : '—');
  out.push('\n### Per step (Σ ×/step × ms)\n');
  out.push('| part | ours ms | PyTorch ms | ours/PyTorch |');
  out.push('| --- | ---: | ---: | ---: |');
  for (const t of totals) out.push(`| ${t.part} | ${ms(t.oursMs)} | ${t.pytorchMs === null ? '—' : ms(t.pytorchMs)} | ${t.ratio ?? '—'} |`);
  out.push(
    `\nThe convolution passes explain ${share(ours, convPasses)} of our measured step (${share(peer, convPasses)} of PyTorch's); ` +
      `with bn+act ${share(ours, PASSES)} (${share(peer, PASSES)}).\n`,
  );
  process.stderr.write(out.join('\n') + '\n');
  console.log(JSON.stringify({ ours, pytorch: peer, totals }));
}

main();
