// Progress for people: a bar on a terminal, nothing under --json or when stderr is not a terminal (a log
// file, a pipe), where the messages still come through one per line.
import { SingleBar } from 'cli-progress';

/** A bar started by its first update; `say` stops it first so a message gets its own line. */
export function progress(format: string, quiet: boolean) {
  const bar = !quiet && process.stderr.isTTY ? new SingleBar({ format, hideCursor: true }) : null;
  let started = false;
  return {
    update(value: number, total: number, payload: Record<string, unknown>) {
      if (!bar) return;
      if (started) bar.update(value, payload);
      else (started = true), bar.start(total, value, payload);
    },
    say: (m: string) => (bar?.stop(), void process.stderr.write(`${m}\n`)),
    stop: () => bar?.stop(),
  };
}
