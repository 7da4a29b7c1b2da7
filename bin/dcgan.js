#!/usr/bin/env node
// The `dcgan` command: runs the compiled CLI (built by `npm install` through the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('dcgan: the project is not built yet; run `npm install` (or `npm run build`) in the dcgan-ts folder');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
