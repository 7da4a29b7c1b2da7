import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /**
   * Called after each chunk is written, with the bytes written so far (a test seam: throwing
   * here simulates a failure in the middle of the write, e.g. a full disk).
   */
  afterChunk?: (written: number) => void;
}

const CHUNK = 1 << 20;

/** A file's content as chunks produced one at a time, with its total size (for messages). */
export interface SizedChunks extends Iterable<Uint8Array> {
  readonly byteLength: number;
}

/** `.<name>.<pid>.<random>.tmp`: the temporary files writeFileAtomic makes beside their target. */
const TEMP_PATTERN = /^\..+\.(?<pid>\d+)\.[a-z0-9]+\.tmp$/;

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
export function writeFileAtomic(path: string, content: Uint8Array | SizedChunks, options: AtomicWriteOptions = {}): void {
  const size = content instanceof Uint8Array ? content.length : content.byteLength;
  const temp = temporaryName(path);
  let fd: number;
  try {
    fd = openSync(temp, 'wx', 0o644);
  } catch (error) {
    // Name the file asked for, never the temporary one.
    throw writeError(path, size, error);
  }
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
  } catch (error) {
    throw writeError(path, size, error);
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

export interface StaleTemporaryOptions {
  /** Which names are temporaries; its named group `pid` is the writing process (default: writeFileAtomic's). */
  pattern?: RegExp;
  /** Leave this process's own temporaries (it may be writing one right now); default: remove them too. */
  keepOwn?: boolean;
}

/**
 * Removes temporary files that writeFileAtomic (or another writer naming them by `pattern`) left
 * in `dir` when its process was killed mid-write (SIGKILL, power loss): those of processes no
 * longer running, and this process's own unless `keepOwn`. Returns the names removed.
 */
export function removeStaleTemporaries(dir: string, options: StaleTemporaryOptions = {}): string[] {
  const pattern = options.pattern ?? TEMP_PATTERN;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.groups?.['pid']);
    if (!Number.isInteger(pid)) continue;
    if (pid === process.pid ? options.keepOwn === true : processAlive(pid)) continue;
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
