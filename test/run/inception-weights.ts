// The random weights of the InceptionV3 fixture, made from each initializer's name as
// test/fixtures/make_quality_fixtures.py makes them (weight_uniforms, weight_values): the graph is committed
// without its 90 MB of weights and they are filled in here, bit for bit the numbers torch ran with.
import { onnx } from '../../graph/serialize.ts';

/** n uniforms in [0, 1): FNV-1a of the name, then a murmur3 finalizer of (hash + i * 0x9E3779B9) mod 2^32. */
export function weightUniforms(name: string, n: number): Float64Array {
  let h = 2166136261;
  for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 16777619) >>> 0;
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x = (h + Math.imul(i, 0x9e3779b9)) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    x = Math.imul(x, 0x85ebca6b) >>> 0;
    x = (x ^ (x >>> 13)) >>> 0;
    x = Math.imul(x, 0xc2b2ae35) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    u[i] = x / 2 ** 32;
  }
  return u;
}

/** Conv weights He-uniform, batch norm near identity: the script's rules, in its float64 order, then float32. */
export function weightValues(name: string, dims: number[]): Float32Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const u = weightUniforms(name, n);
  const fanIn = dims.slice(1).reduce((a, b) => a * b, 1);
  const rule = name.endsWith('conv.weight')
    ? (v: number) => Math.sqrt(6 / fanIn) * (2 * v - 1)
    : name.endsWith('bn.weight') || name.endsWith('bn.running_var')
      ? (v: number) => 0.5 + v
      : name.endsWith('bn.bias') || name.endsWith('bn.running_mean')
        ? (v: number) => 0.2 * (v - 0.5)
        : null;
  if (!rule) throw new Error(`inception fixture: no rule for initializer ${name}`);
  return Float32Array.from(u, rule);
}

/** The committed graph with every float initializer filled in. */
export function withWeights(graph: Uint8Array): Uint8Array {
  const m = onnx.ModelProto.decode(graph);
  for (const t of m.graph!.initializer!) {
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT) continue;
    const v = weightValues(t.name!, (t.dims ?? []).map(Number));
    t.rawData = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  return onnx.ModelProto.encode(m).finish();
}
