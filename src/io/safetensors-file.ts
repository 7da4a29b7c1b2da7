/**
 * Reading safetensors files piece by piece (Node): the header first, then each tensor straight
 * into its own array, so a file is never held whole in memory next to its tensors — a
 * 256×256 run's checkpoint (pytorch/examples' widths) is 1.1 GB.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { sizeOf } from '../tensor/shape.js';
import { decodeToFloat32, DTYPE_BYTES, littleEndian } from './dtypes.js';
import { parseSafetensorsHeader, safetensorsHeaderLength, SafetensorsError, type SafetensorsFile, type SafetensorsLayout, type SafetensorsTensor } from './safetensors.js';

/** The most bytes one read asks for (reads of a few MiB stream as fast as larger ones). */
const READ_BYTES = 8 * 2 ** 20;

function readFully(fd: number, target: Uint8Array, position: number, source: string): void {
  for (let done = 0; done < target.length; ) {
    const got = readSync(fd, target, done, Math.min(READ_BYTES, target.length - done), position + done);
    if (got === 0) throw new SafetensorsError(`${source} is not a valid safetensors file: it ended early (it changed while being read?)`);
    done += got;
  }
}

function withFile<T>(path: string, use: (fd: number, length: number) => T): T {
  const fd = openSync(path, 'r');
  try {
    return use(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

function readLayout(fd: number, length: number, source: string): SafetensorsLayout {
  const first8 = new Uint8Array(Math.min(8, length));
  readFully(fd, first8, 0, source);
  const n = safetensorsHeaderLength(first8, length, source);
  const header = new Uint8Array(n);
  readFully(fd, header, 8, source);
  return parseSafetensorsHeader(header, length, source);
}

/** A safetensors file's metadata and layout, reading its header only. */
export function readSafetensorsLayout(path: string, source = path): SafetensorsLayout {
  return withFile(path, (fd, length) => readLayout(fd, length, source));
}

/**
 * Reads and validates a safetensors file as decodeSafetensors does, tensor by tensor: float32
 * data is read straight into its array, other dtypes through one tensor's bytes at a time.
 */
export function readSafetensorsFile(path: string, source = path): SafetensorsFile {
  return withFile(path, (fd, length) => {
    const { metadata, entries, dataStart } = readLayout(fd, length, source);
    const tensors = new Map<string, SafetensorsTensor>();
    for (const e of entries) {
      const count = sizeOf(e.shape);
      let data: Float32Array;
      if (e.dtype === 'F32' && littleEndian) {
        data = new Float32Array(count);
        readFully(fd, new Uint8Array(data.buffer), dataStart + e.begin, source);
      } else {
        const bytes = new Uint8Array(count * DTYPE_BYTES[e.dtype]);
        readFully(fd, bytes, dataStart + e.begin, source);
        data = decodeToFloat32(e.dtype, bytes, count);
      }
      tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
    }
    return { tensors, metadata };
  });
}
