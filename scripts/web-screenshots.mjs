#!/usr/bin/env node
// Screenshots of the web app for the README: `node scripts/web-screenshots.mjs RUN_DIR [OUT_DIR]`
// serves RUN_DIR with the built `dcgan serve` (npm run build first), drives Debian's Chromium
// (/usr/bin/chromium, or $CHROMIUM) with playwright-core and writes web-explorer.png, web-dashboard.png
// and web-explainer.png into OUT_DIR (docs/); TRAIN_SECONDS=N adds web-train.png.
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../dist/cli/serve.js';

const [run, out = 'docs'] = process.argv.slice(2);
if (run === undefined) {
  console.error('usage: node scripts/web-screenshots.mjs RUN_DIR [OUT_DIR]');
  process.exit(2);
}
const server = await startServer({ run, port: 0 });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const open = async (hash, width = 1280, height = 900) => {
    const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: 1 });
    page.on('pageerror', (e) => console.error(`${hash}: ${e.message}`));
    await page.goto(`${server.url}#${hash}`);
    return page;
  };
  const explorer = await open('explorer');
  await explorer.waitForFunction(() => window.__dcgan.explorer?.ready && !window.__dcgan.explorer.busy, undefined, { timeout: 120000 });
  const idle = async () => {
    const r = await explorer.evaluate(() => window.__dcgan.explorer.renders);
    return () => explorer.waitForFunction((n) => window.__dcgan.explorer.renders > n && !window.__dcgan.explorer.busy, r);
  };
  await explorer.selectOption('#count', '32');
  await explorer.waitForFunction(() => window.__dcgan.explorer.z.length === 32 && !window.__dcgan.explorer.busy);
  const picks = [['ends', [2, 9]], ['A', [4]], ['B', [11]], ['C', [17]]];
  for (const [group, indices] of picks) {
    await explorer.check(`input[name="pick-target"][value="${group}"]`);
    for (const i of indices) {
      const done = await idle();
      await explorer.click(`#explorer .tile[data-index="${i}"]`);
      await done();
    }
  }
  await explorer.click('button:has-text("Pause")');
  await explorer.screenshot({ path: join(out, 'web-explorer.png'), fullPage: true });
  await explorer.close();

  const dashboard = await open('dashboard');
  await dashboard.waitForFunction(() => window.__dcgan.dashboard?.connected && window.__dcgan.dashboard.metricsCount > 0);
  await dashboard.waitForFunction(() => document.querySelector('#grid-image')?.complete);
  await dashboard.screenshot({ path: join(out, 'web-dashboard.png'), fullPage: true });
  await dashboard.close();

  const explainer = await open('explainer');
  await explainer.waitForFunction(() => window.__dcgan.explainer?.ready);
  await explainer.hover('[data-key="y-1"]');
  await explainer.screenshot({ path: join(out, 'web-explainer.png'), fullPage: true });
  await explainer.close();

  // With TRAIN_SECONDS set: train in the page with its defaults that long, pause, and take web-train.png.
  if (process.env.TRAIN_SECONDS !== undefined) {
    const train = await open('train');
    await train.click('#tr-start');
    await train.waitForTimeout(1000 * Number(process.env.TRAIN_SECONDS));
    await train.click('#tr-pause');
    await train.waitForTimeout(500);
    await train.screenshot({ path: join(out, 'web-train.png'), fullPage: true });
    await train.close();
  }
} finally {
  await browser.close();
  await server.close();
}
