// Compiles the AssemblyScript kernels twice: plain SIMD, and with relaxed-SIMD fused
// multiply-add for engines that have it (chosen at load time). Runs as part of `npm run build`.
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';

const entry = 'src/kernels/wasm/assembly/index.ts';
mkdirSync('dist/wasm', { recursive: true });
const common = [
  '--importMemory', '--sharedMemory', '--initialMemory', '32', '--maximumMemory', '65536',
  '--runtime', 'stub', '-O3', '--noAssert',
];
for (const [file, features] of [['kernels.wasm', 'simd,threads'], ['kernels-relaxed.wasm', 'simd,threads,relaxed-simd']]) {
  const { error, stderr } = await asc.main([entry, '-o', `dist/wasm/${file}`, '--enable', features, ...common]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build-wasm: compiling ${file} failed: ${error.message}`);
    process.exit(1);
  }
}
