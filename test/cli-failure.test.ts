/**
 * Failure behaviour of the real CLI (issue 10): a closed stdout, stop signals other than Ctrl-C,
 * folders that cannot be created, and the messages of a few failures. Every command runs from the
 * sources (test/dcgan-from-source.ts) on tiny settings.
 */
import assert from 'node:assert/strict';
import { spawn, type StdioOptions } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI_ENTRY, CLI_ENV, nonEmptyLines, runCli, TSX, type CliRun } from './cli-run.js';
import '../src/index.js';
import { loadCheckpoint } from '../src/train/index.js';
import { claimingPng, encodePng, pixels } from './data/helpers.js';

const entry = CLI_ENTRY;
const tsx = TSX;
const work = mkdtempSync(join(tmpdir(), 'dcgan-fail-'));
after(() => rmSync(work, { recursive: true, force: true }));

const TINY = ['--threads', '1', '--image-size', '16', '--ngf', '8', '--ndf', '8', '--nz', '16', '--batch-size', '8', '--sample-every', '0'];
const env = CLI_ENV;

type Run = CliRun;
const dcgan = (...args: string[]): Run => runCli(work, args);
const lines = nonEmptyLines;

function assertOneLineError(run: Run, message: RegExp): void {
  assert.notEqual(run.status, 0, `expected a failure:\n${run.stdout}\n${run.stderr}`);
  const errLines = lines(run.stderr);
  assert.equal(errLines.length, 1, `expected one line on stderr, got:\n${run.stderr}`);
  assert.match(errLines[0]!, /^dcgan: /);
  assert.match(errLines[0]!, message);
  assert.ok(!/^\s+at /m.test(run.stderr + run.stdout), 'no stack trace');
}

/** The run folder a finished or stopped run must leave: a loadable checkpoint and the report. */
function assertRunFolder(out: string, step: number): void {
  const checkpoint = loadCheckpoint(join(out, 'checkpoint.safetensors'));
  assert.equal(checkpoint.step, step);
  assert.ok(existsSync(join(out, 'report.html')), 'report.html');
  assert.deepEqual(readdirSync(out).filter((f) => f.endsWith('.tmp')), [], 'no temporary files');
}

interface Spawned {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI; `onLine` sees each stdout line (with the child, to signal it or close its
 * stdout). `stdio` replaces the default pipes.
 */
function spawnDcgan(args: string[], onLine?: (line: string, child: ReturnType<typeof spawn>) => void, stdio?: StdioOptions): Promise<Spawned> {
  const child = spawn(process.execPath, ['--import', tsx, entry, ...args], { cwd: work, env, stdio: stdio ?? 'pipe' });
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', (d: Buffer) => {
    const text = d.toString();
    stdout += text;
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      onLine?.(line, child);
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out; stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, 90_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('a closed stdout never stops training', () => {
  test('`dcgan train --json | head -1`: the reader goes away after one line; the run finishes, exit 0', async () => {
    const out = join(work, 'epipe');
    let closed = false;
    const run = await spawnDcgan(['train', ...TINY, '--steps', '30', '--log-every', '1', '--json', '--out', out], (_line, child) => {
      if (closed) return;
      closed = true;
      child.stdout!.destroy(); // as head does after its first line
    });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!/^\s+at /m.test(run.stderr), `no stack trace:\n${run.stderr}`);
    assert.match(run.stderr, /stdout is closed \(EPIPE\)/);
    assert.equal(lines(run.stderr).length, 1, run.stderr);
    assertRunFolder(out, 30);
  });

  test('stdout to /dev/full (ENOSPC on every write): the run finishes, exit 0', { skip: !existsSync('/dev/full') }, async () => {
    const out = join(work, 'devfull');
    const full = openSync('/dev/full', 'w');
    try {
      const run = await spawnDcgan(['train', ...TINY, '--steps', '30', '--log-every', '1', '--json', '--out', out], undefined, ['ignore', full, 'pipe']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /stdout is closed \(ENOSPC\)/);
      assertRunFolder(out, 30);
    } finally {
      closeSync(full);
    }
  });

  test('stdout and stderr both to /dev/full, progress lines (not --json): exit 0, nothing lost', { skip: !existsSync('/dev/full') }, async () => {
    const out = join(work, 'devfull-both');
    const full = openSync('/dev/full', 'w');
    try {
      const run = await spawnDcgan(['train', ...TINY, '--steps', '20', '--log-every', '1', '--out', out], undefined, ['ignore', full, full]);
      assert.equal(run.code, 0);
      assertRunFolder(out, 20);
    } finally {
      closeSync(full);
    }
  });
});

describe('SIGTERM and SIGHUP stop `dcgan train` as Ctrl-C does', () => {
  for (const [signal, status] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    test(`${signal} after a few steps: checkpoint and report written, exit ${status}, --resume continues`, async () => {
      const out = join(work, `signal-${signal}`);
      let steps = 0;
      let sent = false;
      const run = await spawnDcgan(['train', ...TINY, '--steps', '100000', '--log-every', '1', '--json', '--out', out], (line, child) => {
        if ((JSON.parse(line) as { event: string }).event === 'step' && ++steps === 3 && !sent) {
          sent = true;
          child.kill(signal);
        }
      });
      assert.equal(run.code, status, run.stderr);
      assert.ok(!/^\s+at /m.test(run.stderr), run.stderr);
      const end = JSON.parse(lines(run.stdout).at(-1)!) as { event: string; status: string; step: number };
      assert.equal(end.event, 'end');
      assert.equal(end.status, 'interrupted');
      assert.ok(end.step >= 3);
      assertRunFolder(out, end.step);
      const resumed = dcgan('train', '--resume', out, '--steps', String(end.step + 2), '--threads', '1', '--json');
      assert.equal(resumed.status, 0, resumed.stderr);
      assertRunFolder(out, end.step + 2);
    });
  }
});

describe('folders the CLI cannot create fail fast with one line', () => {
  const file = join(work, 'a-file');
  writeFileSync(file, 'not a folder');
  const cases: Array<[string, string[], RegExp]> = [
    ['train --out /proc/x', ['train', ...TINY, '--steps', '2', '--out', '/proc/x'], /^dcgan: --out \/proc\/x: cannot create the folder: \/proc does not accept new folders/],
    ['train --out under a file', ['train', ...TINY, '--steps', '2', '--out', join(file, 'run')], /--out .*a-file\/run: cannot create the folder: .*a-file is a file, not a folder/],
    ['train --out a file', ['train', ...TINY, '--steps', '2', '--out', file], /--out .*a-file is a file, not a folder/],
    ['sample --individual /proc/x', ['sample', '--checkpoint', 'none', '--individual', '/proc/x'], /--individual \/proc\/x: cannot create the folder/],
    ['sample --individual under a file', ['sample', '--checkpoint', 'none', '--individual', join(file, 'x', 'y')], /--individual .*a-file\/x\/y: cannot create the folder: .*a-file is a file, not a folder/],
    ['sample --out in a missing folder names the folder', ['sample', '--checkpoint', 'none', '--out', join(work, 'no-such-dir', 'grid.png')], /--out .*no-such-dir\/grid\.png: the folder .*no-such-dir does not exist/],
  ];
  for (const [name, args, message] of cases) {
    test(name, () => {
      const started = Date.now();
      const run = dcgan(...args);
      assertOneLineError(run, message);
      assert.ok(!/\.tmp\b/.test(run.stderr), 'no temporary file name');
      assert.ok(Date.now() - started < 30_000, 'fails fast');
    });
  }

  test('train --out in a read-only folder', { skip: process.getuid?.() === 0 ? 'running as root: permissions do not apply' : false }, () => {
    const ro = join(work, 'read-only');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    try {
      assertOneLineError(dcgan('train', ...TINY, '--steps', '2', '--out', join(ro, 'run')), /--out .*read-only\/run: cannot create the folder: no permission/);
    } finally {
      chmodSync(ro, 0o755);
    }
  });
});

describe('decompression bombs in an image folder', () => {
  const folder = join(work, 'images');
  mkdirSync(folder);
  for (let i = 0; i < 8; i++) {
    writeFileSync(join(folder, `img${i}.png`), encodePng({ width: 16, height: 16, colorType: 2, samples: pixels(16, 16, (x, y) => [x * 16, y * 16, i * 30]) }));
  }
  writeFileSync(join(folder, 'bomb.png'), claimingPng(20000, 20000));

  test('train skips the 74-byte 20000×20000 PNG with one warning and trains on the rest', () => {
    const out = join(work, 'bomb-run');
    const run = dcgan('train', ...TINY, '--data', folder, '--steps', '1', '--json', '--out', out);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(lines(run.stderr), [`warning: ${folder}: skipped 1 file larger than the limit of 64000000 pixels (bomb.png 20000×20000; raise it with --max-image-pixels)`]);
    assertRunFolder(out, 1);
  });

  test('--max-image-pixels lowers the limit; nothing left is one line naming it', () => {
    assertOneLineError(dcgan('train', ...TINY, '--data', folder, '--steps', '1', '--max-image-pixels', '255', '--out', join(work, 'bomb-run2')), /no readable images in .*: all 9 image files were skipped: 9 files larger than the limit of 255 pixels/);
    assertOneLineError(dcgan('train', '--max-image-pixels', '0'), /--max-image-pixels must be an integer ≥ 1, got '0'/);
  });
});

describe('clear messages', () => {
  test('explain --input 300 says the matrix is too large and states the limit', () => {
    const run = dcgan('explain', '--input', '300');
    assertOneLineError(run, /--input 300: the matrix C would be 88804×90000 .* more than the limit of 16777216 entries/);
    assert.equal(run.status, 2);
  });
});
