/**
 * Starts the engine's wasm backend in the browser: the kernel files come from the build (Vite
 * emits them next to the app), threads where the page is cross-origin isolated and the caller
 * is a Web Worker. Falls back to the js backend, and says why, where wasm cannot start.
 */
import kernelsUrl from '../../dist/wasm/kernels.wasm?url';
import relaxedKernelsUrl from '../../dist/wasm/kernels-relaxed.wasm?url';
import { backendFailure, getBackend, getThreads, initWasm, setBackend, setBackendAsync, setThreads } from '../../src/core.js';

export interface EngineInfo {
  backend: string;
  description: string;
  threads: number;
  crossOriginIsolated: boolean;
  /** Why wasm did not start, when it did not. */
  fallback: string | null;
}

let started: Promise<EngineInfo> | null = null;

/** Once per context; `threads` is capped by the engine (1 on a page's main thread or without isolation). */
export function startEngine(threads: number): Promise<EngineInfo> {
  started ??= (async () => {
    let fallback: string | null = null;
    try {
      setThreads(threads);
      const base = globalThis.location.href;
      await initWasm({ kernels: new URL(kernelsUrl, base), relaxedKernels: new URL(relaxedKernelsUrl, base) });
      await setBackendAsync('wasm');
    } catch (error) {
      fallback = backendFailure('wasm') ?? (error instanceof Error ? error.message : String(error));
      setBackend('js');
    }
    const backend = getBackend();
    return {
      backend: backend.name,
      description: backend.description ?? '',
      threads: getThreads(),
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      fallback,
    };
  })();
  return started;
}

/** A line for people: "wasm backend (…), 2 threads, cross-origin isolated". */
export function describeEngine(info: EngineInfo): string {
  const threads = `${info.threads} thread${info.threads === 1 ? '' : 's'}`;
  const isolation = info.crossOriginIsolated ? 'cross-origin isolated' : 'not cross-origin isolated';
  const why = info.fallback === null ? '' : ` — wasm unavailable: ${info.fallback}`;
  return `${info.backend} backend${info.description ? ` (${info.description})` : ''}, ${threads}, ${isolation}${why}`;
}

/** Tensor values in [−1, 1] → RGBA bytes as the CLI's PNGs quantise them: clamp(⌊255·(v + 1)/2 + 0.5⌋). */
export function toRgba(data: Float32Array, n: number, channels: number, size: number): Uint8ClampedArray<ArrayBuffer> {
  const plane = size * size;
  const out = new Uint8ClampedArray(n * plane * 4);
  const byte = (v: number): number => {
    const b = Math.floor(((v + 1) / 2) * 255 + 0.5);
    return b < 0 ? 0 : b > 255 ? 255 : Number.isNaN(b) ? 0 : b;
  };
  for (let i = 0; i < n; i++) {
    const img = i * channels * plane;
    for (let p = 0; p < plane; p++) {
      const o = (i * plane + p) * 4;
      if (channels === 1) {
        const g = byte(data[img + p]!);
        out[o] = g;
        out[o + 1] = g;
        out[o + 2] = g;
      } else {
        out[o] = byte(data[img + p]!);
        out[o + 1] = byte(data[img + plane + p]!);
        out[o + 2] = byte(data[img + 2 * plane + p]!);
      }
      out[o + 3] = 255;
    }
  }
  return out;
}
