// onnxruntime-node: CPU by default; the CUDA provider, or the WebGPU provider it bundles (Dawn over Vulkan
// on Linux, D3D12 on Windows, Metal on macOS), on request.
import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ortRuntime, type OrtLike, type Runtime } from './runtime.ts';

export const NODE_EPS = ['cpu', 'cuda', 'webgpu'] as const;
export type NodeEp = (typeof NODE_EPS)[number];

const CUDA_LIBS = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];

/** Where onnxruntime-node keeps its native binaries for this platform. */
function binDir(): string {
  const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
}

/** What to do when Dawn finds no adapter: on Linux it needs the Vulkan loader and a Vulkan driver. */
function webgpuHint(msg: string): string | null {
  if (!/adapter|vulkan/i.test(msg)) return null;
  return process.platform === 'linux'
    ? 'onnxruntime\'s WebGPU needs a Vulkan driver: install libvulkan1 and your GPU\'s Vulkan driver; without a GPU, set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (SwiftShader, from Debian\'s chromium: correct, not fast)'
    : 'no WebGPU adapter on this machine';
}

export function nodeRuntime(ep: NodeEp = 'cpu'): Runtime {
  const o = ort as unknown as OrtLike;
  if (ep === 'cuda') {
    const dir = binDir();
    const missing = CUDA_LIBS.filter((f) => !existsSync(join(dir, f)));
    if (missing.length)
      throw new Error(
        `--ep cuda: ${missing.join(', ')} not found in ${dir}; install them with ` +
          '`npm ci --onnxruntime-node-install=cuda12` (needs internet, CUDA 12.x and cuDNN 9.x)',
      );
    return ortRuntime(o, 'node-cuda', [{ name: 'cuda', deviceId: 0 }, 'cpu']);
  }
  // WebGPU has no Loop kernel (it would run on the CPU, its body's tensors copied each trip).
  if (ep === 'webgpu') return ortRuntime(o, 'node-webgpu', ['webgpu'], { device: 'readback', loops: false, hint: webgpuHint });
  return ortRuntime(o, 'node-cpu', ['cpu']);
}
