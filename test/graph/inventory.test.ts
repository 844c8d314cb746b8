// graph/inventory.ts: every ONNX op up to opset 21 has a status, the lists agree with the registries, and
// docs/ops.md is what `npm run docs:ops` writes now.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { rules } from '../../graph/gradients.ts';
import { inventory, MAX_OPSET, MISSING, NOT_DIFFERENTIABLE, opsMarkdown, parseOperatorSets } from '../../graph/inventory.ts';
import { ONNX_OPS } from '../../graph/onnx-opset.ts';
import { schemas } from '../../graph/schemas.ts';

describe('graph/inventory', () => {
  it(`lists every op of ONNX's standard domain up to opset ${MAX_OPSET}, each with a gradient status`, () => {
    const rows = inventory();
    expect(rows.length).to.be.at.least(190);
    expect(Math.max(...rows.flatMap((r) => r.versions))).to.equal(MAX_OPSET);
    expect(rows.filter((r) => r.gradient.kind === 'unclassified').map((r) => r.op)).to.deep.equal([]);
    for (const op of ['Conv', 'Gemm', 'Slice', 'PRelu', 'Tile', 'DepthToSpace', 'GlobalAveragePool', 'Split']) expect(rows.find((r) => r.op === op)!.gradient.kind, op).to.equal('rule');
    expect(rows.find((r) => r.op === 'ArgMax')!.gradient).to.deep.equal({ kind: 'none', why: 'index output' });
  });

  it('the hand-kept lists name real ops and go stale loudly: no listed op has a rule, none is in both lists', () => {
    for (const op of [...MISSING, ...Object.keys(NOT_DIFFERENTIABLE)]) expect(ONNX_OPS, op).to.have.property(op);
    expect(MISSING.filter((op) => Object.hasOwn(rules, op))).to.deep.equal([]);
    expect(Object.keys(NOT_DIFFERENTIABLE).filter((op) => Object.hasOwn(rules, op) || MISSING.includes(op))).to.deep.equal([]);
  });

  it('every op with a gradient rule has shape inference (the builder types what a rule emits)', () => {
    expect(Object.keys(rules).filter((op) => !Object.hasOwn(schemas, op))).to.deep.equal([]);
  });

  it('reads the op list from onnx/defs/operator_sets.h, up to the opset asked for', () => {
    const src = `class ONNX_OPERATOR_SET_SCHEMA_CLASS_NAME(Onnx, 1, Abs);\nclass ONNX_OPERATOR_SET_SCHEMA_CLASS_NAME(Onnx, 13, Abs);\nclass ONNX_OPERATOR_SET_SCHEMA_CLASS_NAME(Onnx, 22, Abs);\nclass ONNX_OPERATOR_SET_SCHEMA_CLASS_NAME(OnnxML, 1, ArrayFeatureExtractor);\nclass ONNX_OPERATOR_SET_SCHEMA_CLASS_NAME(Onnx, 20, Gelu);`;
    expect(parseOperatorSets(src, 21)).to.deep.equal({ Abs: [1, 13], Gelu: [20] });
    expect(() => parseOperatorSets('nothing here', 21)).to.throw(/no ai\.onnx operator declarations found/);
  });

  it('docs/ops.md is current (npm run docs:ops rewrites it)', () => {
    expect(readFileSync(new URL('../../docs/ops.md', import.meta.url), 'utf8')).to.equal(opsMarkdown());
  });
});
