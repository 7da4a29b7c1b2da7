/**
 * Creating output folders without surprises. `mkdirSync(path, { recursive: true })` can spin
 * forever where the file system answers ENOENT for a folder whose parent exists (/proc/x), and
 * its errors name whichever component failed. ensureDir walks the parent chain once (bounded by
 * the number of path components), checks that the deepest existing ancestor is a writable folder,
 * then creates each missing folder with a plain mkdir, turning every failure into one line that
 * names the folder asked for and the reason.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A folder that cannot be created or used; the message is one line naming it. */
export class FolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FolderError';
  }
}

function code(error: unknown): string {
  return (error as NodeJS.ErrnoException | null)?.code ?? 'error';
}

function reason(error: unknown, where: string): string {
  switch (code(error)) {
    case 'EACCES':
    case 'EPERM':
      return `no permission to create folders in ${where}`;
    case 'EROFS':
      return `${where} is on a read-only file system`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `the disk holding ${where} is full`;
    case 'ENOENT':
      return `${where} does not accept new folders`;
    case 'ENOTDIR':
      return `${where} is not a folder`;
    case 'ENAMETOOLONG':
      return 'the name is too long';
    default:
      return (error as Error)?.message ?? String(error);
  }
}

/**
 * Makes sure `path` is a writable folder, creating it and any missing parents. `label` (a flag
 * such as '--out') starts the error message. Returns the topmost folder it created, or null when
 * `path` already existed.
 */
export function ensureDir(path: string, label?: string): string | null {
  const target = resolve(path);
  let exists = false;
  const fail = (problem: string): never => {
    const what = exists ? 'cannot write into the folder' : 'cannot create the folder';
    throw new FolderError(label !== undefined ? `${label} ${path}: ${what}: ${problem}` : `${what} ${path}: ${problem}`);
  };
  const missing: string[] = [];
  let existing: string | null = null;
  // At most one step per path component: dirname() of the root is the root.
  for (let dir = target; ; dir = dirname(dir)) {
    try {
      const stats = statSync(dir);
      if (!stats.isDirectory()) fail(dir === target ? 'it is a file, not a folder' : `${dir} is a file, not a folder`);
      existing = dir;
      break;
    } catch (error) {
      if (error instanceof FolderError) throw error;
      const c = code(error);
      if (c !== 'ENOENT' && c !== 'ENOTDIR') fail(reason(error, dir));
      missing.push(dir);
      if (dirname(dir) === dir) break;
    }
  }
  if (existing === null) fail('no part of the path exists');
  const base = existing as string;
  exists = missing.length === 0;
  try {
    accessSync(base, constants.W_OK | constants.X_OK);
  } catch (error) {
    if (exists) fail(code(error) === 'EROFS' ? 'it is on a read-only file system' : 'no permission');
    fail(reason(error, base));
  }
  let created: string | null = null;
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (error) {
      if (code(error) === 'EEXIST' && statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
      fail(reason(error, dirname(dir)));
    }
    created ??= dir;
  }
  return created;
}
