// Builds the browser app (web/) into dist/web/, which `dcgan serve` serves.
import { fileURLToPath } from 'node:url';
import { createLogger, defineConfig } from 'vite';

// The engine's wasm loader names its default kernel files with `new URL(…, import.meta.url)`;
// the app hands the files to initWasm itself (web/src/engine.ts), so Vite's note that those
// defaults do not exist under src/ is noise.
const logger = createLogger('warn');
const warnOnce = logger.warnOnce.bind(logger);
logger.warnOnce = (message, options) => {
  if (!message.includes("doesn't exist at build time")) warnOnce(message, options);
};

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: false,
  logLevel: 'warn',
  customLogger: logger,
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  worker: { format: 'es' },
});
