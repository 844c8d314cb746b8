// One interface over onnxruntime-node and onnxruntime-web. The trainer sees only this, so it runs
// unchanged in a browser tab; Node-only code lives in runtime-node.ts.
import type { TensorData } from '../graph/ir.ts';

export type Feeds = Record<string, TensorData>;

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Feeds, outputs?: readonly string[]): Promise<Feeds>;
  release(): Promise<void>;
  /** With SessionOptions.profile: write onnxruntime's profile (Chrome trace JSON, `<prefix>_<time>.json`). */
  endProfiling?(): void;
}

export interface SessionOptions {
  /** Intra-op threads (CPU). */
  threads?: number;
  /** Profile every run with onnxruntime's profiler into a file named from this prefix (Node). */
  profile?: string;
}

export interface Runtime {
  /** 'node-cpu', 'node-cuda', 'web-wasm', 'web-webgpu'. */
  readonly name: string;
  createSession(model: Uint8Array, opts?: SessionOptions): Promise<Session>;
}

/** The subset of onnxruntime-common both packages share. */
export interface OrtLike {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => { type: string; data: unknown; dims: readonly number[]; dispose?(): void };
  InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<{
      inputNames: readonly string[];
      outputNames: readonly string[];
      run(feeds: Record<string, unknown>, fetches?: readonly string[]): Promise<Record<string, { type: string; data: unknown; dims: readonly number[]; dispose?(): void }>>;
      release(): Promise<void>;
    }>;
  };
}

const ORT_TYPES: Record<TensorData['dtype'], string> = { float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', bool: 'bool', uint8: 'uint8' };

/** Wrap an onnxruntime package (node or web) as a Runtime. */
export function ortRuntime(ort: OrtLike, name: string, providers: unknown[], extra: Record<string, unknown> = {}): Runtime {
  return {
    name,
    async createSession(model, opts = {}) {
      let s;
      try {
        s = await ort.InferenceSession.create(model, {
          executionProviders: providers,
          graphOptimizationLevel: 'all',
          // Measured on 2 cores (bench/, issue 13): the parallel executor is no faster than intra-op threads.
          executionMode: 'sequential',
          ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
          // A trainer's critic and generator sessions run in turn, each with its own pool: spinning
          // threads of the idle pool take the cores from the busy one (DCGAN at 2 threads: 14.1 steps/s
          // spinning, 21.1 not; ResNet-32: 0.275 vs 0.286), so pool threads sleep when out of work.
          extra: { session: { set_denormal_as_zero: '1', ...((opts.threads ?? 2) > 1 ? { intra_op: { allow_spinning: '0' } } : {}) } },
          ...(opts.profile ? { enableProfiling: true, profileFilePrefix: opts.profile } : {}),
          ...extra,
        });
      } catch (e) {
        throw new Error(`${name}: could not create a session: ${(e as Error).message.split('\n')[0]}`);
      }
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        async run(feeds, outputs) {
          const ortFeeds: Record<string, unknown> = {};
          for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(ORT_TYPES[t.dtype], t.data, t.dims);
          const res = outputs ? await s.run(ortFeeds, outputs) : await s.run(ortFeeds);
          const out: Feeds = {};
          for (const [k, t] of Object.entries(res)) {
            out[k] = { dtype: t.type as TensorData['dtype'], dims: t.dims.slice(), data: t.data as TensorData['data'] };
          }
          return out;
        },
        release: () => s.release(),
        endProfiling: () => (s as unknown as { endProfiling(): void }).endProfiling(),
      };
    },
  };
}
