// Exported models as OpenCV's DNN importer takes them (4.6, Debian's python3-opencv): forms it refuses are
// rewritten into equal ones it loads, and what no rewrite can give it is named, so the export says in one
// line why OpenCV cannot load a file (onnxruntime and other ONNX consumers still can). Found by loading
// exports of imported models with it (test/runtime/interop.test.ts).
import { attr, Node, tensor, type Graph, type Value } from '../graph/ir.ts';
import { lower, type Lowering } from '../graph/portable.ts';
import { ints, opN } from '../graph/ops.ts';
import { constInts } from '../graph/schemas.ts';

/** Dims after the batch, when all are static. */
const rest = (v: Value): number[] | null => (v.shape && v.shape.slice(1).every((d) => typeof d === 'number') ? (v.shape.slice(1) as number[]) : null);
const constantInts = (g: Graph, v: Value | null) => (v ? constInts(g.constantOf(v)) : null);

const OPENCV: Record<string, Lowering> = {
  // DepthToSpace as Reshape, Transpose, Reshape, both modes (OpenCV's own fails on a dynamic batch).
  DepthToSpace: (n, g) => {
    const x = n.inputs[0]!;
    const dims = rest(x);
    if (!dims || dims.length !== 3) return null;
    const b = n.attrs.blocksize.value as number;
    const [C, H, W] = dims;
    const crd = n.attrs.mode?.value === 'CRD';
    // DCR: channel = (i * b + j) * C' + c; CRD: channel = c * b * b + i * b + j.
    const split = opN('Reshape', [x, ints(g, crd ? [-1, C / (b * b), b, b, H, W] : [-1, b, b, C / (b * b), H, W])], {}, g)[0];
    const moved = opN('Transpose', [split], { perm: attr.ints(crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2]) }, g)[0];
    return [new Node('Reshape', [moved, ints(g, [-1, C / (b * b), H * b, W * b])], n.outputs, {}, n.name, n.domain)];
  },
  // ReduceSum with its axes as an input (opset 13): a ReduceMean, whose axes are still an attribute, times the count.
  ReduceSum: (n, g) => {
    const x = n.inputs[0]!;
    const axes = constantInts(g, n.inputs[1]);
    if (!axes?.length || !x.shape) return null;
    const r = x.shape.length;
    const at = axes.map((a) => (a < 0 ? a + r : a));
    const count = at.reduce((c, a) => (typeof x.shape![a] === 'number' && c !== null ? c * (x.shape![a] as number) : null), 1 as number | null);
    if (count === null) return null;
    const mean = opN('ReduceMean', [x], { axes: attr.ints(at), keepdims: attr.int(n.attrs.keepdims?.value === 0 ? 0 : 1) }, g)[0];
    return [new Node('Mul', [mean, g.constant(tensor(x.dtype, [], [count]), 'count')], n.outputs, {}, n.name, n.domain)];
  },
  // Squeeze with its axes as an input: a Reshape to its static output (the batch as -1).
  Squeeze: (n, g) => {
    const y = n.outputs[0];
    const dims = rest(y);
    if (!n.inputs[1] || !dims || constantInts(g, n.inputs[1])?.some((a) => a === 0)) return null;
    return [new Node('Reshape', [n.inputs[0], ints(g, [-1, ...dims])], n.outputs, {}, n.name, n.domain)];
  },
  // Tile by constant repeats: a Concat of copies along each repeated axis.
  Tile: (n, g) => {
    const repeats = constantInts(g, n.inputs[1]);
    if (!repeats) return null;
    const axes = repeats.map((r, a) => [r, a]).filter(([r]) => r > 1);
    if (!axes.length) return [new Node('Identity', [n.inputs[0]], n.outputs, {}, n.name, n.domain)];
    let v = n.inputs[0]!;
    axes.slice(0, -1).forEach(([r, a]) => (v = opN('Concat', new Array(r).fill(v), { axis: attr.int(a) }, g)[0]));
    const [r, a] = axes[axes.length - 1];
    return [new Node('Concat', new Array(r).fill(v), n.outputs, { axis: attr.int(a) }, n.name, n.domain)];
  },
};

/** Rewrite `g` in place into the forms OpenCV's importer loads; the outputs stay equal. */
export function forOpenCv(g: Graph): Record<string, number> {
  return lower(g, OPENCV);
}

/**
 * Why OpenCV's importer cannot load `g` even so, or null: an input it cannot be fed (OpenCV's DNN takes
 * float tensors only), the batch size read at run time (it gives dynamic dims the size 0), an op it lacks,
 * batch statistics at inference.
 */
export function openCvRefusal(g: Graph): string | null {
  const notFloat = g.inputs.find((v) => v.dtype !== 'float32');
  if (notFloat) return `its input '${notFloat.name}' is ${notFloat.dtype} (OpenCV's DNN feeds float tensors only)`;
  for (const n of g.nodes) {
    const x = n.inputs[0];
    if (n.op === 'Shape' && x && !x.shape?.every((d) => typeof d === 'number')) return `it reads the batch size at run time (node '${n.name}': Shape of '${x.name}', from a size the imported model computes from x.shape)`;
    if (UNLOADED.has(n.op)) return `it has no ${n.op} layer (node '${n.name}')`;
    // OpenCV loads it but normalizes with the (absent) running statistics: wrong samples, so named here.
    if (n.op === 'BatchNormalization' && n.attrs.training_mode?.value === 1) return `it normalizes with each batch's statistics (node '${n.name}': BatchNormalization in training mode, as the imported model was exported), which OpenCV does not compute`;
  }
  return null;
}

/**
 * Ops OpenCV 4.6's ONNX importer refuses (measured: a one-node model of each, loaded and run with it; its
 * MaxUnpool runs a batch of one only).
 */
const UNLOADED = new Set(['Einsum', 'GridSample', 'ScatterND', 'ScatterElements', 'GatherElements', 'Trilu', 'TopK', 'Det', 'MaxUnpool']);
