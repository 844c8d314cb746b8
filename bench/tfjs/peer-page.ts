// The TF.js peer's page (bundled by bench/page.ts): ?backend=wasm|webgl|cpu&threads=N picks the backend;
// globalThis.tfjsPeer.run(warmup, iters) trains the MLP WGAN-GP there and returns its speed.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { trainWganGp, type PeerResult } from './wgan-gp.ts';

const q = new URLSearchParams(location.search);
const backend = q.get('backend') ?? 'wasm';
const threads = Number(q.get('threads') ?? 1);

async function ready(): Promise<string> {
  if (backend === 'wasm') {
    setWasmPaths(new URL('./', location.href).href);
    // The threaded SIMD build needs a cross-origin isolated page (SharedArrayBuffer); the server sends COOP/COEP.
    setThreadsCount(threads);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend '${backend}' is not available in this browser`);
  await tf.ready();
  return tf.getBackend();
}

const started = ready();
(globalThis as unknown as { tfjsPeer: unknown }).tfjsPeer = {
  async run(warmup: number, iters: number): Promise<PeerResult | { error: string }> {
    try {
      await started;
      const r = await trainWganGp(warmup, iters);
      return { ...r, threads: backend === 'wasm' ? threads : null };
    } catch (e) {
      return { error: (e as Error).message.split('\n')[0] };
    }
  },
};
