/** The checks inside a module Web Worker, with 2 threads asked for (the worker + 1 more). */
import { runChecks, type Dcgan } from './checks.js';

const scope = globalThis as unknown as { postMessage(message: unknown): void };

(async () => {
  const dcgan = (await import(new URL('../../dist/core.js', import.meta.url).href)) as Dcgan;
  return runChecks(dcgan, 'worker', 2);
})().then(
  (report) => scope.postMessage({ report }),
  (error: unknown) => scope.postMessage({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
);
