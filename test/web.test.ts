/**
 * `dcgan serve` and the web app (dist/web, built by `npm run build`):
 * - the server's refusals, with node's HTTP client: path traversal (`..`, `%2e%2e`, absolute
 *   paths, a symbolic link out of the run folder), wrong Host and Origin, other methods; and the
 *   isolation headers on every response;
 * - the pages in Debian's headless Chromium (playwright-core, never `playwright install`):
 *   the explorer's pixels equal the Node generator's for the same z within 1/255, its
 *   interpolation and vector arithmetic give the expected z and images, on the wasm backend
 *   with threads in a cross-origin isolated page; the dashboard follows a growing
 *   metrics.jsonl; the explainer's numbers equal `dcgan explain --json`'s; no console errors.
 * Screenshots go to test-results/web/. Skips the browser part without Chromium.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromiumMissing, launchChromium } from './chromium.js';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../src/cli/serve.js';
import { Generator, models, noGrad, optim, randn, tensor, tidy } from '../src/index.js';
import { loadCheckpoint, loadNetworks, saveCheckpoint } from '../src/train/checkpoint.js';
import { saveImageGrid } from '../src/io/png.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SHOTS = join(ROOT, 'test-results', 'web');
const MODEL = { imageSize: 16, channels: 3, nz: 8, ngf: 4, ndf: 4, projection: 'conv' } as const;

/** A small run folder: config, a few metrics lines, grids, and a checkpoint of an untrained tiny model. */
function makeRun(dir: string): void {
  mkdirSync(join(dir, 'samples'), { recursive: true });
  const config = { ...MODEL, data: 'shapes', batchSize: 8, lr: 0.0002, beta1: 0.5, beta2: 0.999, labelSmoothing: 0.1, seed: 0, steps: 100 };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  tidy(() => {
    const netG = models.dcganGenerator(MODEL, { seed: 3 });
    const netD = models.dcganDiscriminator(MODEL, { seed: 4 });
    // Non-trivial BatchNorm statistics, so eval mode matters, and weights large enough that
    // the images span the whole range (DCGAN's N(0, 0.02) start gives near-grey images).
    for (const [name, t] of Object.entries(netG.stateDict())) {
      if (name.endsWith('.weight') && t.ndim === 4) t.data.forEach((v, i) => (t.data[i] = v * 8));
      if (name.endsWith('running_mean')) t.data.forEach((_, i) => (t.data[i] = 0.1 * Math.sin(i)));
      if (name.endsWith('running_var')) t.data.forEach((_, i) => (t.data[i] = 0.5 + 0.25 * Math.cos(i) ** 2));
    }
    const fixedNoise = randn([16, MODEL.nz, 1, 1], { generator: new Generator(9) });
    saveCheckpoint(join(dir, 'checkpoint.safetensors'), {
      config,
      netG,
      netD,
      optG: new optim.Adam(netG.parameters(), { lr: 0.0002, betas: [0.5, 0.999] }),
      optD: new optim.Adam(netD.parameters(), { lr: 0.0002, betas: [0.5, 0.999] }),
      step: 20,
      epoch: 0,
      elapsedSeconds: 1,
      loader: { epoch: 0, batchIndex: 20, seed: 0 },
      rng: new Generator(0).getState(),
      fixedNoise,
    });
    for (const step of [0, 10, 20]) {
      const images = noGrad(() => netG.eval().forward(fixedNoise));
      saveImageGrid(join(dir, 'samples', `step_${String(step).padStart(6, '0')}.png`), images);
    }
  });
  writeFileSync(join(dir, 'metrics.jsonl'), Array.from({ length: 20 }, (_, i) => metricsLine(i + 1)).join(''));
}

function metricsLine(step: number): string {
  return JSON.stringify({ step, epoch: 0, lossD: 1.4 - step / 100, lossG: 0.7 + step / 200, D_x: 0.5 + step / 400, D_G_z1: 0.5 - step / 400, D_G_z2: 0.49 - step / 400, imagesPerSec: 400 + step, time: step / 10 }) + '\n';
}

/** The Node generator's bytes for the given z (and class, for a conditional one): the CLI's PNG quantisation, RGBA. */
function nodeImages(checkpointFile: string, z: number[][], label?: number): Uint8ClampedArray {
  return tidy(() => {
    const checkpoint = loadCheckpoint(checkpointFile);
    const netG = new models.DcganGenerator(checkpoint.model);
    loadNetworks(checkpoint, netG);
    netG.eval();
    const { nz, imageSize: s, channels } = checkpoint.model;
    const labels = label === undefined ? undefined : z.map(() => label);
    const images = noGrad(() => netG.forward(tensor(Float32Array.from(z.flat()), [z.length, nz, 1, 1]), labels)).data;
    const out = new Uint8ClampedArray(z.length * s * s * 4);
    const byte = (v: number): number => Math.min(255, Math.max(0, Math.floor(((v + 1) / 2) * 255 + 0.5)));
    for (let n = 0; n < z.length; n++) {
      for (let p = 0; p < s * s; p++) {
        for (let c = 0; c < 3; c++) out[(n * s * s + p) * 4 + c] = byte(images[(n * channels + (channels === 1 ? 0 : c)) * s * s + p]!);
        out[(n * s * s + p) * 4 + 3] = 255;
      }
    }
    return out;
  });
}

function maxByteDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'pixel arrays differ in length');
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function closeVectors(actual: number[], expected: ArrayLike<number>, what: string, tolerance = 1e-6): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tolerance, `${what}[${i}] = ${v}, expected ${expected[i]}`));
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request: the path goes out exactly as written (no URL normalisation). */
function get(url: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const built = existsSync(join(ROOT, 'dist/web/index.html'));

describe('dcgan serve: what it refuses', { skip: built ? false : 'dist/web is not built: run `npm run build`' }, () => {
  let dir: string;
  let server: RunningServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dcgan-serve-'));
    const run = join(dir, 'run');
    makeRun(run);
    writeFileSync(join(dir, 'secret.png'), 'SECRET-OUTSIDE-THE-RUN');
    symlinkSync(join(dir, 'secret.png'), join(run, 'link.png'));
    symlinkSync(dir, join(run, 'samples', 'up'));
    server = await startServer({ run, port: 0 });
  });

  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the isolation headers on every response, errors included', async () => {
    for (const path of ['/', '/api/run', '/run/config.json', '/no-such-file', '/run/../x']) {
      const reply = await get(server.url, path);
      assert.equal(reply.headers['cross-origin-opener-policy'], 'same-origin', path);
      assert.equal(reply.headers['cross-origin-embedder-policy'], 'require-corp', path);
      assert.equal(reply.headers['cross-origin-resource-policy'], 'same-origin', path);
    }
    assert.equal((await get(server.url, '/')).status, 200);
    assert.equal((await get(server.url, '/run/samples/step_000010.png')).status, 200);
    assert.equal((await get(server.url, '/run/checkpoint.safetensors')).status, 200);
    assert.equal((await get(server.url, '/no-such-file')).status, 404);
    const api = JSON.parse((await get(server.url, '/api/run')).body) as { metrics: unknown[]; samples: string[]; config: { nz: number } };
    assert.equal(api.metrics.length, 20);
    assert.deepEqual(api.samples, ['samples/step_000000.png', 'samples/step_000010.png', 'samples/step_000020.png']);
    assert.equal(api.config.nz, MODEL.nz);
  });

  it('refuses path traversal: .., %2e%2e, absolute paths, symbolic links out of the folder', async () => {
    const attempts = [
      '/run/../secret.png',
      '/run/samples/../../secret.png',
      '/run/%2e%2e/secret.png',
      '/run/%2E%2E%2Fsecret.png',
      '/run/samples/%2e%2e/%2e%2e/secret.png',
      '/run/..%5csecret.png',
      '/run//etc/passwd',
      '/run/%2fetc%2fpasswd',
      '/run/link.png',
      '/run/samples/up/secret.png',
      '/../package.json',
      '/%2e%2e/package.json',
      '/assets/..%2f..%2f..%2fpackage.json',
      '//etc/passwd',
      '/run/%00config.json',
    ];
    for (const path of attempts) {
      const reply = await get(server.url, path);
      assert.ok(reply.status === 403 || reply.status === 400, `${path}: status ${reply.status}`);
      assert.ok(!reply.body.includes('SECRET') && !reply.body.includes('root:') && !reply.body.includes('"devDependencies"'), `${path} leaked a file`);
    }
    // Only run files: not report.html (not a run file type), not the absolute path of a real file.
    assert.equal((await get(server.url, '/run/report.html')).status, 403);
    assert.notEqual((await get(server.url, `/run/${encodeURIComponent(join(dir, 'secret.png'))}`)).status, 200);
  });

  it('--checkpoint serves that one file as /run/checkpoint.safetensors and nothing else', async () => {
    const single = await startServer({ checkpoint: join(dir, 'run', 'checkpoint.safetensors'), port: 0 });
    try {
      const api = JSON.parse((await get(single.url, '/api/run')).body) as { mode: string; checkpoint: boolean };
      assert.deepEqual([api.mode, api.checkpoint], ['checkpoint', true]);
      const file = await get(single.url, '/run/checkpoint.safetensors');
      assert.equal(file.status, 200);
      assert.equal(file.headers['cross-origin-embedder-policy'], 'require-corp');
      for (const path of ['/run/config.json', '/run/metrics.jsonl', '/run/../checkpoint.safetensors']) assert.notEqual((await get(single.url, path)).status, 200, path);
    } finally {
      await single.close();
    }
  });

  it('refuses a wrong Host, a foreign Origin and other methods', async () => {
    const { host } = new URL(server.url);
    assert.equal((await get(server.url, '/', { host: 'evil.example' })).status, 403);
    assert.equal((await get(server.url, '/api/run', { host: `evil.example:${new URL(server.url).port}` })).status, 403);
    assert.equal((await get(server.url, '/api/run', { origin: 'http://evil.example' })).status, 403);
    assert.equal((await get(server.url, '/api/events', { origin: 'null' })).status, 403);
    assert.equal((await get(server.url, '/api/run', { origin: `http://${host}` })).status, 200);
    assert.equal((await get(server.url, '/api/run', { host: `localhost:${new URL(server.url).port}` })).status, 200);
    assert.equal((await get(server.url, '/api/run', {}, 'POST')).status, 405);
    assert.equal((await get(server.url, '/run/config.json', {}, 'DELETE')).status, 405);
  });
});

describe('dcgan serve: the command', { skip: built && existsSync(join(ROOT, 'dist/cli/serve.js')) ? false : 'not built: run `npm run build`' }, () => {
  it('prints its URL, serves, and stops on SIGINT; a missing run folder is a one-line error', { timeout: 60000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcgan-serve-cli-'));
    try {
      makeRun(dir);
      const child = spawn(process.execPath, ['bin/dcgan.js', 'serve', '--run', dir, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${stdout}`)), 30000);
        child.stdout.on('data', () => {
          const match = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout);
          if (match !== null) {
            clearTimeout(timer);
            resolve(match[0]);
          }
        });
      });
      const reply = await get(url, '/api/run');
      assert.equal(reply.status, 200);
      assert.equal((JSON.parse(reply.body) as { metrics: unknown[] }).metrics.length, 20);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      const missing = spawnSync(process.execPath, ['bin/dcgan.js', 'serve', '--run', join(dir, 'nope'), '--port', '0'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /^dcgan: --run .*nope is not a folder\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const skipBrowser = !built ? 'dist/web is not built: run `npm run build`' : chromiumMissing;

describe('the web app in headless Chromium', { skip: skipBrowser }, () => {
  let dir: string;
  let run: string;
  let server: RunningServer;
  let browser: Browser;
  const consoleProblems: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dcgan-web-'));
    run = join(dir, 'run');
    makeRun(run);
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer({ run, port: 0, pollMs: 150 });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(hash: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleProblems.push(`${hash}: console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleProblems.push(`${hash}: page error: ${e.message}`));
    await page.goto(`${server.url}#${hash}`);
    return page;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- page state, read loosely by the test
  type Win = { __dcgan: any };

  /** Controls without an accessible name (a <label>, aria-label/labelledby, or text). */
  async function unlabelled(page: Page): Promise<string[]> {
    return page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLElement>('input, select, button, textarea'))
        .filter((el) => {
          if (el.closest('[hidden]') !== null) return false;
          const labels = (el as HTMLInputElement).labels;
          const named = (labels !== null && labels.length > 0) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || (el.tagName === 'BUTTON' && el.textContent!.trim() !== '');
          return !named;
        })
        .map((el) => el.outerHTML.slice(0, 120)),
    );
  }

  it('explorer: the wasm backend with threads draws the Node generator’s pixels; interpolation and arithmetic', { timeout: 180000 }, async (t) => {
    const page = await open('explorer');
    try {
      await page.waitForFunction(() => (window as unknown as Win).__dcgan.explorer?.ready === true && !(window as unknown as Win).__dcgan.explorer.busy, undefined, { timeout: 60000 });
      const info = await page.evaluate(() => {
        const s = (window as unknown as Win).__dcgan.explorer;
        return { isolated: crossOriginIsolated, engine: s.engine, seed: s.seed, z: s.z as number[][], error: s.error };
      });
      t.diagnostic(JSON.stringify(info.engine));
      assert.equal(info.error, null);
      assert.equal(info.isolated, true);
      assert.equal(info.engine.backend, 'wasm');
      assert.ok(info.engine.threads > 1, `threads: ${info.engine.threads}`);
      // The grid's z comes from the engine's seeded generator, the same numbers in Node.
      const expectedZ = new Generator(info.seed).fillNormal(new Float32Array(info.z.length * MODEL.nz));
      closeVectors(info.z.flat(), expectedZ, 'grid z', 0);

      const tilePixels = (): Promise<number[]> =>
        page.evaluate(() => Array.from(document.querySelectorAll<HTMLCanvasElement>('#explorer .tile canvas')).flatMap((c) => [...c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data]));
      const checkpointFile = join(run, 'checkpoint.safetensors');
      const expectedGrid = nodeImages(checkpointFile, info.z);
      const spread = Math.max(...expectedGrid) - Math.min(...expectedGrid.filter((_, i) => i % 4 !== 3));
      assert.ok(spread > 200, `the test images span ${spread} grey levels: too flat to compare`);
      const gridDiff = maxByteDiff(await tilePixels(), expectedGrid);
      t.diagnostic(`grid: max byte difference ${gridDiff}`);
      assert.ok(gridDiff <= 1, `grid pixels differ by ${gridDiff}/255`);

      // Interpolation ends: samples 0 and 3 (keyboard: focus and Enter on the second).
      const waitIdle = (renders: number): Promise<unknown> =>
        page.waitForFunction((r) => { const s = (window as unknown as Win).__dcgan.explorer; return s.renders > r && !s.busy; }, renders, { timeout: 30000 });
      const renders = (): Promise<number> => page.evaluate(() => (window as unknown as Win).__dcgan.explorer.renders as number);
      let r = await renders();
      await page.click('#explorer .tile[data-index="0"]');
      await waitIdle(r);
      r = await renders();
      await page.focus('#explorer .tile[data-index="3"]');
      await page.keyboard.press('Enter');
      await waitIdle(r);
      const stripPixels = (): Promise<number[]> =>
        page.evaluate(() => {
          const c = document.querySelector<HTMLCanvasElement>('#interp-strip')!;
          const ctx = c.getContext('2d')!;
          const out: number[] = [];
          for (let i = 0; i < c.width / c.height; i++) out.push(...ctx.getImageData(i * c.height, 0, c.height, c.height).data);
          return out;
        });
      for (const mode of ['spherical', 'linear'] as const) {
        if (mode === 'linear') {
          r = await renders();
          await page.check('input[name="interp-mode"][value="linear"]');
          await waitIdle(r);
        }
        const interp = await page.evaluate(() => (window as unknown as Win).__dcgan.explorer.interpolation as { mode: string; steps: number; z: number[][] });
        assert.equal(interp.mode, mode);
        const mix = mode === 'spherical' ? models.slerp : models.lerp;
        interp.z.forEach((z, s) => closeVectors(z, mix(info.z[0]!, info.z[3]!, s / (interp.steps - 1)), `${mode} step ${s}`));
        const diff = maxByteDiff(await stripPixels(), nodeImages(checkpointFile, interp.z));
        assert.ok(diff <= 1, `${mode} strip differs by ${diff}/255`);
      }

      // Vector arithmetic: A = {1}, B = {2}, C = {5, 6}.
      for (const [group, indices] of [['A', [1]], ['B', [2]], ['C', [5, 6]]] as const) {
        await page.check(`input[name="pick-target"][value="${group}"]`);
        for (const i of indices) {
          r = await renders();
          await page.click(`#explorer .tile[data-index="${i}"]`);
          await waitIdle(r);
        }
      }
      const arith = await page.evaluate(() => (window as unknown as Win).__dcgan.explorer.arithmetic.z as number[]);
      const expected = info.z[1]!.map((v, i) => v - info.z[2]![i]! + (info.z[5]![i]! + info.z[6]![i]!) / 2);
      closeVectors(arith, expected, 'mean A − mean B + mean C', 1e-5);
      const resultPixels = await page.evaluate(() => { const c = document.querySelector<HTMLCanvasElement>('#arith-result')!; return [...c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data]; });
      assert.ok(maxByteDiff(resultPixels, nodeImages(checkpointFile, [arith])) <= 1, 'the arithmetic result image');

      // A slider moves z along its direction.
      r = await renders();
      await page.focus('#direction-1');
      await page.keyboard.press('ArrowRight');
      await waitIdle(r);
      const sliders = await page.evaluate(() => (window as unknown as Win).__dcgan.explorer.sliders as { base: number[]; values: number[]; z: number[] });
      assert.equal(sliders.values[1], 0.5);
      assert.ok(sliders.z.some((v, i) => Math.abs(v - sliders.base[i]!) > 1e-3), 'the slider changed z');
      await page.screenshot({ path: join(SHOTS, 'explorer.png'), fullPage: true });
      // The other ways in: a file input, a dropped file, a URL; each redraws the same grid.
      const reloaded = async (how: () => Promise<void>, source: string): Promise<void> => {
        const before = await renders();
        await how();
        await page.waitForFunction(([n, s]) => { const e = (window as unknown as Win).__dcgan.explorer; return e.renders > (n as number) && !e.busy && e.source === s; }, [before, source] as const, { timeout: 30000 });
        assert.equal(await page.evaluate(() => (window as unknown as Win).__dcgan.explorer.error), null);
        assert.ok(maxByteDiff(await tilePixels(), nodeImages(checkpointFile, info.z)) <= 1, `pixels after loading ${source}`);
      };
      await reloaded(() => page.setInputFiles('#checkpoint-file', checkpointFile), 'checkpoint.safetensors');
      await reloaded(async () => {
        const transfer = await page.evaluateHandle(async () => {
          const bytes = await (await fetch('run/checkpoint.safetensors')).arrayBuffer();
          const data = new DataTransfer();
          data.items.add(new File([bytes], 'dropped.safetensors'));
          return data;
        });
        await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer: transfer });
      }, 'dropped.safetensors');
      await reloaded(async () => {
        await page.fill('#checkpoint-url', 'run/checkpoint.safetensors');
        await page.click('button:has-text("Load URL")');
      }, 'checkpoint.safetensors');
      const engineText = await page.textContent('#explorer .engine');
      assert.match(engineText ?? '', /wasm backend.*[2-9] threads, cross-origin isolated/);
      assert.deepEqual(await unlabelled(page), []);
    } finally {
      await page.close();
    }
  });

  it('dashboard: follows a growing metrics.jsonl and new grids', { timeout: 120000 }, async () => {
    const page = await open('dashboard');
    try {
      await page.waitForFunction(() => (window as unknown as Win).__dcgan.dashboard?.connected === true && (window as unknown as Win).__dcgan.dashboard.metricsCount === 20, undefined, { timeout: 30000 });
      assert.equal(await page.evaluate(() => (window as unknown as Win).__dcgan.dashboard.shownSample), 'samples/step_000020.png');
      // The run goes on: more lines (one written in two pieces) and a new grid.
      appendFileSync(join(run, 'metrics.jsonl'), metricsLine(21) + metricsLine(22));
      const half = metricsLine(23);
      appendFileSync(join(run, 'metrics.jsonl'), half.slice(0, 20));
      await page.waitForFunction(() => (window as unknown as Win).__dcgan.dashboard.lastStep === 22, undefined, { timeout: 15000 });
      appendFileSync(join(run, 'metrics.jsonl'), half.slice(20));
      tidy(() => saveImageGrid(join(run, 'samples', 'step_000030.png'), randn([16, 3, 16, 16], { generator: new Generator(2) }).tanh()));
      await page.waitForFunction(() => { const s = (window as unknown as Win).__dcgan.dashboard; return s.lastStep === 23 && s.shownSample === 'samples/step_000030.png'; }, undefined, { timeout: 15000 });
      assert.equal(await page.evaluate(() => (window as unknown as Win).__dcgan.dashboard.metricsCount), 23);
      assert.match((await page.textContent('#dashboard dd[data-key="step"]')) ?? '', /^23 of 100$/);
      const paths = await page.evaluate(() => document.querySelectorAll('#loss-chart path.line').length);
      assert.equal(paths, 2, 'two loss curves');
      // The scrubber goes back in time.
      await page.focus('#grid-scrubber');
      await page.keyboard.press('Home');
      assert.equal(await page.evaluate(() => (window as unknown as Win).__dcgan.dashboard.shownSample), 'samples/step_000000.png');
      await page.keyboard.press('End');
      await page.waitForFunction(() => (document.querySelector('#grid-image') as HTMLImageElement).complete);
      assert.deepEqual(await unlabelled(page), []);
      await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('dashboard: follows a real `dcgan train` run from its first line to its end', { timeout: 240000 }, async (t) => {
    const live = join(dir, 'live');
    mkdirSync(live);
    const liveServer = await startServer({ run: live, port: 0, pollMs: 100 });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleProblems.push(`live dashboard: console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleProblems.push(`live dashboard: page error: ${e.message}`));
    try {
      await page.goto(`${liveServer.url}#dashboard`);
      await page.waitForFunction(() => (window as unknown as Win).__dcgan.dashboard?.connected === true, undefined, { timeout: 30000 });
      const steps = 120;
      const started = Date.now();
      const child = spawn(process.execPath, ['bin/dcgan.js', 'train', '--image-size', '16', '--ngf', '4', '--ndf', '4', '--nz', '8', '--batch-size', '8', '--threads', '1', '--steps', String(steps), '--sample-every', '40', '--out', live, '--json'], { cwd: ROOT, stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const seen = new Set<number>();
      let done = false;
      void exited.then(() => (done = true));
      while (!done) {
        seen.add(await page.evaluate(() => (window as unknown as Win).__dcgan.dashboard.metricsCount as number));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(await exited, 0);
      const wall = Date.now() - started;
      await page.waitForFunction((n) => { const s = (window as unknown as Win).__dcgan.dashboard; return s.lastStep === n && s.shownSample === `samples/step_${String(n).padStart(6, '0')}.png`; }, steps, { timeout: 15000 });
      const during = [...seen].filter((n) => n > 0 && n < steps);
      t.diagnostic(`the run took ${wall} ms; metrics counts seen while it ran: ${[...seen].join(', ')}`);
      if (wall > 2000) assert.ok(during.length > 0, 'the dashboard showed the run before it ended');
      assert.equal(await page.evaluate(() => (window as unknown as Win).__dcgan.dashboard.samples.length as number), 4);
      assert.match((await page.textContent('#dashboard dd[data-key="step"]')) ?? '', new RegExp(`^${steps} of ${steps}$`));
    } finally {
      await page.close();
      await liveServer.close();
    }
  });

  it('explainer: the same numbers as `dcgan explain --json`, and the engine agrees in the page', { timeout: 120000 }, async () => {
    const page = await open('explainer');
    try {
      await page.waitForFunction(() => (window as unknown as Win).__dcgan.explainer?.ready === true, undefined, { timeout: 30000 });
      for (const geometry of [{ input: 4, kernel: 3, stride: 1, padding: 0 }, { input: 5, kernel: 3, stride: 2, padding: 1 }, { input: 4, kernel: 4, stride: 2, padding: 1 }]) {
        const r = await page.evaluate(() => (window as unknown as Win).__dcgan.explainer.renders as number);
        for (const [key, value] of Object.entries(geometry)) {
          await page.fill(`#ex-${key}`, String(value));
          await page.dispatchEvent(`#ex-${key}`, 'change');
        }
        await page.waitForFunction((n) => (window as unknown as Win).__dcgan.explainer.renders > n, r);
        const cli = spawnSync(process.execPath, ['bin/dcgan.js', 'explain', '--json', '--input', String(geometry.input), '--kernel', String(geometry.kernel), '--stride', String(geometry.stride), '--padding', String(geometry.padding)], { cwd: ROOT, encoding: 'utf8' });
        assert.equal(cli.status, 0, cli.stderr);
        const expected = JSON.parse(cli.stdout) as Record<string, unknown> & { checks: Array<{ name: string; ok: boolean }> };
        const shown = await page.evaluate(() => (window as unknown as Win).__dcgan.explainer as { json: typeof expected; engineDiff: { conv2d: number; convTranspose2d: number } });
        for (const key of ['spec', 'output', 'outputPadding', 'C', 'CT', 'kernel', 'ok']) assert.deepEqual(shown.json[key], expected[key], `${JSON.stringify(geometry)}: ${key}`);
        assert.deepEqual(shown.json.checks.map((c) => [c.name, c.ok]), expected.checks.map((c) => [c.name, c.ok]));
        assert.ok(shown.engineDiff.conv2d < 1e-5 && shown.engineDiff.convTranspose2d < 1e-5, JSON.stringify(shown.engineDiff));
        assert.match((await page.textContent('#ex-verdict')) ?? '', /^✓ In this page, the engine \(wasm backend\) ran its real conv2d and convTranspose2d/);
        // The table shows C's labels.
        const firstRow = await page.evaluate(() => Array.from(document.querySelectorAll('#ex-c tbody tr:first-child td')).map((td) => td.textContent));
        assert.deepEqual(firstRow, (expected['C'] as { entries: string[][] }).entries[0]);
      }
      // A geometry with no output is said so, as the CLI refuses it.
      for (const [key, value] of Object.entries({ input: 2, kernel: 5, stride: 1, padding: 0 })) {
        await page.fill(`#ex-${key}`, String(value));
        await page.dispatchEvent(`#ex-${key}`, 'change');
      }
      assert.match((await page.textContent('#ex-verdict')) ?? '', /^No valid output for this geometry/);
      assert.equal(spawnSync(process.execPath, ['bin/dcgan.js', 'explain', '--input', '2', '--kernel', '5'], { cwd: ROOT }).status, 2);
      // Back to the seed case; hovering y0 lights its row of C, the inputs it sees and the kernel.
      for (const [key, value] of Object.entries({ input: 4, kernel: 3, stride: 1, padding: 0 })) {
        await page.fill(`#ex-${key}`, String(value));
        await page.dispatchEvent(`#ex-${key}`, 'change');
      }
      await page.hover('[data-key="y-0"]');
      const lit = await page.evaluate(() => Array.from(document.querySelectorAll('.hl')).map((el) => (el as HTMLElement).dataset['key']));
      for (const key of ['C-0-0', 'C-0-10', 'x-5', 'w-4']) assert.ok(lit.includes(key), `${key} lit when hovering y0`);
      assert.ok(!lit.includes('x-3') && !lit.includes('C-1-1'), 'only what y0 sees');
      assert.match((await page.textContent('#explainer .formula')) ?? '', /^y0 = w\(0,0\)·x0 \+ w\(0,1\)·x1 \+ w\(0,2\)·x2 \+ w\(1,0\)·x4 \+ .* = -?\d+\.\d\d$/);
      await page.hover('#ex-c td[data-key="C-0-5"]');
      assert.deepEqual(await unlabelled(page), []);
      await page.screenshot({ path: join(SHOTS, 'explainer.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('train in the page: D’s loss falls, pause holds, the downloaded checkpoint samples in the CLI', { timeout: 240000 }, async () => {
    const page = await open('train');
    try {
      // A small model so that a loaded machine still makes steps quickly.
      for (const [id, value] of [['tr-ngf', '8'], ['tr-ndf', '8'], ['tr-batch', '16']] as const) await page.fill(`#${id}`, value);
      await page.click('#tr-start');
      await page.waitForFunction(() => (window as unknown as Win).__dcgan.train.step >= 60 || (window as unknown as Win).__dcgan.train.error !== null, undefined, { timeout: 180000 });
      const state = await page.evaluate(() => (window as unknown as Win).__dcgan.train as { step: number; lossD: number[]; engine: { backend: string; threads: number }; error: string | null });
      assert.equal(state.error, null);
      assert.equal(state.engine.backend, 'wasm');
      assert.ok(state.engine.threads > 1);
      const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
      const first = avg(state.lossD.slice(0, 5));
      const last = avg(state.lossD.slice(-5));
      assert.ok(last < first, `D's loss went from ${first.toFixed(3)} to ${last.toFixed(3)}`);
      // Pause: the step stops moving; resume: it moves again.
      await page.click('#tr-pause');
      await page.waitForTimeout(600);
      const held = await page.evaluate(() => (window as unknown as Win).__dcgan.train.step as number);
      await page.waitForTimeout(800);
      assert.equal(await page.evaluate(() => (window as unknown as Win).__dcgan.train.step as number), held, 'paused');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#tr-download')]);
      const file = join(dir, 'page.safetensors');
      await download.saveAs(file);
      const out = join(dir, 'page-samples.png');
      const cli = spawnSync(process.execPath, ['bin/dcgan.js', 'sample', '--checkpoint', file, '--n', '16', '--seed', '1', '--out', out, '--json'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(cli.status, 0, cli.stderr);
      assert.equal((JSON.parse(cli.stdout) as { step: number }).step, held);
      assert.ok(existsSync(out));
      await page.click('#tr-pause');
      await page.waitForFunction((s) => (window as unknown as Win).__dcgan.train.step > s, held, { timeout: 60000 });
      await page.click('#tr-pause');
      assert.deepEqual(await unlabelled(page), []);
      await page.screenshot({ path: join(SHOTS, 'train.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('explorer: a class-conditional checkpoint gets a class selector, and each class draws the Node generator’s pixels for it', { timeout: 120000 }, async () => {
    const conditional = join(dir, 'conditional.safetensors');
    tidy(() => {
      const model = { ...MODEL, numClasses: 3 };
      const netG = models.dcganGenerator(model, { seed: 5 });
      const netD = models.dcganDiscriminator(model, { seed: 6 });
      for (const [name, t] of Object.entries(netG.stateDict())) if (name.endsWith('.weight') && t.ndim === 4) t.data.forEach((v, i) => (t.data[i] = v * 8));
      saveCheckpoint(conditional, {
        config: { ...model, data: 'shapes', conditional: true, classes: ['circle', 'square', 'triangle'] },
        netG,
        netD,
        optG: new optim.Adam(netG.parameters()),
        optD: new optim.Adam(netD.parameters()),
        step: 1,
        epoch: 0,
        elapsedSeconds: 0,
        loader: { epoch: 0, batchIndex: 0, seed: 0 },
        rng: new Generator(0).getState(),
        fixedNoise: randn([4, MODEL.nz, 1, 1]),
      });
    });
    const page = await open('explorer');
    try {
      await page.waitForFunction(() => (window as unknown as Win).__dcgan.explorer?.ready === true && !(window as unknown as Win).__dcgan.explorer.busy, undefined, { timeout: 60000 });
      const renders = (): Promise<number> => page.evaluate(() => (window as unknown as Win).__dcgan.explorer.renders as number);
      const waitIdle = (n: number): Promise<unknown> => page.waitForFunction((r) => { const e = (window as unknown as Win).__dcgan.explorer; return e.renders > r && !e.busy; }, n, { timeout: 30000 });
      let r = await renders();
      await page.setInputFiles('#checkpoint-file', conditional);
      await waitIdle(r);
      const classes = await page.evaluate(() => (window as unknown as Win).__dcgan.explorer.classes as string[]);
      assert.deepEqual(classes, ['circle', 'square', 'triangle']);
      assert.equal(await page.isVisible('#class'), true);
      const tiles = (): Promise<number[]> =>
        page.evaluate(() => Array.from(document.querySelectorAll<HTMLCanvasElement>('#explorer .tile canvas')).flatMap((c) => [...c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data]));
      const z = await page.evaluate(() => (window as unknown as Win).__dcgan.explorer.z as number[][]);
      assert.ok(maxByteDiff(await tiles(), nodeImages(conditional, z, 0)) <= 1, 'class 0 (circle)');
      r = await renders();
      await page.selectOption('#class', '2');
      await waitIdle(r);
      assert.equal(await page.evaluate(() => (window as unknown as Win).__dcgan.explorer.classIndex as number), 2);
      const third = await tiles();
      assert.ok(maxByteDiff(third, nodeImages(conditional, z, 2)) <= 1, 'class 2 (triangle)');
      assert.ok(maxByteDiff(third, nodeImages(conditional, z, 0)) > 1, 'another class draws other images');
      assert.deepEqual(await unlabelled(page), []);
    } finally {
      await page.close();
    }
  });

  it('no console errors or warnings on any page', () => {
    assert.deepEqual(consoleProblems, []);
  });
});
