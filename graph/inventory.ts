// What the graph layer covers of ONNX, op by op: shape inference (schemas.ts), a gradient rule (gradients.ts),
// or a reason there is none. Every op of the standard domain up to MAX_OPSET (onnx-opset.ts, generated from
// ONNX's sources) has a status here; test/graph/inventory.test.ts fails for one that has none, and docs/ops.md
// is this table written out (npm run docs:ops).
import { rules } from './gradients.ts';
import { ONNX_OPS } from './onnx-opset.ts';
import { schemas } from './schemas.ts';
import { RECURRENT_OPS } from './recurrent.ts';
import { MAX_READ_OPSET, REWRITTEN_OPS } from './opset-adapter.ts';
import { MIN_IMPORT_OPSET, OPSET } from './serialize.ts';

export const MAX_OPSET = 21;

/** Ops with no gradient by nature, each with the reason. */
export const NOT_DIFFERENTIABLE: Record<string, string> = {
  ...Object.fromEntries(['And', 'Or', 'Not', 'Xor', 'Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'IsInf', 'IsNaN'].map((op) => [op, 'boolean output'])),
  ...Object.fromEntries(['BitShift', 'BitwiseAnd', 'BitwiseNot', 'BitwiseOr', 'BitwiseXor'].map((op) => [op, 'integer arithmetic'])),
  ...Object.fromEntries(['ArgMax', 'ArgMin', 'NonZero', 'NonMaxSuppression', 'Unique'].map((op) => [op, 'index output'])),
  ...Object.fromEntries(['Shape', 'Size'].map((op) => [op, 'integer output (a shape)'])),
  ...Object.fromEntries(['Constant', 'ConstantOfShape', 'EyeLike', 'Range'].map((op) => [op, 'a constant of its shape inputs'])),
  ...Object.fromEntries(['BlackmanWindow', 'HammingWindow', 'HannWindow', 'MelWeightMatrix'].map((op) => [op, 'a constant window of its size inputs'])),
  OneHot: 'one-hot of integer indices (its values input is a pair of constants)',
  Hardmax: 'piecewise constant: zero gradient almost everywhere',
  ...Object.fromEntries(['RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Bernoulli', 'Multinomial'].map((op) => [op, 'random: the host draws noise from its seeded stream, so runs repeat'])),
  ...Object.fromEntries(['QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'ConvInteger', 'MatMulInteger', 'QLinearConv', 'QLinearMatMul'].map((op) => [op, 'quantized (integer) arithmetic'])),
  ...Object.fromEntries(['StringConcat', 'StringNormalizer', 'StringSplit', 'RegexFullMatch', 'TfIdfVectorizer'].map((op) => [op, 'string tensors'])),
  ImageDecoder: 'decodes encoded bytes',
  ...Object.fromEntries(
    ['SequenceAt', 'SequenceConstruct', 'SequenceEmpty', 'SequenceErase', 'SequenceInsert', 'SequenceLength', 'SequenceMap', 'ConcatFromSequence', 'SplitToSequence', 'Optional', 'OptionalGetElement', 'OptionalHasElement'].map((op) => [op, 'sequence and optional values, not tensors']),
  ),
  Upsample: 'deprecated in opset 10 (Resize replaces it); models of opset 13 and later have none',
  Scatter: 'deprecated in opset 11 (ScatterElements replaces it); models of opset 13 and later have none',
};

/**
 * Differentiable ops without a rule yet: the roadmap (issue 27), in the order they are most often met in
 * exported generators and critics.
 */
export const MISSING: string[] = [];

/**
 * Control flow, which has no rule of its own here: an imported model's If, Loop and Scan are replayed into
 * the training graph (models/import-replay.ts; graph/ knows nothing of it): an If on shapes folds to its
 * branch, an If on the data becomes a Where over both branches, a Loop or Scan of a known count is unrolled.
 */
export const REPLAYED_OPS = ['If', 'Loop', 'Scan'];

export type GradientStatus = { kind: 'rule' } | { kind: 'unrolled' } | { kind: 'rewritten' } | { kind: 'replayed' } | { kind: 'none'; why: string } | { kind: 'missing' } | { kind: 'unclassified' };

export interface OpRow {
  op: string;
  /** Opset versions (up to MAX_OPSET) in which the op's schema changed. */
  versions: number[];
  /** The version in force at the opset this project writes (OPSET), if the op exists by then. */
  implemented: number | null;
  inference: boolean;
  gradient: GradientStatus;
}

export function gradientStatus(op: string): GradientStatus {
  if (Object.hasOwn(rules, op)) return { kind: 'rule' };
  if ((RECURRENT_OPS as string[]).includes(op)) return { kind: 'unrolled' };
  if (REWRITTEN_OPS.includes(op)) return { kind: 'rewritten' };
  if (REPLAYED_OPS.includes(op)) return { kind: 'replayed' };
  if (Object.hasOwn(NOT_DIFFERENTIABLE, op)) return { kind: 'none', why: NOT_DIFFERENTIABLE[op] };
  if (MISSING.includes(op)) return { kind: 'missing' };
  return { kind: 'unclassified' };
}

export function inventory(): OpRow[] {
  return Object.entries(ONNX_OPS)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([op, versions]) => {
      const upTo = versions.filter((v) => v <= OPSET);
      return { op, versions, implemented: upTo.length ? upTo[upTo.length - 1] : null, inference: Object.hasOwn(schemas, op), gradient: gradientStatus(op) };
    });
}

/** The versions in which each op's schema changed, from ONNX's onnx/defs/operator_sets.h, up to `max`. */
export function parseOperatorSets(source: string, max: number): Record<string, number[]> {
  const ops: Record<string, Set<number>> = {};
  for (const m of source.matchAll(/class\s+ONNX_OPERATOR_SET_SCHEMA_CLASS_NAME\(\s*Onnx\s*,\s*(\d+)\s*,\s*(\w+)\s*\)/g)) {
    const v = Number(m[1]);
    if (v <= max) (ops[m[2]] ??= new Set()).add(v);
  }
  if (!Object.keys(ops).length) throw new Error('no ai.onnx operator declarations found: is this onnx/defs/operator_sets.h?');
  return Object.fromEntries(Object.keys(ops).sort().map((op) => [op, [...ops[op]].sort((a, b) => a - b)]));
}

const CELLS: Partial<Record<GradientStatus['kind'], string>> = {
  rule: 'rule',
  unrolled: 'rules of its ops, unrolled over the sequence (`graph/recurrent.ts`)',
  rewritten: 'rules of the ops it is read as (`graph/opset-adapter.ts`)',
  replayed: 'rules of its subgraphs\' ops, replayed at import (`models/import-replay.ts`: an If on the data as a Where over both branches, Loop and Scan unrolled over a known count)',
};
const gradientCell = (g: GradientStatus) => (CELLS[g.kind] ? CELLS[g.kind]! : g.kind === 'none' ? `not differentiable: ${g.why}` : g.kind === 'missing' ? '**missing**' : 'UNCLASSIFIED');

export function opsMarkdown(rows = inventory()): string {
  const count = (k: GradientStatus['kind']) => rows.filter((r) => r.gradient.kind === k).length;
  const lines = [
    '# ONNX operator coverage',
    '',
    `Every operator of ONNX's standard domain up to opset ${MAX_OPSET} (${rows.length} ops), generated by \`npm run docs:ops\` from`,
    "`graph/inventory.ts`: ONNX's own operator list (`graph/onnx-opset.ts`, from onnx/onnx@f754691 `onnx/defs/operator_sets.h`), the shape inference table",
    '(`graph/schemas.ts`) and the gradient registry (`graph/gradients.ts`). `test/graph/inventory.test.ts` fails',
    'when an op has no status or this page is stale.',
    '',
    `The project writes opset ${OPSET} and imports models of opsets ${MIN_IMPORT_OPSET} to ${MAX_READ_OPSET}, reading the forms that changed after ${OPSET} into opset-${OPSET} ones`,
    `(\`graph/opset-adapter.ts\`); "at opset ${OPSET}" is the op's version in force there (empty for ops that came later). Gradient: **rule** (${count('rule')} ops; ${count('unrolled')} recurrent ops unrolled, ${count('rewritten')} ops read as ruled ops, ${count('replayed')} control-flow ops replayed at import), not differentiable with the`,
    `reason (${count('none')}), or **missing** (${count('missing')}): differentiable, no rule yet, refused by name when a model uses it.`,
    '',
    `| op | versions up to ${MAX_OPSET} | at opset ${OPSET} | shape inference | gradient |`,
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.op} | ${r.versions.join(', ')} | ${r.implemented ?? ''} | ${r.inference ? 'yes' : 'no'} | ${gradientCell(r.gradient)} |`),
  ];
  return lines.join('\n') + '\n';
}
