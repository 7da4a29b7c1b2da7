/** The settings table (src/train/config.ts) is the one place a TrainConfig field is defined: its flag, check, resume rule and docs. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { trainCommand } from '../src/cli/train.js';
import { DEFAULT_TRAIN_CONFIG, parseSetting, RESUME_FIXED_KEYS, settingFlag, TRAIN_SETTING_KEYS, TRAIN_SETTINGS, TrainConfigError } from '../src/train/index.js';

describe('the training settings table', () => {
  it('covers every TrainConfig field, and only those', () => {
    assert.deepEqual([...TRAIN_SETTING_KEYS].sort(), Object.keys(DEFAULT_TRAIN_CONFIG).sort());
  });

  it('gives `dcgan train` one option per setting with a flag, and the README documents each', () => {
    const help = trainCommand().helpInformation();
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const key of TRAIN_SETTING_KEYS) {
      if (TRAIN_SETTINGS[key].cli === null) continue;
      const flag = settingFlag(key);
      assert.ok(help.includes(`${flag} ${TRAIN_SETTINGS[key].cli!.value}`), `${flag} in --help`);
      assert.ok(readme.includes(`\`${flag} `) || readme.includes(`\`${flag}\``), `${flag} in the README's flag table`);
    }
  });

  it('derives the resume rule and the flag names from the table', () => {
    assert.ok(RESUME_FIXED_KEYS.includes('batchSize') && RESUME_FIXED_KEYS.includes('sampleCount'));
    assert.ok(!RESUME_FIXED_KEYS.includes('steps') && !RESUME_FIXED_KEYS.includes('checkpointEvery'));
    assert.equal(settingFlag('labelSmoothing'), '--label-smoothing');
  });

  it('parses flag text with one-line errors naming the flag', () => {
    assert.equal(parseSetting('lr', '0.001'), 0.001);
    assert.equal(parseSetting('channels', '1'), 1);
    assert.throws(() => parseSetting('batchSize', '2.5'), (e: unknown) => e instanceof TrainConfigError && e.message === "--batch-size must be an integer ≥ 1, got '2.5'");
    assert.throws(() => parseSetting('beta1', ''), /--beta1 must be in \[0, 1\), got ''/);
    assert.throws(() => parseSetting('projection', 'dense'), /--projection must be conv or linear, got 'dense'/);
  });
});

describe('two time-scale updates (--lr-d)', () => {
  it("gives the discriminator's Adam its own learning rate, and 0 means the same as --lr", async () => {
    const { discriminatorLr, resolveTrainConfig } = await import('../src/train/index.js');
    assert.equal(discriminatorLr(resolveTrainConfig({ lr: 1e-4 })), 1e-4);
    assert.equal(discriminatorLr(resolveTrainConfig({ lr: 1e-4, lrD: 4e-4 })), 4e-4);
    assert.throws(() => resolveTrainConfig({ lrD: -1 }), /lr-d must be a non-negative number, got -1/);
  });
});
