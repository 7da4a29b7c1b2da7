/**
 * The explorer's engine: a module Web Worker holding the generator. Threads come from the
 * wasm backend's pool (the page is cross-origin isolated when `dcgan serve` serves it).
 */
import { models, noGrad, tensor, tidy } from '../../src/core.js';
import { generatorFromCheckpoint, type LoadedGenerator } from './checkpoint.js';
import { startEngine, toRgba } from './engine.js';
import type { WorkerReply, WorkerRequest } from './protocol.js';

const scope = globalThis as unknown as { postMessage(message: unknown, transfer?: Transferable[]): void; onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null };
let current: LoadedGenerator | null = null;

function reply(message: WorkerReply, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.type) {
    case 'init': {
      const engine = await startEngine(request.threads);
      reply({ type: 'ready', id: request.id, engine });
      return;
    }
    case 'load': {
      current?.generator.parameters().forEach((p) => p.dispose());
      current = generatorFromCheckpoint(new Uint8Array(request.bytes), request.name);
      reply({ type: 'loaded', id: request.id, config: current.config, step: current.step, name: request.name, classes: current.classes });
      return;
    }
    case 'random': {
      const config = models.resolveDcganConfig(request.config);
      const generator = models.dcganGenerator(config, { seed: request.seed });
      generator.eval();
      current = { generator, config, step: null, fixedNoise: null, classes: null };
      reply({ type: 'loaded', id: request.id, config, step: null, name: `untrained generator (seed ${request.seed})`, classes: null });
      return;
    }
    case 'generate': {
      if (current === null) throw new Error('no generator loaded');
      const { config, generator } = current;
      const { n, z } = request;
      const labels = (config.numClasses ?? 0) > 0 ? new Array<number>(n).fill(request.label ?? 0) : undefined;
      const started = performance.now();
      const rgba = tidy(() =>
        noGrad(() => {
          const images = generator.forward(tensor(z, [n, config.nz, 1, 1]), labels);
          return toRgba(images.data, n, config.channels, config.imageSize);
        }),
      );
      reply({ type: 'images', id: request.id, rgba, n, size: config.imageSize, ms: performance.now() - started }, [rgba.buffer]);
      return;
    }
  }
}

// One request at a time, in order.
let queue = Promise.resolve();
scope.onmessage = (event) => {
  const request = event.data;
  queue = queue.then(() =>
    handle(request).catch((error: unknown) => reply({ type: 'error', id: request.id, message: error instanceof Error ? error.message : String(error) })),
  );
};
