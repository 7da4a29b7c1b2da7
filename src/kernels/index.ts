import './js/index.js';
import './wasm/index.js';

export type { Backend, GemmParams, ConvGeometry, UnaryOp, BinaryOp, ScalarOp, AdamHyper, SgdHyper } from './backend.js';
export { registerBackend, setBackend, setBackendAsync, getBackend, getBackendName, listBackends, availableBackends, setThreads, getThreads, backendFailure } from './registry.js';
export { createJsBackend } from './js/index.js';
export { initWasm, type InitWasmOptions, type KernelSource } from './wasm/load.js';
