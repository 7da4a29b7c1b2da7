/**
 * End to end: `dcgan train`, `dcgan sample` and `dcgan interpolate` run as a user runs them,
 * on tiny settings (16×16 shapes, ngf = ndf = 8, batch 4, a few steps). The command runs from
 * the sources (test/dcgan-from-source.ts), so no build is needed to run this file alone.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import '../src/index.js';
import { decodeSafetensors } from '../src/io/index.js';
import { loadCheckpoint } from '../src/train/index.js';

const entry = fileURLToPath(new URL('./dcgan-from-source.ts', import.meta.url));
// The tsx loader by absolute URL: the commands run in a temporary folder, outside this package.
const tsx = import.meta.resolve('tsx');
const work = mkdtempSync(join(tmpdir(), 'dcgan-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function dcgan(...args: string[]): Run {
  const result = spawnSync(process.execPath, ['--import', tsx, entry, ...args], {
    cwd: work,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, DCGAN_DEBUG: '', NO_COLOR: '1' },
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/** A user error: non-zero status, exactly one line on stderr matching `message`, no stack trace. */
function assertOneLineError(run: Run, message: RegExp, status?: number): void {
  assert.notEqual(run.status, 0, `expected a failure:\n${run.stdout}\n${run.stderr}`);
  if (status !== undefined) assert.equal(run.status, status, run.stderr);
  const errLines = lines(run.stderr);
  assert.equal(errLines.length, 1, `expected one line on stderr, got:\n${run.stderr}`);
  assert.match(errLines[0]!, /^dcgan: /);
  assert.match(errLines[0]!, message);
  assert.ok(!/^\s+at /m.test(run.stderr + run.stdout), 'no stack trace');
}

function pngSize(path: string): [number, number] {
  const png = PNG.sync.read(readFileSync(path));
  return [png.width, png.height];
}

/** torchvision make_grid size for n images of side s, nrow per row, padding 2. */
function gridSize(n: number, side: number, nrow = 8): [number, number] {
  const cols = Math.min(n, nrow);
  return [cols * (side + 2) + 2, Math.ceil(n / cols) * (side + 2) + 2];
}

const TINY = ['--image-size', '16', '--ngf', '8', '--ndf', '8', '--nz', '16', '--batch-size', '4', '--threads', '1'];

interface JsonEvent {
  event: string;
  step?: number;
  status?: string;
  [key: string]: unknown;
}

describe('dcgan train end to end', () => {
  const run1 = join(work, 'run1');
  let first: Run;

  test('a 4-step run on 16×16 shapes writes every output file', () => {
    first = dcgan('train', ...TINY, '--steps', '4', '--sample-every', '2', '--checkpoint-every', '2', '--out', run1, '--json', '--log-every', '1');
    assert.equal(first.status, 0, first.stderr);
    const events = lines(first.stdout).map((l) => JSON.parse(l) as JsonEvent);
    assert.equal(events[0]!.event, 'start');
    assert.deepEqual(events.filter((e) => e.event === 'step').map((e) => e.step), [1, 2, 3, 4]);
    assert.equal(events.at(-1)!.event, 'end');
    assert.equal(events.at(-1)!.status, 'completed');

    const config = JSON.parse(readFileSync(join(run1, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config['imageSize'], 16);
    assert.equal(config['steps'], 4);
    assert.equal(config['data'], 'shapes');

    // 64 fixed-noise samples per grid: 8 × 8 cells of 16 px with 2 px padding.
    assert.deepEqual(pngSize(join(run1, 'real_samples.png')), gridSize(64, 16));
    for (const step of ['000000', '000002', '000004']) assert.deepEqual(pngSize(join(run1, 'samples', `step_${step}.png`)), gridSize(64, 16));
    assert.deepEqual(pngSize(join(run1, 'final_samples.png')), gridSize(64, 16));
    const [w, h] = pngSize(join(run1, 'loss.png'));
    assert.ok(w > 300 && h > 150);
    assert.match(readFileSync(join(run1, 'loss.svg'), 'utf8'), /^<svg/);

    const metrics = lines(readFileSync(join(run1, 'metrics.jsonl'), 'utf8')).map((l) => JSON.parse(l) as Record<string, number>);
    assert.deepEqual(metrics.map((m) => m['step']), [1, 2, 3, 4]);
    for (const m of metrics) {
      for (const key of ['epoch', 'lossD', 'lossG', 'D_x', 'D_G_z1', 'D_G_z2', 'imagesPerSec', 'time']) assert.equal(typeof m[key], 'number', key);
    }

    const checkpoint = loadCheckpoint(join(run1, 'checkpoint.safetensors'));
    assert.equal(checkpoint.step, 4);
    assert.deepEqual(checkpoint.model, { imageSize: 16, channels: 3, nz: 16, ngf: 8, ndf: 8, projection: 'conv' });

    const html = readFileSync(join(run1, 'report.html'), 'utf8');
    for (const src of ['samples/step_000002.png', 'samples/step_000004.png', 'final_samples.png', 'real_samples.png']) assert.ok(html.includes(`src="${src}"`), src);
    assert.match(html, /<svg/);
    for (const [, src] of html.matchAll(/(?:src|href)="([^"]+)"/g)) assert.ok(existsSync(join(run1, src!)), `report links a missing file: ${src}`);
  });

  test('dcgan sample reloads the checkpoint: a grid, individual images, same seed → same bytes', () => {
    const out = join(work, 'grid.png');
    const run = dcgan('sample', '--checkpoint', join(run1, 'checkpoint.safetensors'), '--n', '5', '--seed', '7', '--out', out, '--individual', join(work, 'each'));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /wrote .*grid\.png: 5 samples of 3×16×16 from step 4 \(seed 7\)/);
    assert.deepEqual(pngSize(out), gridSize(5, 16));
    const each = readdirSync(join(work, 'each')).sort();
    assert.deepEqual(each, ['sample_000.png', 'sample_001.png', 'sample_002.png', 'sample_003.png', 'sample_004.png']);
    assert.deepEqual(pngSize(join(work, 'each', each[0]!)), [16, 16]);
    const bytes = readFileSync(out);
    const again = dcgan('sample', '--checkpoint', run1, '--n', '5', '--seed', '7', '--out', join(work, 'grid2.png'), '--json');
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { out: join(work, 'grid2.png'), n: 5, seed: 7, imageSize: 16, channels: 3, step: 4, weights: 'raw', class: null, individual: null });
    assert.deepEqual(readFileSync(join(work, 'grid2.png')), bytes);
  });

  test('dcgan interpolate writes rows × steps walks (slerp)', () => {
    const out = join(work, 'strip.png');
    const run = dcgan('interpolate', '--checkpoint', run1, '--steps', '5', '--rows', '2', '--slerp', '--seed', '3', '--out', out);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /2 walks × 5 images \(slerp, seed 3\)/);
    assert.deepEqual(pngSize(out), gridSize(10, 16, 5));
  });

  test('--resume continues to --steps, bitwise equal to a straight run', () => {
    const straight = join(work, 'straight6');
    const a = dcgan('train', ...TINY, '--steps', '6', '--sample-every', '2', '--checkpoint-every', '2', '--out', straight);
    assert.equal(a.status, 0, a.stderr);
    const b = dcgan('train', '--resume', run1, '--steps', '6', '--threads', '1');
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout, /resuming at step 4/);
    const metrics = lines(readFileSync(join(run1, 'metrics.jsonl'), 'utf8')).map((l) => JSON.parse(l) as { step: number });
    assert.deepEqual(metrics.map((m) => m.step), [1, 2, 3, 4, 5, 6]);
    const fa = decodeSafetensors(readFileSync(join(straight, 'checkpoint.safetensors')));
    const fb = decodeSafetensors(readFileSync(join(run1, 'checkpoint.safetensors')));
    assert.equal(fb.metadata['step'], '6');
    for (const [name, t] of fa.tensors) assert.deepEqual(fb.tensors.get(name)!.data, t.data, name);
    assert.equal(fb.metadata['rng'], fa.metadata['rng']);
    assert.equal(fb.metadata['loader'], fa.metadata['loader']);
  });

  test('--resume with flags that contradict the checkpoint names the differing settings', () => {
    assertOneLineError(dcgan('train', '--resume', run1, '--image-size', '32', '--ngf', '16', '--steps', '8'), /was trained with other settings: imageSize \(checkpoint 16, requested 32\); ngf \(checkpoint 8, requested 16\)/, 2);
    assertOneLineError(dcgan('train', '--resume', run1, '--steps', '3'), /already at step 6 of 3/);
    assertOneLineError(dcgan('train', '--resume', join(work, 'nowhere')), /checkpoint not found: .*nowhere/);
    assertOneLineError(dcgan('train', '--out', run1, ...TINY, '--steps', '2'), /already holds a run .* --resume/);
  });

  test('--epochs counts passes over an image folder', () => {
    const folder = join(work, 'pictures');
    mkdirSync(folder);
    for (let i = 0; i < 8; i++) {
      const png = new PNG({ width: 20, height: 20 });
      png.data.fill(i * 30);
      for (let p = 3; p < png.data.length; p += 4) png.data[p] = 255;
      writeFileSync(join(folder, `img${i}.png`), PNG.sync.write(png));
    }
    const out = join(work, 'folder-run');
    const run = dcgan('train', ...TINY, '--data', folder, '--epochs', '2', '--sample-every', '0', '--out', out, '--json');
    assert.equal(run.status, 0, run.stderr);
    const end = JSON.parse(lines(run.stdout).at(-1)!) as JsonEvent;
    assert.equal(end.step, 4, '8 images / batch 4 = 2 steps per epoch');
    assert.equal(end.epoch, 1);
    assert.deepEqual(pngSize(join(out, 'real_samples.png')), gridSize(8, 16));
  });
});

describe('dcgan train stops cleanly', () => {
  test('SIGINT after the first progress line: checkpoint written, exit 130', async () => {
    const out = join(work, 'interrupted');
    const child = spawn(process.execPath, ['--import', tsx, entry, 'train', ...TINY, '--steps', '100000', '--log-every', '1000', '--json', '--out', out], {
      cwd: work,
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`timed out; stdout:\n${stdout}\nstderr:\n${stderr}`));
      }, 90_000);
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (!signalled && lines(stdout).some((l) => (JSON.parse(l) as JsonEvent).event === 'step')) {
          signalled = true;
          child.kill('SIGINT');
        }
      });
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.equal(code, 130, stderr);
    const end = JSON.parse(lines(stdout).at(-1)!) as JsonEvent;
    assert.equal(end.event, 'end');
    assert.equal(end.status, 'interrupted');
    const checkpoint = loadCheckpoint(join(out, 'checkpoint.safetensors'));
    assert.equal(checkpoint.step, end.step);
    assert.ok(checkpoint.step >= 1);
    assert.ok(existsSync(join(out, 'report.html')));
    assert.ok(!/^\s+at /m.test(stderr));
  });

  test('a diverging run (huge learning rate) stops with one line and a non-zero status', () => {
    const run = dcgan('train', ...TINY, '--lr', '1e30', '--steps', '50', '--sample-every', '0', '--out', join(work, 'diverged'), '--json');
    assertOneLineError(run, /training diverged (at|by) step \d+: .*(NaN|Infinity|non-finite)/, 1);
  });
});

describe('dcgan user errors: one line, non-zero status, no stack trace', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown flag', ['train', '--no-such-flag'], /unknown option '--no-such-flag'/],
    ['image size not a power of two', ['train', '--image-size', '48'], /image size must be a power of two between 16 and 256, got 48/],
    ['channels', ['train', '--channels', '2'], /--channels must be 1 or 3, got '2'/],
    ['learning rate', ['train', '--lr', 'fast'], /--lr must be a positive number, got 'fast'/],
    ['steps', ['train', '--steps', '0'], /--steps must be an integer ≥ 1, got '0'/],
    ['projection', ['train', '--projection', 'dense'], /--projection must be conv or linear, got 'dense'/],
    ['steps and epochs', ['train', '--steps', '3', '--epochs', '2'], /cannot be used with/],
    ['unknown dataset', ['train', '--data', 'no-such-data', '--out', 'x'], /unknown dataset "no-such-data"/],
    ['unknown backend', ['train', '--backend', 'cuda'], /--backend must be one of .*js.*, got 'cuda'/],
    ['sample without --checkpoint', ['sample'], /required option '--checkpoint/],
    ['missing checkpoint', ['sample', '--checkpoint', 'missing.safetensors'], /checkpoint not found: missing\.safetensors/],
    ['sample --out not a png', ['sample', '--checkpoint', 'x', '--out', 'grid.jpg'], /--out must be a \.png file/],
    ['interpolate --steps 1', ['interpolate', '--checkpoint', 'x', '--steps', '1'], /--steps must be an integer ≥ 2/],
  ];
  for (const [what, args, message] of cases) {
    test(what, () => assertOneLineError(dcgan(...args), message));
  }

  test('corrupt checkpoint', () => {
    const bad = join(work, 'corrupt.safetensors');
    writeFileSync(bad, Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 123, 34]));
    assertOneLineError(dcgan('sample', '--checkpoint', bad), /corrupt\.safetensors is not a valid safetensors file: the header claims 200 bytes/);
    assertOneLineError(dcgan('interpolate', '--checkpoint', bad), /is not a valid safetensors file/);
  });

  test('--help lists the commands, each command its flags', () => {
    const help = dcgan('--help');
    assert.equal(help.status, 0);
    for (const name of ['train', 'sample', 'interpolate', 'explain']) assert.match(help.stdout, new RegExp(`^\\s+${name}\\b`, 'm'));
    const trainHelp = dcgan('train', '--help').stdout;
    for (const flag of ['--data', '--data-root', '--image-size', '--channels', '--nz', '--ngf', '--ndf', '--batch-size', '--lr', '--beta1', '--steps', '--epochs', '--seed', '--label-smoothing', '--backend', '--threads', '--sample-every', '--checkpoint-every', '--out', '--json', '--resume', '--projection']) {
      assert.ok(trainHelp.includes(flag), flag);
    }
  });
});
