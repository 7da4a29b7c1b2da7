import { closeSync, fsyncSync, openSync, renameSync, rmSync, statfsSync, writeSync } from 'node:fs';
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
  let fd: number;
  try {
    fd = openSync(temp, 'wx', 0o644);
  } catch (error) {
    // Name the file asked for, never the temporary one.
    throw writeError(path, bytes.length, error);
  }
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
  } catch (error) {
    throw writeError(path, bytes.length, error);
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

/** A file that could not be written; the message is one line naming it (never the temporary file). */
export class WriteError extends Error {
  constructor(
    message: string,
    /** The system error code (ENOSPC, EACCES…), when there was one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'WriteError';
  }
}

/** Free bytes for unprivileged users on the file system holding `dir`, or null when unknown. */
export function freeBytes(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${n} bytes (${v.toFixed(1)} ${units[u]})`;
}

/** Turns a failure while writing `path` (`size` bytes) into a one-line WriteError. */
export function writeError(path: string, size: number, error: unknown): Error {
  if (error instanceof WriteError) return error;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const dir = dirname(path);
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT': {
      const free = freeBytes(dir);
      const what = code === 'EDQUOT' ? 'the disk quota is exceeded' : 'the disk is full';
      return new WriteError(`cannot write ${path}: ${what}: it needs ${formatBytes(size)}, ${free === null ? 'an unknown amount' : formatBytes(free)} free in ${dir} (${code})`, code);
    }
    case 'ENOENT':
      return new WriteError(`cannot write ${path}: the folder ${dir} does not exist (${code})`, code);
    case 'ENOTDIR':
      return new WriteError(`cannot write ${path}: ${dir} is not a folder (${code})`, code);
    case 'EACCES':
    case 'EPERM':
      return new WriteError(`cannot write ${path}: no permission to create files in ${dir} (${code})`, code);
    case 'EROFS':
      return new WriteError(`cannot write ${path}: ${dir} is on a read-only file system (${code})`, code);
    case 'EISDIR':
      return new WriteError(`cannot write ${path}: it is a folder (${code})`, code);
    default:
      // Not a file-system failure we recognise (e.g. a test's injected error): keep it as it is.
      return error instanceof Error ? error : new Error(String(error));
  }
}
