/**
 * A worker thread of the image-folder cache preparation (folder-cache.ts): receives ranges of
 * slots, decodes those files with the same code as the in-thread path (decodeSlots) and writes
 * each image into the temporary cache file at its slot's offset; answers with what it skipped.
 */
import { closeSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { PrepareJob } from './folder-cache.js';
import { decodeSlots } from './folder.js';

const job = workerData as PrepareJob;
const port = parentPort!;
let fd: number | null = null;
// One chunk at a time: the main thread sends the next only after this one's answer.
port.on('message', (m: { from: number; to: number }) => {
  void (async () => {
    try {
      fd ??= openSync(job.temp, 'r+');
      port.postMessage({ from: m.from, to: m.to, results: await decodeSlots(job, m.from, m.to, fd) });
    } catch (error) {
      port.postMessage({ error: error instanceof Error ? error.message : String(error) });
    }
  })();
});
process.on('exit', () => {
  if (fd !== null) closeSync(fd);
});
