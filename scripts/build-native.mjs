#!/usr/bin/env node
/**
 * Builds the optional native backend (native/, a Node-API addon over OpenBLAS) at install time.
 * It never fails the install: without OpenBLAS (`apt-get install libopenblas-dev`), without a
 * compiler, or when node-gyp fails, it says why in one line and the wasm backend is used.
 * Prefers OpenBLAS built for OpenMP (libopenblas0-openmp), so that its threads and our
 * kernels' OpenMP threads are one pool. DCGAN_NATIVE=0 skips the build; DCGAN_NATIVE_MARCH sets
 * -march (default native: the addon is built on the machine that runs it); DCGAN_OPENBLAS_LIB
 * names the OpenBLAS library file to link. oneDNN (`apt-get install libdnnl-dev`) is optional: where
 * it is found, its direct convolutions are compiled in (DCGAN_DNNL=0 leaves them out), and
 * where the build with it fails, the addon is built without it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const statusFile = join(nativeDir, 'build', 'status.json');
const HOW = 'install OpenBLAS (Debian/Ubuntu: apt-get install libopenblas-dev libopenblas0-openmp) and run `npm rebuild dcgan-ts` (or `npm run build:native` in a clone)';

function finish(built, reason, record = true) {
  if (record) {
    mkdirSync(dirname(statusFile), { recursive: true });
    writeFileSync(statusFile, JSON.stringify({ built, reason, how: HOW }, null, 2) + '\n');
  }
  if (built) console.log(`dcgan-ts: native backend built (${reason})`);
  else console.log(`dcgan-ts: native backend not built — ${reason}. The WebAssembly backend will be used; for the faster one, ${HOW}.`);
  process.exit(0);
}

// Skipping leaves an earlier build alone (the backend itself is off at run time with DCGAN_NATIVE=0).
if (process.env.DCGAN_NATIVE === '0') finish(false, 'skipped (DCGAN_NATIVE=0)', false);
if (process.platform !== 'linux') finish(false, `the native backend is built on Linux only (this is ${process.platform})`);

const multiarch = process.arch === 'x64' ? 'x86_64-linux-gnu' : process.arch === 'arm64' ? 'aarch64-linux-gnu' : null;
const libDirs = [multiarch && `/usr/lib/${multiarch}`, '/usr/lib64', '/usr/lib', '/usr/local/lib'].filter(Boolean);
const headerDirs = [multiarch && `/usr/include/${multiarch}`, '/usr/include', '/usr/include/openblas', '/usr/local/include'].filter(Boolean);

const header = headerDirs.find((d) => existsSync(join(d, 'cblas.h')) && existsSync(join(d, 'openblas_config.h')));
if (header === undefined) finish(false, 'OpenBLAS headers (cblas.h) not found');

// DCGAN_OPENBLAS_LIB names the library (another build, e.g. in /opt); otherwise OpenMP
// OpenBLAS first (one thread pool with our kernels), then whatever libopenblas.so is.
let lib = null;
const chosen = process.env.DCGAN_OPENBLAS_LIB;
if (chosen) {
  if (!existsSync(chosen)) finish(false, `DCGAN_OPENBLAS_LIB=${chosen} does not exist`);
  lib = { file: chosen, dir: dirname(chosen), threading: 'OpenBLAS' };
}
for (const dir of lib === null ? libDirs : []) {
  const openmp = join(dir, 'openblas-openmp', 'libopenblas.so.0');
  if (existsSync(openmp)) {
    lib = { file: openmp, dir: dirname(openmp), threading: 'OpenMP OpenBLAS' };
    break;
  }
}
if (lib === null) {
  for (const dir of libDirs) {
    if (existsSync(join(dir, 'libopenblas.so'))) {
      lib = { file: join(dir, 'libopenblas.so'), dir, threading: 'OpenBLAS' };
      break;
    }
  }
}
if (lib === null) finish(false, 'the OpenBLAS library (libopenblas.so) not found');

// node-gyp: on PATH inside npm scripts; otherwise the copy bundled with npm.
const require = createRequire(import.meta.url);
let gyp = ['node-gyp'];
if (spawnSync('node-gyp', ['--version'], { stdio: 'ignore' }).status !== 0) {
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  let found = existsSync(bundled) ? bundled : null;
  if (found === null) {
    try {
      found = require.resolve('node-gyp/bin/node-gyp.js');
    } catch {
      finish(false, 'node-gyp not found (it comes with npm)');
    }
  }
  gyp = [process.execPath, found];
}

// Node's own headers next to its binary (Debian's nodejs, official tarballs): no download,
// which would fail on a machine without internet. npm's nodedir setting, when given, wins.
const localHeaders = join(dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir || (existsSync(join(localHeaders, 'include', 'node', 'node_api.h')) ? localHeaders : null);
// An empty value counts as unset (it would leave -march= without an argument).
const march = process.env.DCGAN_NATIVE_MARCH || 'native';
// oneDNN, optional: its headers and library, or one line saying what is missing.
let dnnl = null;
let dnnlNote = '';
if (process.env.DCGAN_DNNL === '0') dnnlNote = 'oneDNN left out (DCGAN_DNNL=0)';
else {
  const dnnlHeader = headerDirs.find((d) => existsSync(join(d, 'dnnl.h')) || existsSync(join(d, 'oneapi', 'dnnl', 'dnnl.h')));
  const dnnlDir = libDirs.find((d) => existsSync(join(d, 'libdnnl.so')));
  if (dnnlHeader === undefined || dnnlDir === undefined) dnnlNote = `no oneDNN (${dnnlHeader === undefined ? 'dnnl.h' : 'libdnnl.so'} not found; apt-get install libdnnl-dev for its direct convolutions)`;
  else dnnl = { file: join(dnnlDir, 'libdnnl.so'), dir: dnnlDir, include: dnnlHeader };
}
const args = ['rebuild', `--directory=${nativeDir}`, ...(nodedir ? [`--nodedir=${nodedir}`] : []), `--openblas_include=${header}`, `--openblas_lib=${lib.file}`, `--openblas_dir=${lib.dir}`, `--march=${march}`];
const dnnlArgs = dnnl === null ? [] : ['--dnnl=1', `--dnnl_lib=${dnnl.file}`, `--dnnl_dir=${dnnl.dir}`, `--dnnl_include=${dnnl.include}`];
const addon = join(nativeDir, 'build', 'Release', 'dcgan_native.node');
const gypRun = (extra) => spawnSync(gyp[0], [...gyp.slice(1), ...args, ...extra], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
let result = gypRun(dnnlArgs);
if (dnnl !== null && (result.status !== 0 || !existsSync(addon))) {
  dnnlNote = 'oneDNN found but the build with it failed, built without it';
  dnnl = null;
  result = gypRun([]);
}
if (dnnl !== null) dnnlNote = `oneDNN from ${dnnl.file}`;
if (result.status !== 0 || !existsSync(addon)) {
  rmSync(addon, { force: true });
  const log = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').filter((l) => /error/i.test(l)).slice(0, 3).join(' | ');
  finish(false, `node-gyp failed${log ? `: ${log}` : result.error ? `: ${result.error.message}` : ''}`);
}
finish(true, `${lib.threading} from ${lib.file}, ${dnnlNote}, -march=${march}`);
