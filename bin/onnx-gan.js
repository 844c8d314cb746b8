#!/usr/bin/env node
// In a checkout, runs the TypeScript sources directly through tsx's loader (no build step); in an installed
// package, which ships the compiled dist/ only, runs that.
// A run started by a sweep or worker may be told to stop while it is still loading: the signal is kept
// here and honoured (checkpoint, exit 130) once the command listens (cli/interrupt.ts).
if (process.env.ONNX_GAN_STOP_WITH_PARENT === '1') {
  globalThis.onnxGanEarlySignal = null;
  const early = (sig) => (globalThis.onnxGanEarlySignal = sig);
  globalThis.onnxGanEarlyListener = early;
  process.on('SIGINT', early);
  process.on('SIGTERM', early);
}
import { existsSync } from 'node:fs';

const fromSources = existsSync(new URL('../cli/main.ts', import.meta.url));
const load = fromSources ? import('tsx/esm/api').then(({ register }) => (register(), import('../cli/main.ts'))) : import('../dist/cli/main.js');
load.then(async ({ main }) => {
  process.exitCode = await main(process.argv.slice(2));
});
