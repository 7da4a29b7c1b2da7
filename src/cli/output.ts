/**
 * Writing to stdout and stderr without ever dying of it. A closed pipe (`dcgan train … | head -1`),
 * a full device (`> /dev/full`) or a vanished terminal makes writes fail with EPIPE, ENOSPC or EIO;
 * Node reports those as 'error' events on process.stdout / process.stderr, which kill the process
 * when nobody listens. guardStdio() listens: the first failure of a stream is noted once (on the
 * other stream, when that one still works) and every later write to it is skipped, so a run that
 * lost its output still trains, checkpoints and writes its report.
 */

type StreamName = 'stdout' | 'stderr';

const broken: Record<StreamName, string | null> = { stdout: null, stderr: null };
let installed = false;

function streamOf(name: StreamName): NodeJS.WriteStream {
  return name === 'stdout' ? process.stdout : process.stderr;
}

function markBroken(name: StreamName, error: unknown): void {
  if (broken[name] !== null) return;
  const code = (error as NodeJS.ErrnoException | null)?.code ?? 'an error';
  broken[name] = code;
  const other: StreamName = name === 'stdout' ? 'stderr' : 'stdout';
  // Note it once, where it can still be read; stdout stays clean for --json readers, so only stderr.
  if (other === 'stderr') write('stderr', `dcgan: ${name} is closed (${code}); continuing without output there\n`);
}

/** Installs the error listeners on stdout and stderr (idempotent). Call before a long run starts writing. */
export function guardStdio(): void {
  if (installed) return;
  installed = true;
  for (const name of ['stdout', 'stderr'] as const) {
    // Any failure (EPIPE, EIO, ENOSPC, …) is only an output failure: never worth losing a run over.
    streamOf(name).on('error', (error: NodeJS.ErrnoException) => markBroken(name, error));
  }
}

/** True once a write to `name` has failed. */
export function isBroken(name: StreamName): boolean {
  return broken[name] !== null;
}

/** Writes `text` to the stream unless it is known to be gone; a synchronous failure marks it gone. */
export function write(name: StreamName, text: string): void {
  if (broken[name] !== null) return;
  const stream = streamOf(name);
  if (stream.destroyed || stream.writableEnded) {
    broken[name] = 'closed';
    return;
  }
  try {
    stream.write(text);
  } catch (error) {
    markBroken(name, error);
  }
}

/** For tests: forget earlier failures. */
export function resetStdioState(): void {
  broken.stdout = null;
  broken.stderr = null;
}
