/**
 * The wasm backend in a real browser: Debian's Chromium, headless, driven by playwright-core,
 * loads dist/core.js (the built ESM, as a user's page would) from a static server on
 * 127.0.0.1 and runs test/browser/checks.ts on the page's main thread and in a Web Worker,
 * against the js backend in the same context. Twice: cross-origin isolated (COOP + COEP:
 * the worker gets 2 threads) and not isolated (1 thread everywhere). Skips without Chromium.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, relative, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromiumMissing, launchChromium } from './chromium.js';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import ts from 'typescript';
import type { ContextReport } from './browser/checks.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOLERANCE = 1e-5;
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm' };

/** Serves dist/ and test/browser/ (its .ts transpiled on request) under /coi/ (isolated) and /plain/. */
function serve(): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const [, mode, ...rest] = decodeURIComponent(url.pathname).split('/');
    const rel = normalize(rest.join('/'));
    const allowed = (mode === 'coi' || mode === 'plain') && (rel.startsWith(`dist${sep}`) || rel.startsWith(`test${sep}browser${sep}`));
    let body: Buffer | string | null = null;
    if (allowed) {
      const file = join(ROOT, rel);
      const source = file.replace(/\.js$/, '.ts');
      if (rel.startsWith(`test${sep}browser${sep}`) && file.endsWith('.js') && existsSync(source)) {
        body = ts.transpileModule(readFileSync(source, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      } else if (existsSync(file)) {
        body = readFileSync(file);
      }
    }
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    if (mode === 'coi') {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
    }
    if (body === null) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    headers['content-type'] = TYPES[extname(rel)] ?? 'application/octet-stream';
    res.writeHead(200, headers).end(body);
  });
}

/** The modules `start` pulls in, transitively, by relative import; throws on anything a browser cannot load. */
function moduleGraph(start: string): string[] {
  const seen = new Set<string>();
  const pending = [start];
  const specifiers = /(?:^|[;\s])(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');
    for (const match of text.matchAll(specifiers)) {
      const spec = (match[1] ?? match[2])!;
      assert.ok(spec.startsWith('./') || spec.startsWith('../'), `${relative(ROOT, file)} imports '${spec}', which a browser cannot load without a bundler`);
      pending.push(join(dirname(file), spec));
    }
  }
  return [...seen];
}

describe('what browsers load', () => {
  it('dist/core.js and everything it imports name no node: module and no npm package', () => {
    const core = join(ROOT, 'dist/core.js');
    assert.ok(existsSync(core), 'dist/core.js is missing: run `npm run build` first');
    const files = moduleGraph(core);
    assert.ok(files.some((f) => f.endsWith(join('kernels', 'wasm', 'platform.js'))), 'the wasm backend is part of the core');
  });

  it('the trainer, the GAN step, the checkpoint format and the shapes data (the browser app trains with them) name no node: module', () => {
    for (const module of ['train/trainer.js', 'train/step.js', 'train/checkpoint-format.js', 'train/config.js', 'data/shapes.js', 'data/loader.js', 'io/safetensors.js']) {
      const file = join(ROOT, 'dist', module);
      assert.ok(existsSync(file), `dist/${module} is missing: run \`npm run build\` first`);
      moduleGraph(file);
    }
  });
});

const skip = chromiumMissing;

describe('the wasm backend in headless Chromium', { skip }, () => {
  let server: Server;
  let browser: Browser;
  let origin: string;

  before(async () => {
    for (const built of ['dist/core.js', 'dist/wasm/kernels.wasm']) {
      assert.ok(existsSync(join(ROOT, built)), `${built} is missing: run \`npm run build\` first`);
    }
    server = serve();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  });

  async function runPage(mode: 'coi' | 'plain'): Promise<ContextReport[]> {
    const page = await browser.newPage();
    const log: string[] = [];
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`page error: ${e.message}`));
    try {
      await page.goto(`${origin}/${mode}/test/browser/index.html`);
      const handle = await page.waitForFunction(() => (globalThis as { dcganBrowserTest?: unknown }).dcganBrowserTest, undefined, { timeout: 60000 });
      const outcome = (await handle.jsonValue()) as { reports?: ContextReport[]; error?: string };
      assert.equal(outcome.error, undefined, `the page failed: ${outcome.error}\n${log.join('\n')}`);
      return outcome.reports!;
    } finally {
      await page.close();
    }
  }

  function checkAgreement(report: ContextReport): void {
    for (const [what, diff] of Object.entries(report.maxDiff)) {
      assert.ok(diff <= TOLERANCE, `${report.context}: ${what} differs from the js backend by ${diff} (> ${TOLERANCE})`);
    }
    assert.ok(report.sizes.conv2d > 0 && report.sizes.convTranspose2d > 0 && report.sizes.losses === 9 && report.sizes.params > 0);
  }

  it('cross-origin isolated: wasm on the main thread with 1 thread and in a Worker with 2, equal to js within 1e-5', { timeout: 120000 }, async (t) => {
    const [onPage, inWorker] = await runPage('coi');
    t.diagnostic(JSON.stringify([onPage, inWorker]));
    for (const report of [onPage!, inWorker!]) {
      assert.equal(report.crossOriginIsolated, true);
      assert.equal(report.backend, 'wasm');
      checkAgreement(report);
    }
    assert.equal(onPage!.threads, 1, 'the main thread may not block, so it computes alone');
    assert.equal(inWorker!.threads, 2, 'a worker of an isolated page gets the threads it asks for');
  });

  it('not isolated: wasm still runs, on 1 thread in the page and in a Worker', { timeout: 120000 }, async (t) => {
    const [onPage, inWorker] = await runPage('plain');
    t.diagnostic(JSON.stringify([onPage, inWorker]));
    for (const report of [onPage!, inWorker!]) {
      assert.equal(report.crossOriginIsolated, false);
      assert.equal(report.backend, 'wasm');
      assert.equal(report.threads, 1, `${report.context}: no SharedArrayBuffer for threads without isolation`);
      checkAgreement(report);
    }
  });
});
