/**
 * Finds and compiles the kernels: the relaxed-SIMD build (fused multiply-add) where the engine
 * validates it, otherwise the plain SIMD build. Node 20 keeps relaxed SIMD behind a V8 flag,
 * which we set before compiling, so users never have to type it; browsers only validate.
 *
 * In Node the files are read synchronously, so `setBackend('wasm')` just works. Browsers
 * fetch them, which is asynchronous: `await initWasm()` (or `await setBackendAsync('wasm')`)
 * once, before the backend starts.
 */
import { loadPlatform, platform, type Platform } from './platform.js';

export interface LoadedKernels {
  module: WebAssembly.Module;
  relaxedSimd: boolean;
}

/** Where a kernel build comes from: a URL (string or URL), its bytes, or a compiled module. */
export type KernelSource = string | URL | ArrayBuffer | ArrayBufferView | WebAssembly.Module;
/** A source that still has to be fetched or compiled. */
type KernelBytesSource = string | URL | ArrayBuffer | ArrayBufferView;

export interface InitWasmOptions {
  /** The plain SIMD build (`kernels.wasm`); default: `dist/wasm/kernels.wasm` of this package. */
  kernels?: KernelSource;
  /** The relaxed-SIMD build (`kernels-relaxed.wasm`), tried first; `null` to use the plain build only. */
  relaxedKernels?: KernelSource | null;
}

/**
 * The kernel files relative to this module. In dist they sit at dist/wasm, two levels up from
 * dist/kernels/wasm/load.js; the literal `new URL('…', import.meta.url)` form is the one
 * bundlers follow to emit the files. Running from source (src/kernels/wasm/load.ts, Node
 * only) they are the build's dist/wasm; that URL's base is a variable so that bundlers leave it.
 */
function defaultUrls(relaxed: boolean): URL[] {
  const built = relaxed ? new URL('../../wasm/kernels-relaxed.wasm', import.meta.url) : new URL('../../wasm/kernels.wasm', import.meta.url);
  if (built.protocol !== 'file:') return [built];
  const here = import.meta.url;
  return [built, new URL(`../../../dist/wasm/${relaxed ? 'kernels-relaxed.wasm' : 'kernels.wasm'}`, here)];
}

let loaded: LoadedKernels | null = null;
let loading: Promise<LoadedKernels> | null = null;

/** Every host needs shared WebAssembly memory (browsers may refuse it to pages that are not cross-origin isolated). */
function checkSharedMemory(): void {
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    throw new Error('this engine cannot share WebAssembly memory (in a browser: serve the page cross-origin isolated)');
  }
}

function choose(p: Platform, relaxed: Uint8Array<ArrayBuffer> | null, plain: () => Uint8Array<ArrayBuffer> | null): { bytes: Uint8Array<ArrayBuffer>; relaxedSimd: boolean } {
  p.enableRelaxedSimd();
  if (relaxed !== null && WebAssembly.validate(relaxed)) return { bytes: relaxed, relaxedSimd: true };
  const bytes = plain();
  if (bytes === null) throw new Error('dist/wasm/kernels.wasm is missing: run `npm run build`');
  if (!WebAssembly.validate(bytes)) throw new Error('this engine lacks WebAssembly SIMD or threads');
  return { bytes, relaxedSimd: false };
}

function readFirst(p: Platform, urls: readonly URL[]): Uint8Array<ArrayBuffer> | null {
  for (const url of urls) {
    const bytes = p.readFileSync(url);
    if (bytes !== null) return bytes;
  }
  return null;
}

/** The compiled kernels, synchronously: in Node they are read on first use; elsewhere `initWasm()` must have run. */
export function loadKernels(): LoadedKernels {
  if (loaded !== null) return loaded;
  const p = platform();
  if (p === null || p.kind !== 'node') {
    throw new Error(p === null
      ? 'this Node.js (< 20.16) cannot load the kernels synchronously: `await initWasm()` first'
      : 'the kernels are not loaded yet: `await initWasm()` (or `await setBackendAsync(\'wasm\')`) first');
  }
  checkSharedMemory();
  const { bytes, relaxedSimd } = choose(p, readFirst(p, defaultUrls(true)), () => readFirst(p, defaultUrls(false)));
  loaded = { module: new WebAssembly.Module(bytes), relaxedSimd };
  return loaded;
}

async function bytesOf(p: Platform, source: KernelBytesSource): Promise<Uint8Array<ArrayBuffer> | null> {
  if (source instanceof ArrayBuffer) return new Uint8Array(source.slice(0));
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength) as ArrayBuffer);
  // A relative string resolves like fetch() would: against the page (or the worker's script).
  const url = source instanceof URL ? source : new URL(source, (globalThis as { location?: { href: string } }).location?.href ?? import.meta.url);
  return p.fetchBytes(url);
}

async function fetchFirst(p: Platform, sources: readonly KernelBytesSource[]): Promise<Uint8Array<ArrayBuffer> | null> {
  for (const source of sources) {
    const bytes = await bytesOf(p, source).catch(() => null);
    if (bytes !== null) return bytes;
  }
  return null;
}

async function initialise(options: InitWasmOptions): Promise<LoadedKernels> {
  const p = await loadPlatform();
  checkSharedMemory();
  // (WebAssembly.Module is an empty interface to TypeScript, so instanceof cannot narrow it away.)
  const { kernels, relaxedKernels } = options;
  if (relaxedKernels instanceof WebAssembly.Module) return { module: relaxedKernels, relaxedSimd: true };
  p.enableRelaxedSimd();
  if (relaxedKernels !== null) {
    const relaxed = await fetchFirst(p, relaxedKernels === undefined ? defaultUrls(true) : [relaxedKernels as KernelBytesSource]);
    if (relaxed !== null && WebAssembly.validate(relaxed)) return { module: await WebAssembly.compile(relaxed), relaxedSimd: true };
  }
  if (kernels instanceof WebAssembly.Module) return { module: kernels, relaxedSimd: false };
  const plain = await fetchFirst(p, kernels === undefined ? defaultUrls(false) : [kernels as KernelBytesSource]);
  if (plain === null) throw new Error(`cannot load the WebAssembly kernels from ${kernels === undefined ? defaultUrls(false)[0]!.href : String(kernels)}`);
  if (!WebAssembly.validate(plain)) throw new Error('this engine lacks WebAssembly SIMD or threads');
  return { module: await WebAssembly.compile(plain), relaxedSimd: false };
}

/**
 * Loads and compiles the WebAssembly kernels. Needed once in browsers (they fetch the files)
 * before the `wasm` backend starts; in Node it is optional. Options point at the files where a
 * bundler or server moved them. Later calls return the first result.
 */
export function initWasm(options: InitWasmOptions = {}): Promise<LoadedKernels> {
  if (loaded !== null) return Promise.resolve(loaded);
  loading ??= initialise(options).then(
    (kernels) => (loaded = kernels),
    (error: unknown) => {
      loading = null;
      throw error;
    },
  );
  return loading;
}
