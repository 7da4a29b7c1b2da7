import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /**
   * Called after each chunk is written, with the bytes written so far (a test seam: throwing
   * here simulates a failure in the middle of the write, e.g. a full disk).
   */
  afterChunk?: (written: number) => void;
}

const CHUNK = 1 << 20;

/** `.<name>.<pid>.<random>.tmp`: the temporary files writeFileAtomic makes beside their target. */
const TEMP_PATTERN = /^\..+\.(\d+)\.[a-z0-9]+\.tmp$/;

function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
}

/**
 * Writes `content` (bytes, or chunks produced one at a time so that a large file never sits in
 * memory whole) to `path` so that `path` always holds either its old content or the complete
 * new one: the data goes to a temporary file in the same folder, is flushed to disk (fsync),
 * and only then renamed over `path` (rename within a file system is atomic). On any failure the
 * temporary file is removed and `path` is untouched.
 */
export function writeFileAtomic(path: string, content: Uint8Array | Iterable<Uint8Array>, options: AtomicWriteOptions = {}): void {
  const temp = temporaryName(path);
  const fd = openSync(temp, 'wx', 0o644);
  let renamed = false;
  try {
    try {
      let written = 0;
      for (const chunk of content instanceof Uint8Array ? [content] : content) {
        for (let at = 0; at < chunk.length; ) {
          const n = writeSync(fd, chunk, at, Math.min(CHUNK, chunk.length - at));
          at += n;
          written += n;
          options.afterChunk?.(written);
        }
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    renamed = true;
    syncDirectory(dirname(path));
  } finally {
    if (!renamed) rmSync(temp, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary files that writeFileAtomic left in `dir` when its process was killed
 * mid-write (SIGKILL, power loss): those of processes no longer running, and this process's
 * own (none is being written while this runs). Returns the names removed.
 */
export function removeStaleTemporaries(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMP_PATTERN.exec(name);
    if (match === null) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && processAlive(pid)) continue;
    rmSync(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
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
