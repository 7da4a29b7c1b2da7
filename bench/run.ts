/**
 * `npm run bench`: GEMM throughput, then the DCGAN training step and generator inference
 * (64×64×3 and 32×32×1, batch 64) for our fast backends at 1 and 2 threads, side by side in
 * the same run with PyTorch (bench/peers/pytorch_dcgan.py) when python3-torch is installed.
 * Every measurement runs in a process of its own, one at a time. Prints one JSON object.
 *
 *   npm run bench [-- --quick] [-- --no-peer]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseFlags } from './util.js';

const flags = parseFlags(process.argv.slice(2));
const quick = flags['quick'] === 'true';
const root = fileURLToPath(new URL('..', import.meta.url));
const OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-openmp';
const configs = [
  { imageSize: 64, channels: 3, batch: 64 },
  { imageSize: 32, channels: 1, batch: 64 },
];
const threadCounts = [1, 2];
const steps = quick ? 2 : 5;

function runJson(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const result = spawnSync(command, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr.trim().split('\n').slice(-3).join(' ')}`);
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

function peerAvailable(): boolean {
  if (flags['no-peer'] === 'true' || !existsSync('/usr/bin/python3')) return false;
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { env: { ...process.env, LD_LIBRARY_PATH: OPENBLAS } });
  return probe.status === 0;
}

const tsx = ['--import', 'tsx'];
const report: Record<string, unknown> = {
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
  command: `npm run bench${quick ? ' -- --quick' : ''}`,
};
process.stderr.write('bench: GEMM…\n');
report['gemm'] = runJson(process.execPath, [...tsx, 'bench/gemm.ts', '--repeats', String(steps)])['results'];

const withPeer = peerAvailable();
if (!withPeer) process.stderr.write('bench: PyTorch peer not available (apt-get install python3-torch libopenblas0-openmp); ours only\n');
const rows: Array<Record<string, unknown>> = [];
for (const c of configs) {
  const args = ['--image-size', String(c.imageSize), '--channels', String(c.channels), '--batch', String(c.batch), '--steps', String(steps)];
  const ours: Record<string, unknown>[] = [];
  const peer: Record<string, unknown>[] = [];
  for (const threads of threadCounts) {
    process.stderr.write(`bench: ${c.imageSize}×${c.imageSize}×${c.channels} batch ${c.batch}, ${threads} thread(s)…\n`);
    ours.push(runJson(process.execPath, [...tsx, 'bench/step.ts', '--backend', 'wasm', '--threads', String(threads), ...args]));
    if (withPeer) {
      peer.push(runJson('/usr/bin/python3', ['bench/peers/pytorch_dcgan.py', '--threads', String(threads), '--batch', String(c.batch), '--image-size', String(c.imageSize), '--channels', String(c.channels), '--steps', String(steps)], { ...process.env, LD_LIBRARY_PATH: OPENBLAS }));
    }
  }
  const best = <T extends Record<string, unknown>>(list: T[], key: string): T | undefined =>
    list.reduce<T | undefined>((b, r) => (b === undefined || (r[key] as number) < (b[key] as number) ? r : b), undefined);
  const oursBest = best(ours, 'stepMs')!;
  const peerBest = best(peer, 'stepMs');
  const oursInfer = best(ours, 'inferenceMs')!;
  const peerInfer = best(peer, 'inferenceMs');
  rows.push({
    config: `${c.imageSize}x${c.imageSize}x${c.channels} batch ${c.batch}`,
    ours,
    peer,
    headline: {
      oursStepMs: oursBest['stepMs'],
      peerStepMs: peerBest?.['stepMs'] ?? null,
      stepRatioOursOverPeer: peerBest ? +((oursBest['stepMs'] as number) / (peerBest['stepMs'] as number)).toFixed(2) : null,
      inferenceRatioOursOverPeer: peerInfer ? +((oursInfer['inferenceMs'] as number) / (peerInfer['inferenceMs'] as number)).toFixed(2) : null,
      oursPeakRssMiB: oursBest['peakRssMiB'],
      peerPeakRssMiB: peerBest?.['peakRssMiB'] ?? null,
    },
  });
}
report['dcgan'] = rows;
try {
  report['commit'] = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
} catch {
  // not a git checkout
}
console.log(JSON.stringify(report, null, 2));
