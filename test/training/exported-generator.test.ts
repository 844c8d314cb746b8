// An exported generator opened for sampling: shapes from its inputs and output, class names from its
// metadata, and each wrong call (bad z length, missing or unknown classes) refused in one line.
import { expect } from 'chai';
import { rejects } from 'node:assert/strict';
import { Graph } from '../../graph/ir.ts';
import { add, cast, mul, unsqueeze } from '../../graph/ops.ts';
import { toBytes } from '../../graph/serialize.ts';
import { openGenerator } from '../../training/exported-generator.ts';
import { rt } from '../helpers.ts';

/** A conditional "generator": x = z * 2 + class (broadcast over the latent), named as export names them. */
function conditional(metadata: Record<string, string>): Uint8Array {
  const g = new Graph('g');
  const z = g.input('z', 'float32', ['N', 3]);
  const label = g.input('label', 'int64', ['N']);
  g.output(add(mul(z, 2), unsqueeze(cast(label, 'float32'), [1])), 'samples');
  return toBytes(g, { metadata });
}

describe('training/exported-generator', () => {
  it('samples a class-conditional generator with a class per row; its classes come from the metadata', async () => {
    const gen = await openGenerator(conditional({ classes: JSON.stringify(['cat', 'dog']), loss: 'hinge' }), 'g.onnx', (b) => rt.createSession(b));
    expect([gen.latent, gen.shape, gen.classes, gen.metadata.loss]).to.deep.equal([3, [3], ['cat', 'dog'], 'hinge']);
    const x = await gen.generate(Float32Array.from([1, 1, 1, 0, 0, 0]), [1, 0]);
    expect(Array.from(x)).to.deep.equal([3, 3, 3, 0, 0, 0]);
    await rejects(gen.generate(new Float32Array(6)), /g\.onnx: class-conditional; give a class \(0\.\.1\) for each of the 2 latent vectors/);
    await rejects(gen.generate(new Float32Array(6), [0, 2]), /g\.onnx: class 2 of row 1 is not one of the 2 classes/);
    await rejects(gen.generate(new Float32Array(4), [0]), /z holds 4 values, not a multiple of the latent size 3/);
    await gen.release();
  });

  it('refuses a conditional generator whose metadata names no classes, before opening a session', async () => {
    let opened = false;
    const open = async (b: Uint8Array) => ((opened = true), rt.createSession(b));
    await rejects(openGenerator(conditional({}), 'plain.onnx', open), /plain\.onnx: the generator takes a class input but its metadata lists no classes/);
    expect(opened).to.equal(false);
  });
});
