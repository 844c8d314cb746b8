// Any ONNX network as the feature extractor of FID, KID and PRDC (eval --features, onnx-gan fid): pytorch-fid's
// InceptionV3 exported to ONNX gives the FID papers report, another network another metric. The network gets
// float32 RGB in [0, 1] (grey repeated to three channels), resized in a graph of our own to its input size by
// ONNX Resize (linear, half_pixel: torch's F.interpolate(mode='bilinear', align_corners=False), what
// pytorch-fid does), and normalizes on its own. Its first output (or the one named), flattened per image,
// is the feature vector.
import { Graph } from '../graph/ir.ts';
import { add, concat, mul, resize } from '../graph/ops.ts';
import { onnx, toBytes } from '../graph/serialize.ts';
import type { Runtime, Session } from '../runtime/runtime.ts';

export interface FeatureNetworkOptions {
  /** The input side when the model does not fix it (its input has free spatial dims). */
  size?: number;
  /** The output whose values are the features (default the first). */
  output?: string;
  threads?: number;
}

/** Metadata a network may carry to say its input side (onnx-gan's own key). */
export const SIZE_KEY = 'onnx-gan.features.input_size';

/** Images per run: InceptionV3 at 299 x 299 holds a few hundred MB of activations per 50. */
const CHUNK = 50;

export class FeatureNetwork {
  private readonly prep = new Map<string, Promise<Session>>();

  private constructor(
    private readonly net: Session,
    private readonly input: string,
    readonly output: string,
    /** [H, W] the network takes. */
    readonly inputSize: [number, number],
    private readonly runtime: Runtime,
    private readonly threads?: number,
  ) {}

  /** `what` names the network in errors (the file, or the flag). */
  static async open(runtime: Runtime, bytes: Uint8Array, what: string, o: FeatureNetworkOptions = {}): Promise<FeatureNetwork> {
    let model: InstanceType<typeof onnx.ModelProto>;
    try {
      model = onnx.ModelProto.decode(bytes);
    } catch (e) {
      throw new Error(`${what}: not an ONNX model (${(e as Error).message.split('\n')[0]})`);
    }
    const initializers = new Set((model.graph?.initializer ?? []).map((t) => t.name));
    const inputs = (model.graph?.input ?? []).filter((i) => !initializers.has(i.name));
    if (inputs.length !== 1) throw new Error(`${what}: a feature network takes one input (images [N, 3, H, W]), this one takes ${inputs.length}`);
    const dims = (inputs[0].type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : null));
    if (dims.length !== 4 || (dims[1] !== null && dims[1] !== 3)) throw new Error(`${what}: input '${inputs[0].name}' must be RGB images [N, 3, H, W], got [${dims.map((d) => d ?? '?')}]`);
    const meta = Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
    const fromMeta = meta[SIZE_KEY] ? Number(meta[SIZE_KEY]) : undefined;
    const side = (fixed: number | null) => {
      if (fixed !== null && o.size !== undefined && o.size !== fixed) throw new Error(`${what}: --features-size ${o.size}, but the network's input is fixed at ${fixed}`);
      return fixed ?? o.size ?? fromMeta;
    };
    const [h, w] = [side(dims[2]), side(dims[3])];
    if (!h || !w || !Number.isInteger(h) || !Number.isInteger(w)) throw new Error(`${what}: its input side is not fixed; give --features-size N (or metadata '${SIZE_KEY}')`);
    const net = await runtime.createSession(bytes, { threads: o.threads }).catch((e: Error) => Promise.reject(new Error(`${what}: ${e.message.split('\n')[0]}`)));
    const output = o.output ?? net.outputNames[0];
    if (!net.outputNames.includes(output)) {
      await net.release();
      throw new Error(`${what}: no output '${output}' (outputs: ${net.outputNames.join(', ')})`);
    }
    return new FeatureNetwork(net, inputs[0].name!, output, [h, w], runtime, o.threads);
  }

  /** Features of images [n, C, h, w] (C 1 or 3) in [-1, 1], as our generators and data sets give them: [n, d]. */
  async features(images: Float32Array, shape: number[]): Promise<{ features: Float32Array; d: number }> {
    const [c, h, w] = shape;
    if (shape.length !== 3 || (c !== 1 && c !== 3)) throw new Error(`feature network: images must be [C, H, W] with 1 or 3 channels, got [${shape}]`);
    const per = c * h * w;
    const n = images.length / per;
    const parts: Float32Array[] = [];
    let d = 0;
    for (let i = 0; i < n; i += CHUNK) {
      const m = Math.min(CHUNK, n - i);
      const prep = await this.preprocess(m, shape);
      const x = (await prep.run({ x: { dtype: 'float32', dims: [m, c, h, w], data: images.subarray(i * per, (i + m) * per) } })).y;
      const y = (await this.net.run({ [this.input]: x }))[this.output];
      d = y.dims.slice(1).reduce((a, b) => a * b, 1);
      parts.push(y.data as Float32Array);
    }
    const features = new Float32Array(n * d);
    parts.reduce((at, p) => (features.set(p, at), at + p.length), 0);
    return { features, d };
  }

  /** [-1, 1] to [0, 1], grey to RGB, resized to the network's input: one small graph per batch and image shape. */
  private preprocess(m: number, [c, h, w]: number[]): Promise<Session> {
    const key = `${m}x${c}x${h}x${w}`;
    if (!this.prep.has(key)) {
      const g = new Graph('feature_input');
      const x = g.input('x', 'float32', [m, c, h, w]);
      const unit = mul(add(x, 1), 0.5);
      const rgb = c === 1 ? concat([unit, unit, unit], 1) : unit;
      const [H, W] = this.inputSize;
      g.output(H === h && W === w ? rgb : resize(rgb, { sizes: [m, 3, H, W], mode: 'linear', ctm: 'half_pixel' }), 'y');
      this.prep.set(key, this.runtime.createSession(toBytes(g), { threads: this.threads }));
    }
    return this.prep.get(key)!;
  }

  async release(): Promise<void> {
    for (const s of this.prep.values()) await (await s).release();
    await this.net.release();
  }
}
