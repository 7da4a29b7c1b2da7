/**
 * Finds and compiles the kernels: the relaxed-SIMD build (fused multiply-add) where the engine
 * validates it, otherwise the plain SIMD build. Node 20 keeps relaxed SIMD behind a V8 flag,
 * which we set before compiling, so users never have to type it.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

export interface LoadedKernels {
  module: WebAssembly.Module;
  relaxedSimd: boolean;
}

let flagSet = false;

function wasmFile(name: string): URL {
  // Both src/kernels/wasm/load.ts and dist/kernels/wasm/load.js sit three levels below the package root.
  return new URL(`../../../dist/wasm/${name}`, import.meta.url);
}

export function loadKernels(): LoadedKernels {
  if (typeof SharedArrayBuffer === 'undefined') throw new Error('SharedArrayBuffer is not available');
  if (!flagSet) {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    flagSet = true;
  }
  let plain: Uint8Array<ArrayBuffer>;
  try {
    plain = new Uint8Array(readFileSync(wasmFile('kernels.wasm')));
  } catch {
    throw new Error('dist/wasm/kernels.wasm is missing: run `npm run build`');
  }
  if (!WebAssembly.validate(plain)) throw new Error('this engine lacks WebAssembly SIMD or threads');
  try {
    const relaxed = new Uint8Array(readFileSync(wasmFile('kernels-relaxed.wasm')));
    if (WebAssembly.validate(relaxed)) return { module: new WebAssembly.Module(relaxed), relaxedSimd: true };
  } catch {
    // fall through to the plain build
  }
  return { module: new WebAssembly.Module(plain), relaxedSimd: false };
}
