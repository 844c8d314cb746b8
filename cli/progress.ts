// Progress for people: a bar with an ETA on a terminal; without one (nohup, CI, `kubectl logs`) a plain
// line every few seconds with the same fields and the ETA, so a long run can be watched from its log;
// nothing under --json. Messages (`say`) always come through, one per line.
import { SingleBar } from 'cli-progress';

/** Seconds between plain progress lines when stderr is not a terminal (ONNX_GAN_PROGRESS_SECONDS overrides). */
const PLAIN_EVERY_S = Number(process.env.ONNX_GAN_PROGRESS_SECONDS) > 0 ? Number(process.env.ONNX_GAN_PROGRESS_SECONDS) : 30;

/** 75 s -> "1m15s", 4000 s -> "1h06m". */
export function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.max(0, Math.round(s));
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

export interface ProgressOptions {
  /** Where the output goes and whether it is a terminal (default: stderr). */
  out?: { write(s: string): unknown; isTTY?: boolean };
  /** Seconds between plain lines. */
  every?: number;
  /** Milliseconds, for tests. */
  clock?: () => number;
}

/**
 * `format` names the fields, cli-progress style ('train [{bar}] {value}/{total} it | loss {loss}'); an ETA
 * is added. The bar starts with its first update; `say` stops it first so a message gets its own line.
 */
export function progress(format: string, quiet: boolean, o: ProgressOptions = {}) {
  const out = o.out ?? process.stderr;
  const clock = o.clock ?? Date.now;
  const every = (o.every ?? PLAIN_EVERY_S) * 1000;
  const withEta = `${format} | ETA {eta_formatted}`;
  const bar = !quiet && out.isTTY ? new SingleBar({ format: withEta, hideCursor: true, stream: out as NodeJS.WritableStream, formatTime: (s: number) => duration(s) }) : null;
  const plain = !quiet && !out.isTTY;
  let started = false;
  let first: { at: number; value: number } | null = null;
  let lastLine = 0;
  const line = (value: number, total: number, payload: Record<string, unknown>) => {
    const rate = first && value > first.value ? (value - first.value) / (clock() - first.at) : 0;
    const fields: Record<string, unknown> = { ...payload, value, total, eta_formatted: rate ? duration((total - value) / rate / 1000) : '?' };
    return withEta.replace(/\s*\[\{bar\}\]/, '').replace(/\{(\w+)\}/g, (_, k: string) => String(fields[k] ?? ''));
  };
  return {
    update(value: number, total: number, payload: Record<string, unknown>) {
      if (bar) {
        if (started) bar.update(value, payload);
        else (started = true), bar.start(total, value, payload);
      } else if (plain) {
        const now = clock();
        if (!first) (first = { at: now, value }), (lastLine = now);
        else if (now - lastLine >= every || value === total) (lastLine = now), void out.write(`${line(value, total, payload)}\n`);
      }
    },
    say: (m: string) => (bar?.stop(), void out.write(`${m}\n`)),
    stop: () => bar?.stop(),
  };
}
