// onnxruntime-node: CPU by default; the CUDA provider, or the WebGPU provider it bundles (Dawn over Vulkan
// on Linux, D3D12 on Windows, Metal on macOS), on request.
import * as ort from 'onnxruntime-node';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { packageFile } from './package-files.ts';
import type { TensorData } from '../graph/ir.ts';
import { type NodeEp, onDevice, ortRuntime, type Feeds, type ForkedRuntime, type ForkedRequest, type OrtLike, type Runtime, type Tensor } from './runtime.ts';
import { messageDir, TensorPipe, type Message } from './tensor-pipe.ts';


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

export interface NodeRuntimeOptions {
  /** onnxruntime's CPU memory arena (default on): off, each run allocates and frees its own buffers. */
  arena?: boolean;
}

export function nodeRuntime(ep: NodeEp = 'cpu', opts: NodeRuntimeOptions = {}): Runtime {
  const o = ort as unknown as OrtLike;
  const extra = opts.arena === false ? { enableCpuMemArena: false } : undefined;
  if (ep === 'cuda') {
    const dir = binDir();
    const missing = CUDA_LIBS.filter((f) => !existsSync(join(dir, f)));
    if (missing.length)
      throw new Error(
        `--ep cuda: ${missing.join(', ')} not found in ${dir}; install them with ` +
          '`npm ci --onnxruntime-node-install=cuda12` (needs internet, CUDA 12.x and cuDNN 9.x)',
      );
    return ortRuntime(o, 'node-cuda', [{ name: 'cuda', deviceId: 0 }, 'cpu'], { extra });
  }
  // WebGPU has no Loop kernel (it would run on the CPU, its body's tensors copied each trip).
  if (ep === 'webgpu') return ortRuntime(o, 'node-webgpu', ['webgpu'], { device: 'readback', loops: false, hint: webgpuHint, extra });
  return { ...ortRuntime(o, 'node-cpu', ['cpu'], { extra }), fork: forkCpu };
}

/**
 * A CPU runtime in a child process (bin/forked-runtime.js), spoken to over a socket on its fd 3 with the
 * tensors in two files of a directory of its own; one request at a time (tensor-pipe.ts's files).
 */
async function forkCpu(): Promise<ForkedRuntime> {
  const dir = mkdtempSync(join(messageDir(), 'onnx-gan-fork-'));
  for (const f of ['request', 'reply']) writeFileSync(join(dir, f), '');
  const child = spawn(process.execPath, [packageFile('bin/forked-runtime.js'), dir], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
  const socket = child.stdio[3] as Duplex;
  let waiting: { resolve(m: Message): void; reject(e: Error): void } | null = null;
  let gone: Error | null = null;
  const fail = (e: Error) => {
    gone ??= e;
    waiting?.reject(gone);
    waiting = null;
  };
  const pipe = new TensorPipe(socket, join(dir, 'request'), join(dir, 'reply'), (m) => {
    const w = waiting;
    waiting = null;
    if (typeof m.head.error === 'string') w?.reject(new Error(m.head.error));
    else w?.resolve(m);
  });
  child.on('error', fail);
  child.on('exit', (code, signal) => {
    pipe.close();
    rmSync(dir, { recursive: true, force: true });
    fail(new Error(`forked runtime (pid ${child.pid}) ended (${signal ?? `exit code ${code}`})`));
  });
  // A connection reset usually means the process died: report its end (signal, exit code) if it comes.
  socket.on('error', (e) => setTimeout(() => fail(new Error(`forked runtime (pid ${child.pid}): ${e.message}`)), 1000).unref());
  let ids = 0;
  let queue: Promise<unknown> = Promise.resolve();
  const call = (r: Omit<ForkedRequest, 'id'>, tensors: Record<string, TensorData> = {}): Promise<Message> => {
    const done = queue.then(
      () =>
        new Promise<Message>((resolve, reject) => {
          if (gone) return reject(gone);
          waiting = { resolve, reject };
          pipe.send({ head: { ...r, id: ++ids } as unknown as Message['head'], tensors });
        }),
    );
    queue = done.catch(() => {});
    return done;
  };
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    name: 'node-cpu-fork',
    device: false,
    loops: true,
    async createSession(model, opts = {}) {
      const { head } = await call({ op: 'create', opts }, { model: { dtype: 'uint8', dims: [model.length], data: model } });
      const session = head.session as number;
      const run = async (feeds: Record<string, Tensor>, outputs?: readonly string[]) => {
        if (Object.values(feeds).some(onDevice)) throw new Error('a forked runtime takes host tensors only');
        return (await call({ op: 'run', session, ...(outputs ? { outputs: [...outputs] } : {}) }, feeds as Feeds)).tensors;
      };
      return { inputNames: head.inputNames as string[], outputNames: head.outputNames as string[], run, runKeeping: (feeds) => run(feeds), release: async () => void (await call({ op: 'release', session })) };
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      socket.end();
      await exited;
    },
  };
}
