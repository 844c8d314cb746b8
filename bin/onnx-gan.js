#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx's loader: no build step.
// A run started by a sweep or worker may be told to stop while it is still loading: the signal is kept
// here and honoured (checkpoint, exit 130) once the command listens (cli/interrupt.ts).
if (process.env.ONNX_GAN_STOP_WITH_PARENT === '1') {
  globalThis.onnxGanEarlySignal = null;
  const early = (sig) => (globalThis.onnxGanEarlySignal = sig);
  globalThis.onnxGanEarlyListener = early;
  process.on('SIGINT', early);
  process.on('SIGTERM', early);
}
import('tsx/esm/api').then(async ({ register }) => {
  register();
  const { main } = await import('../cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
});
