/**
 * The wasm thread pool's worker protocol, spoken by hand to a real worker thread: a job runs once
 * per generation, whenever the publisher's notify arrives.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initWasm } from '../src/kernels/index.js';
import { platform } from '../src/kernels/wasm/platform.js';
import { CONTROL_SLOTS, SERVE_SOURCE } from '../src/kernels/wasm/pool.js';

const { GENERATION, PENDING, KERNEL, ARGC, READY } = CONTROL_SLOTS;

// A module on one shared page whose one export, `bump`, adds 1 to the word at address 0 atomically.
const BUMP_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x01, 0x7f, 0x00, // type 0: (i32) → ()
  0x02, 0x10, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x03, 0x01, 0x01, // import env.memory, shared, 1 page
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x07, 0x08, 0x01, 0x04, 0x62, 0x75, 0x6d, 0x70, 0x00, 0x00, // export "bump" = function 0
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x41, 0x00, 0x41, 0x01, 0xfe, 0x1e, 0x02, 0x00, 0x1a, 0x0b, // i32.atomic.rmw.add [0] += 1; drop
]);

const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Reads `ctrl[slot]` until it satisfies `done`, at most `ms`; whether it did. Reads, not Atomics.wait: waking takes longer than the worker spins. */
function waitFor(ctrl: Int32Array, slot: number, done: (v: number) => boolean, ms: number): boolean {
  const deadline = performance.now() + ms;
  while (!done(Atomics.load(ctrl, slot))) {
    if (performance.now() > deadline) return false;
  }
  return true;
}

describe('the wasm pool worker', () => {
  it('runs a job once when the publisher’s notify comes after the worker ran it (seen while spinning)', async () => {
    await initWasm();
    const host = platform()!;
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const control = new SharedArrayBuffer(64);
    const ctrl = new Int32Array(control);
    const count = new Int32Array(memory.buffer, 0, 1);
    const errors: string[] = [];
    const worker = host.startWorker(SERVE_SOURCE, { module: new WebAssembly.Module(BUMP_MODULE), memory, control, args: new SharedArrayBuffer(256), tid: 1, names: ['bump'] }, (report) => {
      if ('error' in report) errors.push(report.error);
    });
    try {
      assert.ok(waitFor(ctrl, READY, (v) => v === 1, 30000), `the worker did not start: ${errors.join('; ')}`);
      // As ThreadPool.run publishes, with the notify optional (a publisher descheduled between the two).
      const publish = (notify: boolean): void => {
        Atomics.store(ctrl, KERNEL, 0);
        Atomics.store(ctrl, ARGC, 0);
        Atomics.store(ctrl, PENDING, 1);
        Atomics.add(ctrl, GENERATION, 1);
        if (notify) Atomics.notify(ctrl, GENERATION);
      };
      let raced = 0;
      for (let attempt = 0; attempt < 40 && raced < 5; attempt++) {
        const first = Atomics.load(count, 0);
        publish(true);
        assert.ok(waitFor(ctrl, PENDING, (v) => v === 0, 10000), `attempt ${attempt}: a notified job did not finish`);
        assert.equal(Atomics.load(count, 0), first + 1);
        const before = first + 1;
        // Right after a job the worker is still reading the control word: it takes this one without a notify.
        publish(false);
        const ranUnnotified = waitFor(ctrl, PENDING, (v) => v === 0, 20);
        if (ranUnnotified) {
          raced++;
          sleep(5); // the worker now sleeps on the generation it has run
        }
        Atomics.notify(ctrl, GENERATION); // the late notify (or, where the worker slept, the one it waits for)
        assert.ok(waitFor(ctrl, PENDING, (v) => v === 0, 10000), `attempt ${attempt}: the job did not finish`);
        sleep(5);
        assert.equal(Atomics.load(ctrl, PENDING), 0, `attempt ${attempt}: the job ran more than once (pending ${Atomics.load(ctrl, PENDING)})`);
        assert.equal(Atomics.load(count, 0), before + 1, `attempt ${attempt}: the job ran ${Atomics.load(count, 0) - before} times`);
      }
      assert.ok(raced > 0, 'the worker never took a job before its notify: the race was not exercised');
    } finally {
      Atomics.store(ctrl, KERNEL, -1);
      Atomics.add(ctrl, GENERATION, 1);
      Atomics.notify(ctrl, GENERATION);
      worker.terminate();
    }
  });
});
