// The library in a browser (`import … from 'onnx-gan/web'`, bundled by the app's own bundler): onnxruntime-web
// as a runtime, exported generators to sample, training artifacts to load and keep training, as the page does.
import { webRuntime, type WebRuntimeOptions } from '../runtime/web.ts';
import { openGenerator, type ExportedGenerator } from '../training/exported-generator.ts';

export { webRuntime, type WebRuntimeOptions } from '../runtime/web.ts';
export { openGenerator, type ExportedGenerator } from '../training/exported-generator.ts';
export { loadArtifacts, ARTIFACT_FILES, type LoadedArtifacts, type ArtifactsManifest } from '../training/artifacts.ts';
export { Sampler } from '../training/sampler.ts';
export { Trainer, criticSchedule, type TrainState } from '../training/trainer.ts';
export { runLoop } from '../training/run-loop.ts';
export { Rng } from '../data/random.ts';

/** An exported generator from a URL or its bytes, on WASM (or WebGPU with `{ backend: 'webgpu' }`). */
export async function loadGenerator(source: string | URL | Uint8Array, o: WebRuntimeOptions = {}): Promise<ExportedGenerator> {
  const name = source instanceof Uint8Array ? 'generator.onnx' : String(source);
  let bytes: Uint8Array;
  if (source instanceof Uint8Array) bytes = source;
  else {
    const res = await fetch(source);
    if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  }
  const runtime = webRuntime(o);
  return openGenerator(bytes, name, (b) => runtime.createSession(b));
}
