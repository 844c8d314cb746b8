// A forked runtime's process (runtime/forked-entry.ts): the sources through tsx's loader in a checkout,
// dist/ in an installed package, like bin/onnx-gan.js.
// Ctrl-C reaches the whole process group: the parent decides when to stop, and this process ends when the
// parent disconnects (or dies).
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
import { existsSync } from 'node:fs';

if (existsSync(new URL('../runtime/forked-entry.ts', import.meta.url))) {
  import('tsx/esm/api').then(({ register }) => (register(), import('../runtime/forked-entry.ts')));
} else import('../dist/runtime/forked-entry.js');
