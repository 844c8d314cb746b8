// A forked runtime's process (runtime/forked-entry.ts), through tsx's loader like bin/onnx-gan.js.
// Ctrl-C reaches the whole process group: the parent decides when to stop, and this process ends when the
// parent disconnects (or dies).
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
import('tsx/esm/api').then(({ register }) => {
  register();
  return import('../runtime/forked-entry.ts');
});
