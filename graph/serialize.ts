// Graph IR <-> ONNX ModelProto bytes (onnx-proto / protobufjs). One opset for the whole project.
// Parsing re-derives every value's dtype and shape from the schema table, so it doubles as the checker:
// a malformed model fails here with the node and value at fault named, before onnxruntime sees it.
import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';
import { Graph, Node, Value, int64Of, numel, shown, typedArrayFor, type Attr, type DType, type Dim, type Shape, type TensorData } from './ir.ts';
import { schemas, dtypeFromOnnx, dtypeToOnnx, ShapeError } from './schemas.ts';
import { inferInputs } from './ops.ts';
import { adaptNode, MAX_READ_OPSET } from './opset-adapter.ts';

export const onnx = onnxProto.onnx;
export const OPSET = 17;
/** The oldest opset a model may import with (torch.onnx.export's default is 17; 13 brought Split and Squeeze's axes as inputs). */
export const MIN_IMPORT_OPSET = 13;
export const IR_VERSION = 8;

type Long = { toNumber(): number } | number;
const num = (x: Long | null | undefined): number => (x == null ? 0 : typeof x === 'number' ? x : x.toNumber());

export interface ModelOptions {
  producerVersion?: string;
  metadata?: Record<string, string>;
  docString?: string;
}

// ---- writing ---------------------------------------------------------------------------------------

/** Remove nodes whose outputs reach no graph output (recursing into subgraphs' outer references). */
export function liveNodes(g: Graph): Node[] {
  const needed = new Set<string>(g.outputs.map((v) => v.name));
  const keep: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => needed.has(o.name))) continue;
    keep.push(n);
    for (const x of n.inputs) if (x) needed.add(x.name);
    for (const a of Object.values(n.attrs)) if (a.kind === 'graph') for (const name of outerNames(a.value)) needed.add(name);
  }
  return keep.reverse();
}

/** Names a subgraph reads from enclosing scopes. */
function outerNames(g: Graph): Set<string> {
  const own = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys()]);
  for (const n of g.nodes) for (const o of n.outputs) own.add(o.name);
  const out = new Set<string>();
  for (const n of liveNodes(g)) {
    for (const x of n.inputs) if (x && !own.has(x.name)) out.add(x.name);
    for (const a of Object.values(n.attrs)) if (a.kind === 'graph') for (const name of outerNames(a.value)) if (!own.has(name)) out.add(name);
  }
  for (const o of g.outputs) if (!own.has(o.name)) out.add(o.name);
  return out;
}

export function valueInfo(v: Value): P.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: dtypeToOnnx(v.dtype),
        shape: v.shape ? { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) } : undefined,
      },
    },
  };
}

export function tensorToProto(name: string, t: TensorData): P.ITensorProto {
  const d = t.data;
  return {
    name,
    dataType: dtypeToOnnx(t.dtype),
    dims: t.dims,
    rawData: new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice(),
  };
}

function attrToProto(name: string, a: Attr): P.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: a.value };
    case 'tensor':
      return { name, type: T.TENSOR, t: tensorToProto('', a.value) };
    case 'graph':
      return { name, type: T.GRAPH, g: graphToProto(a.value) };
  }
}

export function graphToProto(g: Graph): P.IGraphProto {
  const nodes = liveNodes(g);
  const used = new Set<string>();
  for (const n of nodes) for (const x of n.inputs) if (x) used.add(x.name);
  for (const n of nodes) for (const a of Object.values(n.attrs)) if (a.kind === 'graph') for (const name of outerNames(a.value)) used.add(name);
  for (const o of g.outputs) used.add(o.name);
  return {
    name: g.name,
    node: nodes.map((n) => ({
      name: n.name,
      opType: n.op,
      domain: n.domain,
      // Trailing optional inputs left out are omitted, not written as '' (OpenCV's importer reads '' as a name).
      input: n.inputs.slice(0, n.inputs.reduce((k, x, i) => (x ? i + 1 : k), 0)).map((x) => (x ? x.name : '')),
      output: n.outputs.map((o) => o.name),
      attribute: Object.entries(n.attrs).map(([k, a]) => attrToProto(k, a)),
    })),
    input: g.inputs.map(valueInfo),
    output: g.outputs.map(valueInfo),
    initializer: [...g.initializers.entries()].filter(([name]) => used.has(name)).map(([name, { tensor }]) => tensorToProto(name, tensor)),
  };
}

export function toModelProto(g: Graph, opts: ModelOptions = {}): P.ModelProto {
  return onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'onnx-gan',
    producerVersion: opts.producerVersion ?? '0.1.0',
    docString: opts.docString ?? '',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: graphToProto(g),
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
}

export function toBytes(g: Graph, opts: ModelOptions = {}): Uint8Array {
  return onnx.ModelProto.encode(toModelProto(g, opts)).finish();
}

// ---- reading ---------------------------------------------------------------------------------------

/** A refused model. The message is always one line, whatever names the file holds. */
export class ModelError extends Error {
  constructor(message: string) {
    super(message.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  }
}

/** A name from a file, safe inside a one-line message: control characters escaped, long names cut. */
/** Text from outside as it goes into a one-line message: control characters as \xNN, cut at `max`. */
export function printable(text: unknown, max = 80): string {
  const s = String(text ?? '').replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

export function q(name: unknown): string {
  return `'${printable(name)}'`;
}

function dtypeOf(code: number | null | undefined, what: string): DType {
  try {
    return dtypeFromOnnx(code ?? 0);
  } catch (e) {
    throw new ModelError(`${what}: ${(e as Error).message}`);
  }
}

export function tensorFromProto(t: P.ITensorProto): TensorData {
  const dtype = dtypeOf(t.dataType, `tensor ${q(t.name)}`);
  const dims = (t.dims ?? []).map(num);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new ModelError(`tensor ${q(t.name)}: bad dims ${shown(dims)}`);
  const n = numel(dims);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) throw new ModelError(`tensor ${q(t.name)}: external data is not supported`);
  // The data must be in the file: check the count against what is there before allocating for the dims.
  const src: ArrayLike<number | Long> =
    t.rawData && t.rawData.length ? t.rawData : dtype === 'float32' ? (t.floatData ?? []) : dtype === 'float64' ? (t.doubleData ?? []) : dtype === 'int64' ? (t.int64Data ?? []) : (t.int32Data ?? []);
  const bytesEach = typedArrayFor(dtype, 0).BYTES_PER_ELEMENT;
  const expected = src === t.rawData ? n * bytesEach : n;
  if (src.length !== expected) throw new ModelError(`tensor ${q(t.name)}: ${src === t.rawData ? `raw data has ${src.length} bytes, expected ${expected}` : `${src.length} values, expected ${n}`} for ${dtype}${shown(dims)}`);
  const data = typedArrayFor(dtype, n);
  if (src === t.rawData) {
    new Uint8Array(data.buffer).set(t.rawData);
    return { dtype, dims, data };
  }
  for (let i = 0; i < n; i++) {
    // int64 values as written (a protobuf Long's decimal text), not through a float that rounds INT64_MAX up.
    if (dtype === 'int64') (data as BigInt64Array)[i] = typeof src[i] === 'number' ? int64Of(src[i] as number) : BigInt(String(src[i]));
    else (data as Float32Array)[i] = num(src[i]);
  }
  return { dtype, dims, data };
}

function attrFromProto(a: P.IAttributeProto, parent: Graph, opset: number): Attr {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.INT:
      return { kind: 'int', value: num(a.i) };
    case T.FLOAT:
      return { kind: 'float', value: a.f ?? 0 };
    case T.STRING:
      return { kind: 'string', value: new TextDecoder().decode(a.s ?? new Uint8Array()) };
    case T.INTS:
      return { kind: 'ints', value: (a.ints ?? []).map(num) };
    case T.FLOATS:
      return { kind: 'floats', value: a.floats ?? [] };
    case T.TENSOR:
      return { kind: 'tensor', value: tensorFromProto(a.t ?? {}) };
    case T.GRAPH:
      return { kind: 'graph', value: graphFromProto(a.g ?? {}, parent, opset) };
    default:
      throw new ModelError(`attribute ${q(a.name)}: unsupported attribute type ${a.type}`);
  }
}

function shapeFromProto(vi: P.IValueInfoProto): { dtype: DType; shape: Shape } {
  const tt = vi.type?.tensorType;
  if (!tt) throw new ModelError(`value ${q(vi.name)}: only tensor types are supported`);
  const dtype = dtypeOf(tt.elemType, `value ${q(vi.name)}`);
  const shape: Shape = tt.shape ? (tt.shape.dim ?? []).map((d): Dim => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : d.dimParam ? d.dimParam : null)) : null;
  return { dtype, shape };
}

/** Build the IR from a GraphProto, checking every node as it goes. */
/** A graph of an opset-`opset` model (up to MAX_READ_OPSET) in the opset-17 IR (opset-adapter.ts). */
export function graphFromProto(gp: P.IGraphProto, parent: Graph | null = null, opset = OPSET): Graph {
  const g = parent ? parent.subgraph(gp.name || 'subgraph') : new Graph(gp.name || 'graph');
  const scope = new Map<string, Value>();
  const lookup = (name: string): Value | undefined => {
    if (scope.has(name)) return scope.get(name);
    // Outer scope: values of enclosing graphs, reached through the parent chain.
    for (let p = g.parent; p; p = p.parent) {
      const hit = (p as Graph & { __scope?: Map<string, Value> }).__scope?.get(name);
      if (hit) return hit;
    }
    return undefined;
  };
  (g as Graph & { __scope?: Map<string, Value> }).__scope = scope;
  const define = (v: Value, what: string) => {
    if (lookup(v.name)) throw new ModelError(`${what}: duplicate value name ${q(v.name)}`);
    scope.set(v.name, v);
  };

  for (const t of gp.initializer ?? []) {
    if (!t.name) throw new ModelError('an initializer has no name');
    if (lookup(t.name)) throw new ModelError(`initializer ${q(t.name)}: duplicate value name`);
    scope.set(t.name, g.initializer(t.name, tensorFromProto(t)));
  }
  const initNames = new Set((gp.initializer ?? []).map((t) => t.name!));
  for (const vi of gp.input ?? []) {
    if (!vi.name) throw new ModelError('a graph input has no name');
    if (initNames.has(vi.name)) continue; // an initializer with a default value listed as input: treat as constant
    const { dtype, shape } = shapeFromProto(vi);
    if (lookup(vi.name)) throw new ModelError(`graph input ${q(vi.name)}: duplicate value name`);
    const v = g.input(vi.name, dtype, shape);
    scope.set(v.name, v);
  }
  for (const np of gp.node ?? []) {
    const name = np.name || `${np.opType}_${g.nodes.length}`;
    const where = `node ${q(name)} (${q(np.opType).slice(1, -1)})`;
    if (np.domain && np.domain !== 'ai.onnx') throw new ModelError(`${where}: operator domain ${q(np.domain)} is not supported`);
    let inputs = (np.input ?? []).map((x) => {
      if (x === '') return null;
      const v = lookup(x);
      if (!v) throw new ModelError(`${where}: input ${q(x)} is not defined before this node`);
      return v;
    });
    let attrs: Record<string, Attr> = {};
    for (const a of np.attribute ?? []) attrs[a.name!] = attrFromProto(a, g, opset);
    let opType = np.opType ?? '';
    {
      let adapted;
      try {
        adapted = adaptNode(g, opset, opType, inputs, attrs, where);
      } catch (e) {
        throw new ModelError((e as Error).message);
      }
      if ('outputs' in adapted) {
        // Written in opset-17 ops: the node's output names now stand for those ops' results.
        (np.output ?? []).forEach((o, i) => {
          if (lookup(o)) throw new ModelError(`${where}: duplicate value name ${q(o)}`);
          scope.set(o, adapted.outputs[i]);
        });
        continue;
      }
      ({ op: opType, inputs, attrs } = adapted);
    }
    let outTypes;
    if (opType === 'Loop') outTypes = loopTypes(inputs, attrs, where);
    else if (opType === 'Scan') outTypes = scanTypes(inputs, attrs, where);
    else if (opType === 'If') outTypes = ifTypes(attrs, where);
    else {
      const infer = schemas[opType];
      if (!infer) throw new ModelError(`${where}: operator ${q(opType)} is not supported by onnx-gan`);
      try {
        outTypes = infer(inferInputs(g, inputs), attrs);
      } catch (e) {
        if (e instanceof ShapeError) {
          const desc = inputs.map((v) => (v ? v.toString() : '-')).join(', ');
          throw new ModelError(`${where}: ${e.message} (inputs ${desc})`);
        }
        throw e;
      }
    }
    const outs = np.output ?? [];
    if (outs.length > outTypes.length) throw new ModelError(`${where}: has ${outs.length} outputs, the op has ${outTypes.length}`);
    const values = outs.map((o, i) => new Value(g, o, outTypes[i].dtype, outTypes[i].shape));
    const node = new Node(opType, inputs, values, attrs, name, np.domain ?? '');
    for (const v of values) {
      define(v, where);
      v.producer = node;
    }
    g.nodes.push(node);
  }
  for (const vi of gp.output ?? []) {
    const v = lookup(vi.name ?? '');
    if (!v) throw new ModelError(`graph output ${q(vi.name)} is not produced by any node`);
    const declared = vi.type?.tensorType ? shapeFromProto(vi) : null;
    if (declared && declared.dtype !== v.dtype) throw new ModelError(`graph output ${q(vi.name)}: declared ${declared.dtype}, computed ${v.dtype}`);
    g.outputs.push(v);
  }
  return g;
}

function loopTypes(inputs: (Value | null)[], attrs: Record<string, Attr>, where: string): { dtype: DType; shape: Shape }[] {
  const body = attrs.body;
  if (!body || body.kind !== 'graph') throw new ModelError(`${where}: Loop needs a 'body' graph`);
  const outs = body.value.outputs;
  const nCarried = inputs.length - 2;
  if (outs.length < 1 + nCarried) throw new ModelError(`${where}: Loop body has ${outs.length} outputs, needs at least ${1 + nCarried}`);
  const carried = outs.slice(1, 1 + nCarried).map((v) => ({ dtype: v.dtype, shape: v.shape }));
  const scans = outs.slice(1 + nCarried).map((v) => ({ dtype: v.dtype, shape: v.shape ? [null, ...v.shape] : null }));
  return [...carried, ...scans];
}

/** A Scan's outputs: its final states, and each scan output's elements stacked along its axis. */
function scanTypes(inputs: (Value | null)[], attrs: Record<string, Attr>, where: string): { dtype: DType; shape: Shape }[] {
  const body = attrs.body;
  if (!body || body.kind !== 'graph') throw new ModelError(`${where}: Scan needs a 'body' graph`);
  const m = attrs.num_scan_inputs?.kind === 'int' ? (attrs.num_scan_inputs.value as number) : 0;
  const nStates = inputs.length - m;
  const outs = body.value.outputs;
  if (m < 1 || nStates < 0 || outs.length < nStates) throw new ModelError(`${where}: Scan with ${m} scan inputs of ${inputs.length} and a body of ${outs.length} outputs`);
  const first = inputs[nStates];
  const inAxis = (attrs.scan_input_axes?.value as number[] | undefined)?.[0] ?? 0;
  const len = first?.shape ? first.shape[inAxis < 0 ? inAxis + first.shape.length : inAxis] : null;
  const outAxes = (attrs.scan_output_axes?.value as number[] | undefined) ?? [];
  return outs.map((v, i) => {
    if (i < nStates) return { dtype: v.dtype, shape: v.shape };
    if (!v.shape) return { dtype: v.dtype, shape: null };
    const a = outAxes[i - nStates] ?? 0;
    const at = a < 0 ? a + v.shape.length + 1 : a;
    return { dtype: v.dtype, shape: [...v.shape.slice(0, at), len ?? null, ...v.shape.slice(at)] };
  });
}

/** An If's outputs: the branches' (the then-branch's shape where the two disagree on a dimension, unknown). */
function ifTypes(attrs: Record<string, Attr>, where: string): { dtype: DType; shape: Shape }[] {
  const [a, b] = [attrs.then_branch, attrs.else_branch];
  if (!a || a.kind !== 'graph' || !b || b.kind !== 'graph') throw new ModelError(`${where}: If needs 'then_branch' and 'else_branch' graphs`);
  return a.value.outputs.map((v, i) => {
    const w = b.value.outputs[i];
    const same = v.shape && w?.shape && v.shape.length === w.shape.length;
    return { dtype: v.dtype, shape: same ? v.shape!.map((d, j) => (d === w.shape![j] ? d : null)) : null };
  });
}

export interface ParsedModel {
  graph: Graph;
  opset: number;
  irVersion: number;
  metadata: Record<string, string>;
  producer: string;
}

/** Parse and check a serialized ModelProto. Errors are ModelError with a one-line message. */
export function fromBytes(bytes: Uint8Array): ParsedModel {
  let mp: P.ModelProto;
  try {
    mp = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelError(`not a valid ONNX model: ${(e as Error).message}`);
  }
  if (!mp.graph) throw new ModelError('not a valid ONNX model: it has no graph');
  const ir = num(mp.irVersion);
  if (ir < 3 || ir > 10) throw new ModelError(`ir_version ${ir} is not supported (3..10)`);
  const opset = num(mp.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx')?.version);
  if (opset < MIN_IMPORT_OPSET || opset > MAX_READ_OPSET) throw new ModelError(`opset ${opset} is not supported (${MIN_IMPORT_OPSET}..${MAX_READ_OPSET})`);
  let graph: Graph;
  try {
    graph = graphFromProto(mp.graph, null, opset);
  } catch (e) {
    if (e instanceof ShapeError) throw new ModelError(e.message);
    throw e;
  }
  const metadata: Record<string, string> = {};
  for (const p of mp.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
  return { graph, opset, irVersion: ir, metadata, producer: mp.producerName ?? '' };
}

/** Check a model (bytes or our own graph after a round trip); throws a ModelError naming the fault. */
export function check(model: Uint8Array | Graph): void {
  fromBytes(model instanceof Uint8Array ? model : toBytes(model));
}

