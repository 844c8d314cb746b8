// Bundles the page with esbuild into web/dist (app.js, its training worker trainer-worker.js, index.html,
// style.css, onnxruntime-web's WASM files).
import { build as esbuild } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const DIST = join(here, 'dist');

export async function build(opts: { minify?: boolean } = {}): Promise<string> {
  mkdirSync(DIST, { recursive: true });
  await esbuild({
    entryPoints: { app: join(here, 'page.ts'), 'trainer-worker': join(here, 'trainer-worker.ts') },
    outdir: DIST,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: opts.minify ?? true,
    sourcemap: true,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(join(here, f), join(DIST, f));
  // onnxruntime-web loads its WASM build (and the worker script beside it) from ort.env.wasm.wasmPaths.
  const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  for (const f of readdirSync(ortDist)) if (/^ort-wasm-simd-threaded.*\.(wasm|mjs)$/.test(f)) copyFileSync(join(ortDist, f), join(DIST, f));
  return DIST;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await build();
  console.log(`built ${DIST}`);
}
