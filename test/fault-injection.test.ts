/**
 * SIGKILL at random moments of a real `dcgan train` (issue 10): after each kill the run folder's
 * checkpoint loads, `--resume` to N steps gives bitwise the weights of a straight N-step run, and
 * no temporary file remains. A kill before the first checkpoint leaves a one-line error on
 * --resume; a kill in the middle of a checkpoint write leaves the previous checkpoint, and the
 * resume removes the temporary file. The kill delays come from a seeded generator
 * (DCGAN_FAULT_SEED, DCGAN_FAULT_TRIES to change them). The commands run from the sources.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertSameCheckpoint, CLI_ENTRY, CLI_ENV, nonEmptyLines, runCli, TSX, type CliRun } from './cli-run.js';
import '../src/index.js';
import { loadCheckpoint } from '../src/train/index.js';
import { testRandom } from './helpers.js';

const entry = CLI_ENTRY;
const tsx = TSX;
const work = mkdtempSync(join(tmpdir(), 'dcgan-kill-'));
after(() => rmSync(work, { recursive: true, force: true }));
const env = CLI_ENV;

const SEED = Number(process.env['DCGAN_FAULT_SEED'] ?? 10);
const TRIES = Number(process.env['DCGAN_FAULT_TRIES'] ?? 5);
/** Steps of the straight run and the resumed ones. */
const N = 90;
/** A killed run is stopped by this step at the latest, so that its checkpoint is before N. */
const LAST_KILL_STEP = N - 12;
const TINY = ['--threads', '1', '--image-size', '16', '--ngf', '8', '--ndf', '8', '--batch-size', '8', '--checkpoint-every', '3', '--sample-every', '0'];
/** A model whose 18 MB checkpoint takes long enough to write that a kill can land inside the write. */
const LARGE = ['--threads', '1', '--image-size', '16', '--ngf', '128', '--ndf', '128', '--batch-size', '8', '--checkpoint-every', '2', '--sample-every', '0'];

type Run = CliRun;
const dcgan = (...args: string[]): Run => runCli(work, args);
const lines = nonEmptyLines;

interface Killable {
  kill(signal: NodeJS.Signals): boolean;
}

interface Spawned {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `dcgan train --json --log-every 1 …`; `onStep` sees each step number as its line arrives. */
function spawnTrain(args: string[], onStep: (step: number, child: Killable) => void, onSpawn?: (child: Killable) => void): Promise<Spawned> {
  const child = spawn(process.execPath, ['--import', tsx, entry, 'train', ...args, '--json', '--log-every', '1'], { cwd: work, env });
  onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    const text = d.toString();
    stdout += text;
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const event = JSON.parse(line) as { event: string; step?: number };
      if (event.event === 'step') onStep(event.step!, child);
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out; stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Temporary files of writeFileAtomic (`.<name>.<pid>.<random>.tmp`) in the run folder and its samples. */
function temporaries(out: string): string[] {
  const found: string[] = [];
  for (const dir of [out, join(out, 'samples')]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) if (name.startsWith('.') && name.endsWith('.tmp')) found.push(join(dir, name).slice(out.length + 1));
  }
  return found.sort();
}


function metricSteps(out: string): Array<[number, number, number]> {
  return lines(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).map((l) => {
    const m = JSON.parse(l) as { step: number; lossD: number; lossG: number };
    return [m.step, m.lossD, m.lossG];
  });
}

/** `--resume` to `steps`: exit 0; its stderr holds warnings only (one about removed temporaries, if any). */
function resume(out: string, steps: number): Run {
  const run = dcgan('train', '--resume', out, '--steps', String(steps), '--threads', '1', '--json');
  assert.equal(run.status, 0, run.stderr);
  for (const line of lines(run.stderr)) assert.match(line, /^warning: removed \d+ temporary files? left by an interrupted write/, run.stderr);
  assert.ok(!/^\s+at /m.test(run.stderr), 'no stack trace');
  return run;
}

describe('SIGKILL at random moments of `dcgan train`', () => {
  const straight = join(work, 'straight');
  /** Milliseconds from the first step line to the line of step LAST_KILL_STEP in the straight run. */
  let window = 0;

  before(async () => {
    let first = 0;
    const run = await spawnTrain([...TINY, '--steps', String(N), '--out', straight], (step) => {
      if (step === 1) first = performance.now();
      if (step === LAST_KILL_STEP) window = performance.now() - first;
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(loadCheckpoint(join(straight, 'checkpoint.safetensors')).step, N);
    assert.ok(window > 0);
  });

  test(`${TRIES} kills at seeded random moments (seed ${SEED}): the checkpoint loads, --resume to ${N} equals the straight run bitwise, no temporary file remains`, async (t) => {
    const random = testRandom(Math.imul(SEED, 0x9e3779b1)); // spread small seeds over the state
    let resumed = 0;
    for (let i = 0; i < TRIES; i++) {
      const delay = random() * window;
      const out = join(work, `kill${i}`);
      let timer: NodeJS.Timeout | undefined;
      let lastSeen = 0;
      let killedAt = 0;
      const run = await spawnTrain([...TINY, '--steps', String(N), '--out', out], (step, child) => {
        if (killedAt > 0) return;
        lastSeen = step;
        const kill = (): void => {
          clearTimeout(timer);
          killedAt = lastSeen;
          child.kill('SIGKILL');
        };
        if (step === 1) timer = setTimeout(kill, delay);
        if (step >= LAST_KILL_STEP) kill(); // the machine ran faster than the straight run: stop in time
      });
      clearTimeout(timer);
      const left = temporaries(out);
      const file = join(out, 'checkpoint.safetensors');
      if (run.signal !== 'SIGKILL') {
        // This process saw the step lines so late that the run finished first: it equals the straight one.
        assert.equal(run.code, 0, run.stderr);
        t.diagnostic(`try ${i}: the run finished before its kill`);
        assertSameCheckpoint(join(straight, 'checkpoint.safetensors'), file);
        continue;
      }
      if (!existsSync(file)) {
        // Killed before the first checkpoint: --resume says so in one line.
        t.diagnostic(`try ${i}: killed ${delay.toFixed(0)} ms after step 1 (last step line seen: ${killedAt}), before the first checkpoint`);
        const again = dcgan('train', '--resume', out, '--steps', String(N), '--threads', '1');
        assert.notEqual(again.status, 0);
        assert.equal(lines(again.stderr).length, 1, again.stderr);
        assert.match(again.stderr, /^dcgan: no checkpoint in .* \(expected .*checkpoint\.safetensors\)$/m);
        continue;
      }
      const checkpoint = loadCheckpoint(file);
      assert.ok(checkpoint.step % 3 === 0 || checkpoint.step === N, `try ${i}: checkpoint step ${checkpoint.step}`);
      t.diagnostic(`try ${i}: killed ${delay.toFixed(0)} ms after step 1 (last step line seen: ${killedAt}); checkpoint at step ${checkpoint.step}; temporaries left: ${left.length > 0 ? left.join(', ') : 'none'}`);
      if (checkpoint.step === N) {
        // Killed after its last step (the step lines came late): nothing to resume.
        assertSameCheckpoint(join(straight, 'checkpoint.safetensors'), file);
        continue;
      }
      const again = resume(out, N);
      assert.equal(lines(again.stdout).at(-1)!.includes('"status":"completed"'), true, again.stdout);
      assertSameCheckpoint(join(straight, 'checkpoint.safetensors'), file);
      assert.deepEqual(metricSteps(out), metricSteps(straight), `try ${i}: metrics.jsonl after the resume`);
      assert.deepEqual(temporaries(out), [], `try ${i}: temporary files after the resume`);
      resumed++;
    }
    assert.ok(resumed >= 1, 'at least one try resumed');
  });

  test('a kill before the first checkpoint: --resume fails with one line naming the missing checkpoint', async () => {
    const out = join(work, 'early');
    // No checkpoint before the end of the run: the kill at the first step line is always before it.
    const run = await spawnTrain([...TINY, '--checkpoint-every', '0', '--steps', String(N), '--out', out], (_step, child) => child.kill('SIGKILL'));
    assert.equal(run.signal, 'SIGKILL');
    assert.ok(!existsSync(join(out, 'checkpoint.safetensors')));
    const again = dcgan('train', '--resume', out, '--steps', String(N), '--threads', '1');
    assert.equal(again.status, 2, again.stderr);
    const errLines = lines(again.stderr);
    assert.equal(errLines.length, 1, again.stderr);
    assert.equal(errLines[0], `dcgan: no checkpoint in ${out} (expected ${join(out, 'checkpoint.safetensors')})`);
  });

  test('a kill in the middle of a checkpoint write: the previous checkpoint survives, the resume removes the temporary file and equals a straight run', async (t) => {
    const steps = 6;
    const reference = join(work, 'large-straight');
    const full = await spawnTrain([...LARGE, '--steps', String(steps), '--out', reference], () => undefined);
    assert.equal(full.code, 0, full.stderr);

    // Watch the run folder; kill as the second checkpoint's temporary file appears (the first
    // checkpoint, step 2, is then complete on disk). A kill that lands after the rename is tried again.
    let out = '';
    let left: string[] = [];
    for (let attempt = 0; attempt < 3 && left.length === 0; attempt++) {
      out = join(work, `mid-write${attempt}`);
      mkdirSync(out);
      const seen = new Set<string>();
      let child: Killable | undefined;
      const watcher = watch(out, (_event, name) => {
        if (name === null || !/^\.checkpoint\.safetensors\..+\.tmp$/.test(name)) return;
        seen.add(name);
        if (seen.size === 2) child?.kill('SIGKILL');
      });
      try {
        const run = await spawnTrain([...LARGE, '--steps', '1000', '--out', out], () => undefined, (c) => (child = c));
        assert.equal(run.signal, 'SIGKILL', run.stderr);
      } finally {
        watcher.close();
      }
      left = temporaries(out);
      t.diagnostic(`attempt ${attempt}: temporaries after the kill: ${left.length > 0 ? left.join(', ') : 'none (the write had finished)'}`);
    }
    assert.equal(left.length, 1, 'a kill landed inside a checkpoint write');
    assert.match(left[0]!, /^\.checkpoint\.safetensors\.\d+\.[a-z0-9]+\.tmp$/);

    // The old checkpoint is intact.
    assert.equal(loadCheckpoint(join(out, 'checkpoint.safetensors')).step, 2);
    // A stale temporary in samples/ (a grid write killed the same way) goes too.
    const staleGrid = join(out, 'samples', `.step_000004.png.${/\.(\d+)\./.exec(left[0]!)![1]}.k1ll3d.tmp`);
    writeFileSync(staleGrid, 'partial');

    const again = resume(out, steps);
    assert.match(again.stderr, /^warning: removed 2 temporary files left by an interrupted write/m);
    assert.deepEqual(temporaries(out), []);
    assertSameCheckpoint(join(reference, 'checkpoint.safetensors'), join(out, 'checkpoint.safetensors'));
  });
});
