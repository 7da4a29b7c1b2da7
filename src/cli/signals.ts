/**
 * Stop signals for `dcgan train`: SIGINT (Ctrl-C), SIGTERM (kill, timeout, docker stop, job
 * schedulers) and SIGHUP (the terminal went away) all ask the run to stop after the current step;
 * the run then writes its checkpoint and report and the process exits with 128 + the signal's
 * number (130, 143, 129), as a shell reports a process killed by it. A second signal while
 * stopping quits at once with that status.
 */
import { constants } from 'node:os';
import { write } from './output.js';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

export interface StopSignals {
  /** The first stop signal received, or null. */
  readonly received: StopSignal | null;
  /** 128 + the received signal's number (130 for SIGINT when none was received, e.g. an abort from elsewhere). */
  readonly exitCode: number;
  /** Removes the handlers (the process's default behaviour returns). */
  dispose(): void;
}

/** 128 + signal number: the status a shell shows for a process ended by `signal`. */
export function signalExitCode(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/**
 * Aborts `controller` on the first SIGINT, SIGTERM or SIGHUP (noting it through `reporter`) and
 * exits at once on a second one. Returns the handle whose exitCode the command should exit with.
 */
export function onStopSignals(controller: AbortController, reporter: { note(message: string): void; stop(): void }): StopSignals {
  let received: StopSignal | null = null;
  const handlers = STOP_SIGNALS.map((signal) => {
    const handler = (): void => {
      if (controller.signal.aborted) {
        reporter.stop();
        write('stderr', `dcgan: ${signal} again; exiting without waiting\n`);
        process.exit(signalExitCode(signal));
      }
      received = signal;
      controller.abort();
      const again = signal === 'SIGINT' ? 'Ctrl-C' : `${signal}`;
      reporter.note(`${signal}: stopping after this step and writing the checkpoint… (${again} again to quit at once)`);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return {
    get received() {
      return received;
    },
    get exitCode() {
      return signalExitCode(received ?? 'SIGINT');
    },
    dispose(): void {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
}
