/** Output files and folders under failure: ENOSPC and missing folders named clearly, ensureDir's checks. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freeBytes, writeFileAtomic, WriteError } from '../src/io/atomic.js';
import { ensureDir, FolderError } from '../src/io/dirs.js';

const dir = mkdtempSync(join(tmpdir(), 'dcgan-iofail-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function enospc(): never {
  throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}

describe('writeFileAtomic failures', () => {
  it('a full disk names the file, the bytes needed and the free bytes; the old file stays, no temporary file', () => {
    const path = join(dir, 'full.bin');
    writeFileSync(path, 'old');
    const bytes = new Uint8Array(3 << 20);
    assert.throws(
      () => writeFileAtomic(path, bytes, { afterChunk: enospc }),
      (error: unknown) => {
        assert.ok(error instanceof WriteError);
        assert.equal(error.code, 'ENOSPC');
        assert.match(error.message, new RegExp(`^cannot write ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the disk is full: it needs 3145728 bytes \\(3\\.0 MiB\\), \\d+ bytes.* free in `));
        assert.ok(!error.message.includes('.tmp'), error.message);
        assert.ok(!error.message.includes('\n'));
        return true;
      },
    );
    assert.equal(readFileSync(path, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    assert.ok((freeBytes(dir) ?? -1) >= 0);
  });

  it('EDQUOT is reported as an exceeded quota', () => {
    const path = join(dir, 'quota.bin');
    assert.throws(
      () => writeFileAtomic(path, new Uint8Array(10), { afterChunk: () => { throw Object.assign(new Error('EDQUOT'), { code: 'EDQUOT' }); } }),
      /cannot write .*quota\.bin: the disk quota is exceeded: it needs 10 bytes/,
    );
  });

  it('a missing folder is named, not the temporary file', () => {
    const path = join(dir, 'missing', 'x.png');
    assert.throws(() => writeFileAtomic(path, new Uint8Array(1)), (error: unknown) => {
      assert.ok(error instanceof WriteError);
      assert.equal(error.message, `cannot write ${path}: the folder ${join(dir, 'missing')} does not exist (ENOENT)`);
      return true;
    });
  });
});

describe('ensureDir', () => {
  it('creates missing parents and reports the topmost one created; an existing folder is fine', () => {
    const target = join(dir, 'a', 'b', 'c');
    assert.equal(ensureDir(target), join(dir, 'a'));
    assert.ok(existsSync(target));
    assert.equal(ensureDir(target), null);
  });

  it('refuses a path under a file, /proc/x and a file, in one line, without looping', () => {
    const file = join(dir, 'file');
    writeFileSync(file, '');
    assert.throws(() => ensureDir(join(file, 'x', 'y'), '--out'), (e: unknown) => e instanceof FolderError && /^--out .*file\/x\/y: cannot create the folder: .*file is a file, not a folder$/.test(e.message));
    assert.throws(() => ensureDir(file, '--out'), /--out .*file: cannot create the folder: it is a file, not a folder/);
    if (existsSync('/proc/self')) {
      const started = Date.now();
      assert.throws(() => ensureDir('/proc/x/y'), /cannot create the folder \/proc\/x\/y: \/proc does not accept new folders/);
      assert.ok(Date.now() - started < 1000);
    }
  });
});

describe('ensureDir on an existing folder', () => {
  it('a read-only existing folder says it cannot be written into', { skip: process.getuid?.() === 0 ? 'running as root: permissions do not apply' : false }, async () => {
    const { chmodSync, mkdirSync } = await import('node:fs');
    const ro = join(dir, 'ro-existing');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    try {
      assert.throws(() => ensureDir(ro, '--resume'), /^FolderError: --resume .*ro-existing: cannot write into the folder: no permission$/);
    } finally {
      chmodSync(ro, 0o755);
    }
  });
});
