// models/import-replay.ts: torch.onnx.export's shape arithmetic (x.view(x.shape[0], -1)) is evaluated
// at build time for the training graph's fixed batch, so what follows gets static shapes; the replayed
// graph computes what the imported one does.
import { expect } from 'chai';
import { Graph } from '../../graph/ir.ts';
import { concat, gather, mul, reshape, shapeOf, unsqueeze } from '../../graph/ops.ts';
import { replay } from '../../models/import-replay.ts';
import { run } from '../helpers.ts';

describe('models/import-replay', () => {
  it("folds x.view(x.shape[0], -1) to a static reshape for the batch, with the imported graph's values", async () => {
    const imported = new Graph('imported');
    const x = imported.input('x', 'float32', ['N', 3, 4]);
    const batch = unsqueeze(gather(shapeOf(x), imported.constant({ dtype: 'int64', dims: [], data: new BigInt64Array([0n]) }, 'zero')), [0]);
    const target = concat([batch, imported.constant({ dtype: 'int64', dims: [1], data: new BigInt64Array([-1n]) }, 'minus1')], 0);
    const y = mul(reshape(x, target), 2);

    const g = new Graph('training');
    const given = g.input('given', 'float32', [5, 3, 4]);
    const out = replay(imported, y, { source: 'model.onnx', input: x, given, param: () => undefined });
    expect(out.shape).to.deep.equal([5, 12]);
    expect(g.nodes.some((n) => n.op === 'Shape')).to.equal(false);
    g.output(out, 'y');
    const data = Float32Array.from({ length: 60 }, (_, i) => i - 30);
    const r = await run(g, { given: { dtype: 'float32', dims: [5, 3, 4], data } });
    expect(Array.from(r.y.data as Float32Array)).to.deep.equal(Array.from(data, (v) => 2 * v));
  });
});
