// One interface over onnxruntime-node and onnxruntime-web. The trainer sees only this, so it runs
// unchanged in a browser tab; Node-only code lives in runtime-node.ts.
import { Graph, type TensorData } from '../graph/ir.ts';
import { identity } from '../graph/ops.ts';
import { toBytes } from '../graph/serialize.ts';

export type Feeds = Record<string, TensorData>;

/** A tensor a run left in device memory (a WebGPU buffer): feed it to later runs, download it to read it. */
export interface DeviceTensor {
  readonly location: 'device';
  readonly dtype: TensorData['dtype'];
  readonly dims: readonly number[];
  download(): Promise<TensorData>;
  /** Free the device memory now rather than when the object is collected. */
  dispose(): void;
}

export type Tensor = TensorData | DeviceTensor;
export const onDevice = (t: Tensor): t is DeviceTensor => (t as DeviceTensor).location === 'device';

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Inputs may be device tensors; every output comes back to the host. */
  run(feeds: Record<string, Tensor>, outputs?: readonly string[]): Promise<Feeds>;
  /** Like run, but the outputs named in SessionOptions.keep stay on the device (where Runtime.device). */
  runKeeping(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
  /** With SessionOptions.profile: write onnxruntime's profile (Chrome trace JSON, `<prefix>_<time>.json`). */
  endProfiling?(): void;
}

export interface SessionOptions {
  /** Intra-op threads (CPU). */
  threads?: number;
  /** Profile every run with onnxruntime's profiler into a file named from this prefix (Node). */
  profile?: string;
  /** Outputs that runKeeping leaves in device memory, where the runtime has one (Runtime.device). */
  keep?: readonly string[];
  /** onnxruntime's graph optimizations (default on); off for a graph run once, as constant folding's. */
  optimize?: boolean;
}

export interface Runtime {
  /** 'node-cpu', 'node-cuda', 'node-webgpu', 'web-wasm', 'web-webgpu'. */
  readonly name: string;
  /** Outputs can stay in device memory between runs (SessionOptions.keep). */
  readonly device: boolean;
  /** The provider runs ONNX Loop itself; without it, fused iterations are unrolled into one graph. */
  readonly loops: boolean;
  createSession(model: Uint8Array, opts?: SessionOptions): Promise<Session>;
  /**
   * A CPU runtime in another process (Node only): its sessions run there, at the same time as those of
   * other forks. Data-parallel shards run on these; close() ends the process.
   */
  fork?(): Promise<ForkedRuntime>;
}

/** A runtime in another process. Its sessions' outputs are valid until that process's next reply. */
export interface ForkedRuntime extends Runtime {
  close(): Promise<void>;
}

type OrtTensor = { type: string; data: unknown; dims: readonly number[]; location?: string; dispose?(): void; getData?(): Promise<unknown> };

/** The subset of onnxruntime-common both packages share. */
export interface OrtLike {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => OrtTensor;
  InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<{
      inputNames: readonly string[];
      outputNames: readonly string[];
      run(feeds: Record<string, unknown>, fetches?: readonly string[]): Promise<Record<string, OrtTensor>>;
      release(): Promise<void>;
    }>;
  };
}

export interface OrtRuntimeOptions {
  /** Session options added to ours (provider settings). */
  extra?: Record<string, unknown>;
  /**
   * How device outputs are read: the tensor's own getData (onnxruntime-web), or a run of an Identity
   * graph whose output the provider copies to the host (onnxruntime-node 1.30 has no download for
   * 'gpu-buffer' tensors: its download throws a C++ exception that ends the process).
   */
  device?: 'getData' | 'readback';
  /** Whether the provider runs Loop on the device (default true). */
  loops?: boolean;
  /** A one-line hint added when a session cannot be created (a missing driver, say). */
  hint?(message: string): string | null;
}

const ORT_TYPES: Record<TensorData['dtype'], string> = { float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', bool: 'bool', uint8: 'uint8' };
const hostTensor = (t: OrtTensor): TensorData => ({ dtype: t.type as TensorData['dtype'], dims: t.dims.slice(), data: t.data as TensorData['data'] });

/** Wrap an onnxruntime package (node or web) as a Runtime. */
export function ortRuntime(ort: OrtLike, name: string, providers: unknown[], o: OrtRuntimeOptions = {}): Runtime {
  // Identity sessions by dtype and rank, for 'readback'.
  const readers = new Map<string, Promise<Awaited<ReturnType<OrtLike['InferenceSession']['create']>>>>();
  const reader = (dtype: TensorData['dtype'], rank: number) => {
    const key = `${dtype}/${rank}`;
    if (!readers.has(key)) {
      const g = new Graph('readback');
      g.output(identity(g.input('x', dtype, Array.from({ length: rank }, (_, i) => `d${i}`))), 'y');
      readers.set(key, ort.InferenceSession.create(toBytes(g), { executionProviders: providers }));
    }
    return readers.get(key)!;
  };
  // The onnxruntime tensor behind each device tensor we hand out (fed back as is).
  const behind = new WeakMap<DeviceTensor, OrtTensor>();
  const deviceTensor = (t: OrtTensor): DeviceTensor => {
    const d: DeviceTensor = {
      location: 'device',
      dtype: t.type as TensorData['dtype'],
      dims: t.dims.slice(),
      async download() {
        if (o.device === 'getData') return hostTensor({ type: t.type, dims: t.dims, data: await t.getData!() });
        return hostTensor((await (await reader(d.dtype, d.dims.length)).run({ x: t })).y);
      },
      dispose: () => t.dispose?.(),
    };
    behind.set(d, t);
    return d;
  };
  return {
    name,
    device: !!o.device,
    loops: o.loops ?? true,
    async createSession(model, opts = {}) {
      let s;
      const keep = new Set(o.device ? (opts.keep ?? []) : []);
      try {
        s = await ort.InferenceSession.create(model, {
          executionProviders: providers,
          graphOptimizationLevel: opts.optimize === false ? 'disabled' : 'all',
          // Measured on 2 cores (bench/, issue 13): the parallel executor is no faster than intra-op threads.
          executionMode: 'sequential',
          ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
          // A trainer's critic and generator sessions run in turn, each with its own pool: spinning
          // threads of the idle pool take the cores from the busy one (DCGAN at 2 threads: 14.1 steps/s
          // spinning, 21.1 not; ResNet-32: 0.275 vs 0.286), so pool threads sleep when out of work.
          extra: { session: { set_denormal_as_zero: '1', ...((opts.threads ?? 2) > 1 ? { intra_op: { allow_spinning: '0' } } : {}) } },
          ...(opts.profile ? { enableProfiling: true, profileFilePrefix: opts.profile } : {}),
          // Outputs not named stay where they are by default: on the host.
          ...(keep.size ? { preferredOutputLocation: Object.fromEntries([...keep].map((n) => [n, 'gpu-buffer'])) } : {}),
          ...o.extra,
        });
      } catch (e) {
        // onnxruntime's own failed checks start with a source path and the condition: the reason follows.
        const msg = (e as Error).message.split('\n')[0].replace(/^\/onnxruntime_src\/.*? was false\. /, '');
        throw new Error(`${name}: could not create a session: ${msg}${o.hint?.(msg) ? `; ${o.hint(msg)}` : ''}`);
      }
      const runKeeping = async (feeds: Record<string, Tensor>, outputs?: readonly string[]) => {
        const ortFeeds: Record<string, unknown> = {};
        for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = onDevice(t) ? behind.get(t) : new ort.Tensor(ORT_TYPES[t.dtype], t.data, t.dims);
        const res = outputs ? await s.run(ortFeeds, outputs) : await s.run(ortFeeds);
        const out: Record<string, Tensor> = {};
        for (const [k, t] of Object.entries(res)) out[k] = t.location === 'gpu-buffer' ? deviceTensor(t) : hostTensor(t);
        return out;
      };
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        runKeeping,
        async run(feeds, outputs) {
          const out = await runKeeping(feeds, outputs);
          const host: Feeds = {};
          for (const [k, t] of Object.entries(out)) {
            if (!onDevice(t)) host[k] = t;
            else {
              host[k] = await t.download();
              t.dispose();
            }
          }
          return host;
        },
        release: () => s.release(),
        endProfiling: () => (s as unknown as { endProfiling(): void }).endProfiling(),
      };
    },
  };
}

/** What a forked runtime's parent asks its process (runtime/forked-entry.ts): 'create' (tensor 'model', head opts), 'run' (tensors: the feeds), 'release'. */
export interface ForkedRequest {
  id: number;
  op: 'create' | 'run' | 'release';
  session?: number;
  opts?: SessionOptions;
  outputs?: string[];
}

/** onnxruntime-node's execution providers this project runs on (a constant the browser may read too). */
export const NODE_EPS = ['cpu', 'cuda', 'webgpu'] as const;
export type NodeEp = (typeof NODE_EPS)[number];
