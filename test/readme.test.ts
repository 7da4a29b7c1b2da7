/** The README's library example runs as written and its loss goes down. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

it('the README example trains a tiny conv net and lowers its loss', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.equal(blocks.length, 1, 'one TypeScript example in the README');
  const source = fileURLToPath(new URL('../src/index.ts', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'dcgan-readme-'));
  try {
    const file = join(dir, 'example.ts');
    writeFileSync(file, blocks[0]!.replace("from 'dcgan-ts'", `from ${JSON.stringify(source)}`));
    const run = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) });
    assert.equal(run.status, 0, run.stderr);
    const match = /loss ([\d.]+) → ([\d.]+)/.exec(run.stdout);
    assert.ok(match, `unexpected output: ${run.stdout}`);
    assert.ok(Number(match[2]) < 0.7 * Number(match[1]), `loss did not fall enough: ${run.stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
