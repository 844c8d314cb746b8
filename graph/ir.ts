// The in-memory IR: values with dtype and (where known) static shape, nodes, and graphs.
// It mirrors ONNX closely so that serialization is a plain walk; nothing here knows about GANs.

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8';
/** A dimension: a number, a symbolic name shared between values that are equal, or null when unknown. */
export type Dim = number | string | null;
/** null shape = unknown rank. */
export type Shape = Dim[] | null;

export type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface TensorData {
  dtype: DType;
  dims: number[];
  data: TypedArray;
}

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'tensor'; value: TensorData }
  | { kind: 'graph'; value: Graph };

export class Value {
  producer: Node | null = null;
  constructor(
    readonly graph: Graph,
    /** Mutable only through Graph.output(), which may give a node's output the graph output's name. */
    public name: string,
    readonly dtype: DType,
    readonly shape: Shape,
  ) {}
  get rank(): number | null {
    return this.shape ? this.shape.length : null;
  }
  toString(): string {
    return `${this.name}: ${this.dtype}[${this.shape ? this.shape.map((d) => d ?? '?').join(',') : '...'}]`;
  }
}

export class Node {
  constructor(
    readonly op: string,
    readonly inputs: (Value | null)[],
    readonly outputs: Value[],
    readonly attrs: Record<string, Attr>,
    readonly name: string,
    readonly domain = '',
  ) {}
}

/**
 * A graph under construction. Values belong to exactly one graph; a subgraph (a Loop body) may read
 * values of its enclosing graphs, which it records as outer-scope references.
 */
export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers = new Map<string, { value: Value; tensor: TensorData }>();
  /** Values whose gradient is defined to be zero (stop-gradient). */
  readonly noGrad = new Set<Value>();
  private readonly names = new Set<string>();
  private readonly constCache = new Map<string, Value>();
  private counter = 0;

  constructor(
    readonly name = 'graph',
    readonly parent: Graph | null = null,
  ) {}

  /** A fresh name, unique in this graph and its ancestors (ONNX forbids shadowing outer names). */
  uniqueName(hint: string): string {
    const root = this.root();
    let name = hint;
    while (root.nameTaken(name)) name = `${hint}_${++root.counter}`;
    this.names.add(name);
    return name;
  }

  private root(): Graph {
    let g: Graph = this;
    while (g.parent) g = g.parent;
    return g;
  }

  private nameTaken(name: string): boolean {
    if (this.names.has(name)) return true;
    for (const child of this.children) if (child.nameTaken(name)) return true;
    return false;
  }

  private readonly children: Graph[] = [];
  subgraph(name: string): Graph {
    const child = new Graph(name, this);
    this.children.push(child);
    return child;
  }

  /** True when `v` may be used inside this graph (its own value or one from an enclosing graph). */
  canSee(v: Value): boolean {
    for (let g: Graph | null = this; g; g = g.parent) if (v.graph === g) return true;
    return false;
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    if (this.names.has(name) || this.root().nameTaken(name)) throw new Error(`graph '${this.name}': duplicate value name '${name}'`);
    this.names.add(name);
    const v = new Value(this, name, dtype, shape);
    this.inputs.push(v);
    return v;
  }

  /** An input under a fresh name made from `hint` (a Loop body's iteration count and carried values). */
  freshInput(hint: string, dtype: DType, shape: Shape): Value {
    const v = new Value(this, this.uniqueName(hint), dtype, shape);
    this.inputs.push(v);
    return v;
  }

  output(v: Value, name?: string): Value {
    if (!this.canSee(v)) throw new Error(`graph '${this.name}': output '${v.name}' belongs to another graph`);
    if (name !== undefined && v.name !== name && this.root().nameTaken(name)) throw new Error(`graph '${this.name}': output name '${name}' is already used`);
    const own = v.producer !== null && v.graph === this && !this.outputs.includes(v);
    if (own && name !== undefined && v.name !== name) {
      // A node output of this graph takes the output's name directly: no Identity node to run.
      this.names.delete(v.name);
      this.names.add(name);
      v.name = name;
    }
    let out = v;
    if (!own) {
      // Inputs, initializers, outer values and values already exported need a node of their own.
      const outName = name ?? this.uniqueName(`${v.name}_out`);
      if (name !== undefined) this.names.add(name);
      out = new Value(this, outName, v.dtype, v.shape);
      const node = new Node('Identity', [v], [out], {}, this.uniqueName(`Identity_${outName}`));
      out.producer = node;
      this.nodes.push(node);
    }
    this.outputs.push(out);
    return out;
  }

  /**
   * Constants the builder made (constant()), as opposed to a model's own initializers (initializer()): import
   * trains a model's float initializers, never the constants of an op written out in other ops (opset-adapter.ts).
   */
  readonly builderConstants = new Set<Value>();

  /** A constant tensor, stored as an initializer; identical small constants are shared. */
  constant(tensor: TensorData, hint = 'const'): Value {
    const key = tensor.data.length <= 16 ? `${tensor.dtype}|${tensor.dims}|${Array.from(tensor.data as ArrayLike<number | bigint>).join(',')}` : null;
    if (key) {
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const name = this.uniqueName(hint);
    const v = new Value(this, name, tensor.dtype, tensor.dims.slice());
    this.initializers.set(name, { value: v, tensor });
    this.builderConstants.add(v);
    if (key) this.constCache.set(key, v);
    return v;
  }

  /** Append a node; the caller has computed the outputs' dtypes and shapes. */
  addNode(op: string, inputs: (Value | null)[], outTypes: { dtype: DType; shape: Shape }[], attrs: Record<string, Attr> = {}, domain = ''): Value[] {
    for (const v of inputs) {
      if (v && !this.canSee(v)) throw new Error(`${op}: input '${v.name}' belongs to graph '${v.graph.name}', not visible from '${this.name}'`);
    }
    const name = this.uniqueName(`${op}_${this.nodes.length}`);
    const outputs = outTypes.map((t, i) => new Value(this, this.uniqueName(`${name}_o${i}`), t.dtype, t.shape));
    const node = new Node(op, inputs, outputs, attrs, name, domain);
    for (const o of outputs) o.producer = node;
    this.nodes.push(node);
    return outputs;
  }

  /** A named initializer (a model's weight), kept under exactly that name. */
  initializer(name: string, t: TensorData): Value {
    if (this.root().nameTaken(name)) throw new Error(`graph '${this.name}': duplicate value name '${name}'`);
    this.names.add(name);
    const v = new Value(this, name, t.dtype, t.dims.slice());
    this.initializers.set(name, { value: v, tensor: t });
    return v;
  }

  isInitializer(v: Value): boolean {
    return this.initializers.get(v.name)?.value === v;
  }

  /** The constant behind a value: an initializer of this graph or an enclosing one, or a Constant node's tensor. */
  constantOf(v: Value): TensorData | null {
    for (let g: Graph | null = this; g; g = g.parent) {
      const init = g.initializers.get(v.name);
      if (init && init.value === v) return init.tensor;
    }
    const p = v.producer;
    if (p?.op === 'Constant' && p.attrs.value?.kind === 'tensor') return p.attrs.value.value as TensorData;
    return null;
  }
}

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  ints: (value: number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: number[]): Attr => ({ kind: 'floats', value }),
  graph: (value: Graph): Attr => ({ kind: 'graph', value }),
  tensor: (value: TensorData): Attr => ({ kind: 'tensor', value }),
};

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

/** A list as it goes into a message: its first eight entries, and how many more there are. */
export function shown(xs: readonly unknown[] | null | undefined): string {
  if (!xs) return '[?]';
  const head = xs.slice(0, 8).map((x) => x ?? '?');
  return `[${head.join(', ')}${xs.length > 8 ? `, ... ${xs.length - 8} more` : ''}]`;
}

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function typedArrayFor(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'bool':
    case 'uint8':
      return new Uint8Array(n);
  }
}

/**
 * A number as int64, saturating: INT64_MAX and INT64_MIN (what torch writes for an open slice end) round to
 * +-2^63 as numbers, and BigInt(2^63) would wrap to INT64_MIN, turning `s[:, c:]` into an empty slice.
 */
export function int64Of(x: number): bigint {
  if (x >= 2 ** 63) return 2n ** 63n - 1n;
  if (x <= -(2 ** 63)) return -(2n ** 63n);
  return BigInt(Math.trunc(x));
}

export function tensor(dtype: DType, dims: number[], values: ArrayLike<number> | TypedArray): TensorData {
  const n = numel(dims);
  if (values.length !== n) throw new Error(`tensor: ${values.length} values for shape [${dims}]`);
  if (dtype === 'int64') {
    const data = values instanceof BigInt64Array ? values : BigInt64Array.from(Array.from(values as ArrayLike<number>, int64Of));
    return { dtype, dims, data };
  }
  const data = typedArrayFor(dtype, n);
  (data as Float32Array).set(values as ArrayLike<number>);
  return { dtype, dims, data };
}

/** Static shape as numbers, or null when any dimension is symbolic or unknown. */
export function staticShape(v: Value): number[] | null {
  if (!v.shape) return null;
  return v.shape.every((d) => typeof d === 'number') ? (v.shape as number[]) : null;
}
