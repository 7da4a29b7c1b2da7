/**
 * Checkpoint files: the format (checkpoint-format.ts, which browsers use too) written
 * atomically and read with its full validation.
 */
import { existsSync, statSync } from 'node:fs';
import { writeFileAtomic, type AtomicWriteOptions } from '../io/atomic.js';
import { readSafetensorsFile } from '../io/safetensors-file.js';
import { CheckpointError, checkpointFromSafetensors, encodeCheckpoint, type CheckpointState, type LoadedCheckpoint } from './checkpoint-format.js';

export * from './checkpoint-format.js';

/**
 * Writes the checkpoint atomically (temporary file, fsync, rename), tensor by tensor: `path`
 * keeps its old content if anything fails, including finding a NaN or infinity in the state.
 */
export function saveCheckpoint(path: string, state: CheckpointState, options: AtomicWriteOptions = {}): void {
  writeFileAtomic(path, encodeCheckpoint(state), options);
}

/**
 * Reads and validates a checkpoint file (see parseCheckpoint), tensor by tensor: the file is
 * never in memory whole beside its tensors.
 */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  if (!existsSync(path)) throw new CheckpointError(`checkpoint not found: ${path}`);
  if (statSync(path).isDirectory()) throw new CheckpointError(`${path} is a folder, not a checkpoint file (did you mean ${path.replace(/\/$/, '')}/checkpoint.safetensors?)`);
  return checkpointFromSafetensors(() => readSafetensorsFile(path), path);
}
