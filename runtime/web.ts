// onnxruntime-web (WASM, or WebGPU where the browser has an adapter), usable from a browser page and from Node alike.
import * as ort from 'onnxruntime-web';
import { ortRuntime, type OrtLike, type Runtime } from './runtime.ts';

export interface WebRuntimeOptions {
  /** 'wasm' (default) or 'webgpu' where the browser has it. */
  backend?: 'wasm' | 'webgpu';
  /** Where the .wasm files are served from, in a browser. */
  wasmPaths?: string;
  threads?: number;
}

export function webRuntime(opts: WebRuntimeOptions = {}): Runtime {
  ort.env.wasm.numThreads = opts.threads ?? 1;
  if (opts.wasmPaths) ort.env.wasm.wasmPaths = opts.wasmPaths;
  const backend = opts.backend ?? 'wasm';
  return backend === 'webgpu'
    ? ortRuntime(ort as unknown as OrtLike, 'web-webgpu', ['webgpu'], { device: 'getData', loops: false })
    : ortRuntime(ort as unknown as OrtLike, 'web-wasm', ['wasm']);
}
