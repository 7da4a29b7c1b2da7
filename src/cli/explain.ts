import { Command } from 'commander';
import { explainConvolution, explanationJson, formatExplanation } from '../explain/index.js';
import { intOption, UsageError } from './errors.js';

interface ExplainFlags {
  input: number;
  kernel: number;
  stride: number;
  padding: number;
  seed: number;
  json?: boolean;
}

export function explainCommand(): Command {
  return new Command('explain')
    .description('show that a convolution is a multiplication by a sparse matrix C, and a transposed convolution by Cᵀ')
    .option('--input <n>', 'input height and width', intOption('--input', 1), 4)
    .option('--kernel <k>', 'kernel height and width', intOption('--kernel', 1), 3)
    .option('--stride <s>', 'stride', intOption('--stride', 1), 1)
    .option('--padding <p>', 'zero padding on each side', intOption('--padding', 0), 0)
    .option('--seed <n>', 'seed of the random values used for the checks', intOption('--seed', 0), 0)
    .option('--json', 'print one JSON object instead of text')
    .action((flags: ExplainFlags) => {
      let result;
      try {
        result = explainConvolution(
          { inputH: flags.input, inputW: flags.input, kernelH: flags.kernel, kernelW: flags.kernel, stride: flags.stride, padding: flags.padding },
          flags.seed,
        );
      } catch (error) {
        if (error instanceof RangeError) {
          throw new UsageError(error.message.startsWith('the matrix C would be') ? `--input ${flags.input}: ${error.message}` : error.message);
        }
        throw error;
      }
      console.log(flags.json ? JSON.stringify(explanationJson(result)) : formatExplanation(result));
      if (!result.ok) process.exitCode = 1;
    });
}
