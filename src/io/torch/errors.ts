/** A malformed, hostile or unsupported PyTorch file; the message is one line naming the file and the problem. */
export class TorchFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TorchFormatError';
  }
}

/** Throws TorchFormatError for `source` with one line of explanation. */
export function torchFail(source: string, problem: string): never {
  throw new TorchFormatError(`${source}: ${problem.replace(/\s*\n\s*/g, ' ')}`);
}
