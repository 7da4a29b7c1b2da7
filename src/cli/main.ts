import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import '../index.js';
import { UsageError } from './errors.js';
import { guardStdio } from './output.js';
import { benchCommand } from './bench.js';
import { evalCommand } from './eval.js';
import { explainCommand } from './explain.js';
import { exportCommand } from './export.js';
import { importCommand } from './import.js';
import { interpolateCommand, sampleCommand } from './sample.js';
import { serveCommand } from './serve.js';
import { trainCommand } from './train.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command('dcgan')
    .description('DCGAN toolkit: train, sample and explain deep convolutional GANs in TypeScript')
    .version(version)
    .configureOutput({
      // Commander's own errors (unknown flag, missing value…) as one line, like every other error.
      outputError: (text, write) => write(`dcgan: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (see --help)\n`),
    });
  program.addCommand(trainCommand());
  program.addCommand(sampleCommand());
  program.addCommand(interpolateCommand());
  program.addCommand(evalCommand());
  program.addCommand(explainCommand());
  program.addCommand(benchCommand());
  program.addCommand(serveCommand());
  program.addCommand(importCommand());
  program.addCommand(exportCommand());
  for (const command of program.commands) command.exitOverride().configureOutput(program.configureOutput());
  return program.exitOverride();
}

/** Runs the CLI: user errors become one line on stderr and a non-zero status, never a stack trace. */
export async function main(argv: string[] = process.argv): Promise<void> {
  guardStdio(); // a closed stdout or stderr (EPIPE, /dev/full) is never a crash
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    if (error instanceof UsageError) {
      console.error(`dcgan: ${error.message}`);
      process.exitCode = error.exitCode;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`dcgan: ${message}`);
    if (process.env['DCGAN_DEBUG']) console.error(error);
    process.exitCode = 1;
  }
}
