/** Messages between the explorer page and its generator worker. */
import type { models } from '../../src/core.js';
import type { EngineInfo } from './engine.js';

export type WorkerRequest =
  | { type: 'init'; id: number; threads: number }
  | { type: 'load'; id: number; bytes: ArrayBuffer; name: string }
  | { type: 'random'; id: number; config: Partial<models.DcganConfig>; seed: number }
  | { type: 'generate'; id: number; z: Float32Array; n: number; label?: number };

export type WorkerReply =
  | { type: 'ready'; id: number; engine: EngineInfo }
  | { type: 'loaded'; id: number; config: models.DcganConfig; step: number | null; name: string; classes: string[] | null }
  | { type: 'images'; id: number; rgba: Uint8ClampedArray<ArrayBuffer>; n: number; size: number; ms: number }
  | { type: 'error'; id: number; message: string };

type Payload<T extends WorkerReply['type']> = Omit<Extract<WorkerReply, { type: T }>, 'type' | 'id'>;

/** A promise per request over one worker. */
export class GeneratorClient {
  private next = 1;
  private pending = new Map<number, { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void }>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const waiting = this.pending.get(event.data.id);
      if (waiting === undefined) return;
      this.pending.delete(event.data.id);
      if (event.data.type === 'error') waiting.reject(new Error(event.data.message));
      else waiting.resolve(event.data);
    };
    worker.onerror = (event) => {
      for (const waiting of this.pending.values()) waiting.reject(new Error(`the generator worker failed: ${event.message}`));
      this.pending.clear();
    };
  }

  private ask(request: WorkerRequest, transfer: Transferable[] = []): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject });
      this.worker.postMessage(request, transfer);
    });
  }

  async init(threads: number): Promise<Payload<'ready'>> {
    return (await this.ask({ type: 'init', id: this.next++, threads })) as Extract<WorkerReply, { type: 'ready' }>;
  }

  async load(bytes: ArrayBuffer, name: string): Promise<Payload<'loaded'>> {
    return (await this.ask({ type: 'load', id: this.next++, bytes, name }, [bytes])) as Extract<WorkerReply, { type: 'loaded' }>;
  }

  async random(config: Partial<models.DcganConfig>, seed: number): Promise<Payload<'loaded'>> {
    return (await this.ask({ type: 'random', id: this.next++, config, seed })) as Extract<WorkerReply, { type: 'loaded' }>;
  }

  /** Images of n latent vectors; `label` is the class of all of them, for a conditional generator. */
  async generate(z: Float32Array, n: number, label?: number): Promise<Payload<'images'>> {
    return (await this.ask({ type: 'generate', id: this.next++, z, n, label })) as Extract<WorkerReply, { type: 'images' }>;
  }
}
