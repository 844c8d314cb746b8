// onnxruntime-node: CPU by default, the CUDA execution provider on request.
import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ortRuntime, type OrtLike, type Runtime } from './runtime.ts';

export type NodeEp = 'cpu' | 'cuda';

const CUDA_LIBS = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];

/** Where onnxruntime-node keeps its native binaries for this platform. */
function binDir(): string {
  const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
}

export function nodeRuntime(ep: NodeEp = 'cpu'): Runtime {
  if (ep === 'cuda') {
    const dir = binDir();
    const missing = CUDA_LIBS.filter((f) => !existsSync(join(dir, f)));
    if (missing.length)
      throw new Error(
        `--ep cuda: ${missing.join(', ')} not found in ${dir}; install them with ` +
          '`npm ci --onnxruntime-node-install=cuda12` (needs internet, CUDA 12.x and cuDNN 9.x)',
      );
    return ortRuntime(ort as unknown as OrtLike, 'node-cuda', [{ name: 'cuda', deviceId: 0 }, 'cpu']);
  }
  return ortRuntime(ort as unknown as OrtLike, 'node-cpu', ['cpu']);
}
