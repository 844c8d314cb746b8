// Ctrl-C and SIGTERM as a request, not a kill: the run loop finishes the step in flight, saves a
// checkpoint and says how to go on. A second signal quits at once (the last checkpoint stays).
export class Interrupted extends Error {
  readonly exitCode = 130;
}

export interface StopFlag {
  requested(): boolean;
  /** Aborted when a stop is requested: what the library's train and resume take. */
  signal: AbortSignal;
  /** Stop listening (the command is done). */
  dispose(): void;
}

export function stopOnSignals(say: (m: string) => void = (m) => void process.stderr.write(`${m}\n`)): StopFlag {
  let stop = false;
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (stop) {
      say(`${sig} again: quitting without saving; the last checkpoint written stays`);
      process.exit(130);
    }
    stop = true;
    controller.abort();
    say(`${sig}: finishing the step in flight and saving a checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again quits at once)`);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  // A signal that reached a sweep's or worker's run before this (bin/onnx-gan.js kept it) is a stop request.
  const g = globalThis as { onnxGanEarlySignal?: NodeJS.Signals | null; onnxGanEarlyListener?: (s: NodeJS.Signals) => void };
  if (g.onnxGanEarlyListener) {
    process.off('SIGINT', g.onnxGanEarlyListener);
    process.off('SIGTERM', g.onnxGanEarlyListener);
    g.onnxGanEarlyListener = undefined;
    if (g.onnxGanEarlySignal) handler(g.onnxGanEarlySignal);
  }
  // A run started by a sweep or worker (ONNX_GAN_STOP_WITH_PARENT) reads its stdin, a pipe from that
  // process: end of file means the parent died (killed, its machine gone), and an orphan must not train
  // on beside the run's retry: it checkpoints and ends as if told to stop.
  const orphaned = () => {
    if (!stop) say('the process that started this run is gone: saving a checkpoint and stopping');
    stop = true;
    controller.abort();
  };
  const watchParent = process.env.ONNX_GAN_STOP_WITH_PARENT === '1' && !process.stdin.isTTY;
  if (watchParent) {
    process.stdin.on('end', orphaned).on('error', orphaned).resume();
    (process.stdin as { unref?: () => void }).unref?.();
  }
  return {
    requested: () => stop,
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      if (watchParent) process.stdin.off('end', orphaned).off('error', orphaned).destroy();
    },
  };
}
