// cli/ops-reference.ts: graph/onnx-opset.ts is exactly what the generator writes for its own op list
// (so a regenerated list differs only where ONNX's sources do).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { opsetModule } from '../../cli/ops-reference.ts';
import { ONNX_OPS } from '../../graph/onnx-opset.ts';

describe('cli/ops-reference', () => {
  it('writes graph/onnx-opset.ts as it is committed', () => {
    expect(readFileSync(new URL('../../graph/onnx-opset.ts', import.meta.url), 'utf8')).to.equal(opsetModule(ONNX_OPS));
  });
});
