/**
 * A worker thread of the image-folder cache preparation (folder-cache.ts): claims ranges of
 * slots from a shared counter, decodes those files with the same code as the in-thread path (decodeSlots) and writes
 * each image into the temporary cache file at its slot's offset; answers with what it skipped.
 *
 * Started with `job.urgent` it is instead the on-demand decoder of a lazy data set
 * (LazyFolderDataset): it waits (Atomics.wait) for a slot request from the main thread,
 * decodes that one slot and marks its flag, which the main thread is waiting on (Atomics.wait).
 */
import { closeSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { PrepareJob } from './folder-cache.js';
import { decodeSlots, loadSharp } from './folder.js';

const job = workerData as PrepareJob;
const port = parentPort!;
let fd: number | null = null;

if (job.urgent !== undefined) {
  const ctrl = new Int32Array(job.urgent);
  void (async () => {
    // Load everything decoding needs first, then say so: the main thread blocks (Atomics.wait)
    // on this worker's decodes only after this message, never while a module is still loading.
    if (job.decoder === 'sharp' && (await loadSharp()) === null) {
      port.postMessage({ error: 'the sharp package does not load in this thread' });
      return;
    }
    port.postMessage({ ready: true });
    let seen = 0;
    for (;;) {
      // A blocking wait (this thread has nothing else to do), a fifth of a second at a time with
      // a turn of the event loop between (so that terminate() is served). Not Atomics.waitAsync:
      // a pending waitAsync does not keep a worker's event loop alive, and the worker would exit.
      while (Atomics.load(ctrl, 1) === seen) {
        if (Atomics.wait(ctrl, 1, seen, 200) === 'timed-out') await new Promise((resolveTurn) => setImmediate(resolveTurn));
      }
      seen = Atomics.load(ctrl, 1);
      const slot = Atomics.load(ctrl, 0);
      try {
        fd ??= openSync(job.temp, 'r+');
        await decodeSlots(job, slot, slot + 1, fd);
      } catch (error) {
        // decodeSlots marks undecodable images itself; this is an I/O failure: say so, and mark
        // the slot failed so that the waiting thread wakes up.
        port.postMessage({ error: error instanceof Error ? error.message : String(error) });
        const flags = new Int32Array(job.flags!);
        Atomics.store(flags, slot, 2);
        Atomics.notify(flags, slot);
      }
    }
  })();
} else {
  // Claim chunks from the shared counter until none is left; post each chunk's results, then 'end'.
  void (async () => {
    try {
      const next = new Int32Array(job.next!);
      const chunk = job.chunk!;
      const total = job.files.length;
      fd = openSync(job.temp, 'r+');
      for (;;) {
        const from = Atomics.add(next, 0, chunk);
        if (from >= total) break;
        const to = Math.min(total, from + chunk);
        port.postMessage({ from, to, results: await decodeSlots(job, from, to, fd) });
      }
      port.postMessage({ end: true });
    } catch (error) {
      port.postMessage({ error: error instanceof Error ? error.message : String(error) });
    }
  })();
}
process.on('exit', () => {
  if (fd !== null) closeSync(fd);
});
