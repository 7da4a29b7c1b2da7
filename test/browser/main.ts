/**
 * The test page's script: the checks on the page's main thread (where the engine must fall
 * back to 1 thread), then in a module Web Worker (threads where the page is cross-origin
 * isolated). The result lands in `window.dcganBrowserTest` for the test to read.
 */
import { runChecks, type ContextReport, type Dcgan } from './checks.js';

interface Outcome {
  reports?: ContextReport[];
  error?: string;
}

const out = globalThis as { dcganBrowserTest?: Outcome };

function inWorker(): Promise<ContextReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = (event: MessageEvent<{ report?: ContextReport; error?: string }>) => {
      worker.terminate();
      if (event.data.report !== undefined) resolve(event.data.report);
      else reject(new Error(`in the worker: ${event.data.error ?? 'no report'}`));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`the worker failed: ${event.message}`));
    };
  });
}

async function main(): Promise<ContextReport[]> {
  const dcgan = (await import(new URL('../../dist/core.js', import.meta.url).href)) as Dcgan;
  const onPage = await runChecks(dcgan, 'main thread', 2);
  return [onPage, await inWorker()];
}

main().then(
  (reports) => (out.dcganBrowserTest = { reports }),
  (error: unknown) => (out.dcganBrowserTest = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
);
