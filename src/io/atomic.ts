import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /**
   * Called after each chunk is written, with the bytes written so far (a test seam: throwing
   * here simulates a failure in the middle of the write, e.g. a full disk).
   */
  afterChunk?: (written: number) => void;
}

const CHUNK = 1 << 20;

/**
 * Writes `bytes` to `path` so that `path` always holds either its old content or the complete
 * new one: the data goes to a temporary file in the same folder, is flushed to disk (fsync),
 * and only then renamed over `path` (rename within a file system is atomic). On any failure the
 * temporary file is removed and `path` is untouched.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, options: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
  const fd = openSync(temp, 'wx', 0o644);
  let renamed = false;
  try {
    try {
      let written = 0;
      while (written < bytes.length) {
        written += writeSync(fd, bytes, written, Math.min(CHUNK, bytes.length - written));
        options.afterChunk?.(written);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    renamed = true;
    syncDirectory(dir);
  } finally {
    if (!renamed) rmSync(temp, { force: true });
  }
}

/** Makes the rename itself durable where the platform allows fsync on a directory. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not supported everywhere (e.g. Windows); the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
