// Ctrl-C and SIGTERM as a request, not a kill: the run loop finishes the step in flight, saves a
// checkpoint and says how to go on. A second signal quits at once (the last checkpoint stays).
export class Interrupted extends Error {
  readonly exitCode = 130;
}

export interface StopFlag {
  requested(): boolean;
  /** Stop listening (the command is done). */
  dispose(): void;
}

export function stopOnSignals(say: (m: string) => void = (m) => void process.stderr.write(`${m}\n`)): StopFlag {
  let stop = false;
  const handler = (sig: NodeJS.Signals) => {
    if (stop) {
      say(`${sig} again: quitting without saving; the last checkpoint written stays`);
      process.exit(130);
    }
    stop = true;
    say(`${sig}: finishing the step in flight and saving a checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again quits at once)`);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    requested: () => stop,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
