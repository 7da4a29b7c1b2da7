export { Tensor, type GradFn } from './tensor.js';
export { Storage, memory, resetPeakMemory, beginStep, longLived, setAllocator, getAllocator, heapAllocator, type Allocator, type MemoryInfo } from './memory.js';
export { tidy, keep } from './scope.js';
export { Generator, defaultGenerator, manualSeed, type GeneratorState } from './random.js';
export * from './shape.js';
