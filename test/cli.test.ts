/**
 * End to end: the built `dcgan` command, run as a user runs it (node bin/dcgan.js …).
 * `npm test` builds dist/ first; run `npm run build` before running this file on its own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';

const root = fileURLToPath(new URL('..', import.meta.url));
const builtEntry = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function dcgan(...args: string[]): Run {
  const result = spawnSync(process.execPath, ['bin/dcgan.js', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, DCGAN_DEBUG: '', NO_COLOR: '1' },
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Non-empty lines of a stream. */
function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

function assertNoStack(run: Run): void {
  assert.ok(!/^\s{4}at /m.test(run.stderr), `stack trace on stderr:\n${run.stderr}`);
  assert.ok(!/^\s{4}at /m.test(run.stdout), `stack trace on stdout:\n${run.stdout}`);
}

interface ExplainJson {
  spec: { inputH: number; inputW: number; kernelH: number; kernelW: number; stride: number; padding: number };
  output: { height: number; width: number };
  outputPadding: number;
  C: { rows: number; cols: number; entries: string[][] };
  CT: { rows: number; cols: number; entries: string[][] };
  kernel: number[];
  checks: Array<{ name: string; ok: boolean }>;
  ok: boolean;
}

before(() => {
  assert.ok(existsSync(builtEntry), `${builtEntry} is missing: run \`npm run build\` first (npm test does it)`);
});

describe('dcgan explain', () => {
  test('prints C (4×16), Cᵀ (16×4), three passing checks and the conclusion; exits 0', () => {
    const run = dcgan('explain');
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /C \(4×16\)/);
    assert.match(run.stdout, /Cᵀ \(16×4\)/);
    assert.match(run.stdout, /output 2×2/);
    const ticks = lines(run.stdout).filter((l) => /^\s*✓/.test(l));
    assert.equal(ticks.length, 3, `expected three ✓ lines:\n${run.stdout}`);
    assert.ok(!run.stdout.includes('✗'));
    assert.match(run.stdout, /Both checks hold/);
    // The printed C has one line per output pixel (y0..y3), each with 9 weights and 7 zeros.
    const cRows = lines(run.stdout).filter((l) => /^\s*y\d+\s+(w\(|·)/.test(l));
    assert.equal(cRows.length, 4);
    for (const row of cRows) {
      assert.equal(row.match(/w\(\d,\d\)/g)?.length, 9, row);
      assert.equal(row.match(/·/g)?.length, 7, row);
    }
  });

  test('--json prints one valid JSON object with C (4×16) and Cᵀ (16×4)', () => {
    const run = dcgan('explain', '--json');
    assert.equal(run.status, 0, run.stderr);
    const json = JSON.parse(run.stdout) as ExplainJson;
    assert.equal(json.ok, true);
    assert.equal(json.C.rows, 4);
    assert.equal(json.C.cols, 16);
    assert.equal(json.C.entries.length, 4);
    assert.equal(json.C.entries[0]!.length, 16);
    assert.equal(json.C.entries[0]![0], 'w(0,0)');
    assert.equal(json.C.entries[3]![5], 'w(0,0)');
    assert.equal(json.CT.rows, 16);
    assert.equal(json.CT.cols, 4);
    assert.equal(json.CT.entries[15]![3], 'w(2,2)');
    assert.deepEqual(json.output, { height: 2, width: 2 });
    assert.equal(json.kernel.length, 9);
    assert.equal(json.checks.length, 3);
    assert.ok(json.checks.every((c) => c.ok));
  });

  test('--input 5 --kernel 3 --stride 2 --padding 1 reports a 3×3 output', () => {
    const run = dcgan('explain', '--input', '5', '--kernel', '3', '--stride', '2', '--padding', '1');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /input 5×5, kernel 3×3, stride 2, padding 1 → output 3×3/);
    assert.match(run.stdout, /C \(9×25\)/);
    assert.match(run.stdout, /Cᵀ \(25×9\)/);
    assert.match(run.stdout, /Both checks hold/);

    const json = JSON.parse(dcgan('explain', '--input', '5', '--kernel', '3', '--stride', '2', '--padding', '1', '--json').stdout) as ExplainJson;
    assert.deepEqual(json.output, { height: 3, width: 3 });
    assert.equal(json.C.rows, 9);
    assert.equal(json.C.cols, 25);
    assert.equal(json.ok, true);
  });

  test('--seed changes the random kernel used for the checks, and the same seed repeats it', () => {
    const a = JSON.parse(dcgan('explain', '--json', '--seed', '1').stdout) as ExplainJson;
    const b = JSON.parse(dcgan('explain', '--json', '--seed', '1').stdout) as ExplainJson;
    const c = JSON.parse(dcgan('explain', '--json', '--seed', '2').stdout) as ExplainJson;
    assert.deepEqual(a.kernel, b.kernel);
    assert.notDeepEqual(a.kernel, c.kernel);
  });

  test('a kernel larger than the padded input: non-zero exit, one line on stderr, no stack trace', () => {
    const run = dcgan('explain', '--input', '2', '--kernel', '3');
    assert.notEqual(run.status, 0);
    assert.equal(run.stdout, '');
    const errLines = lines(run.stderr);
    assert.equal(errLines.length, 1, `expected one line on stderr, got:\n${run.stderr}`);
    assert.match(errLines[0]!, /larger than the padded input/);
    assertNoStack(run);
  });

  test('--stride 0: non-zero exit with a one-line error naming --stride', () => {
    const run = dcgan('explain', '--stride', '0');
    assert.notEqual(run.status, 0);
    const errLines = lines(run.stderr);
    assert.equal(errLines.length, 1, `expected one line on stderr, got:\n${run.stderr}`);
    assert.match(errLines[0]!, /--stride/);
    assertNoStack(run);
  });

  test('non-numeric and negative values are refused, naming the flag', () => {
    for (const [flag, value] of [
      ['--input', 'four'],
      ['--kernel', '2.5'],
      ['--padding', '-1'],
    ] as const) {
      const run = dcgan('explain', flag, value);
      assert.notEqual(run.status, 0, `${flag} ${value}`);
      assert.equal(lines(run.stderr).length, 1, run.stderr);
      assert.ok(run.stderr.includes(flag), run.stderr);
      assertNoStack(run);
    }
  });

  test('an unknown flag exits non-zero and names it', () => {
    const run = dcgan('explain', '--no-such-flag');
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /--no-such-flag/);
    assertNoStack(run);
  });
});

describe('dcgan', () => {
  test('--help lists the explain command', () => {
    const run = dcgan('--help');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Usage: dcgan/);
    assert.match(run.stdout, /^\s+explain\b/m);
  });

  test('explain --help lists its options', () => {
    const run = dcgan('explain', '--help');
    assert.equal(run.status, 0, run.stderr);
    for (const flag of ['--input', '--kernel', '--stride', '--padding', '--seed', '--json']) assert.ok(run.stdout.includes(flag), flag);
  });

  test('--version prints the package.json version', () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const run = dcgan('--version');
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), version);
  });

  test('an unknown command exits non-zero', () => {
    const run = dcgan('no-such-command');
    assert.notEqual(run.status, 0);
    assert.notEqual(run.stderr, '');
    assertNoStack(run);
  });
});
