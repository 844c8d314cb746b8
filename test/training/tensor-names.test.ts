// training/tensor-names.ts is the one place tensor names come from: a step program's signature, a
// checkpoint and training artifacts call the same tensors by the same names.
import { expect } from 'chai';
import { decodeSafetensors, encodeCheckpoint } from '../../training/checkpoint.ts';
import { mlpGan } from '../../training/gan-pairs.ts';
import { StepCompiler } from '../../training/step.ts';
import { names } from '../../training/tensor-names.ts';

describe('training/tensor-names', () => {
  it('the critic step takes, and its checkpoint holds, the tensors these names give', () => {
    const compiler = new StepCompiler(mlpGan({ loss: 'fisher', hidden: [8], batch: 16, optimizer: 'adam' }));
    const plan = compiler.plan();
    const inputs = plan.critic.signature.inputs.map((s) => s.name);
    const outputs = plan.critic.signature.outputs.map((s) => s.name);
    const slots = plan.nets.D.slots;
    expect(slots.length).to.be.greaterThan(0);
    for (const name of [names.param('D'), names.param('G'), names.counter('D'), names.lr('D'), ...slots.map((s) => names.slot('D', s)), names.state('fisher.lambda')]) expect(inputs, name).to.include(name);
    for (const name of [names.next(names.param('D')), names.next(names.state('fisher.lambda'))]) expect(outputs, name).to.include(name);

    const zeros = (n: number) => new Float32Array(n);
    const net = (n: 'G' | 'D') => ({ params: zeros(plan.nets[n].size), slots: plan.nets[n].slots.map(() => zeros(plan.nets[n].size)), step: 3, lr: 1e-3 });
    const info = { config: '{}', slots: { G: plan.nets.G.slots, D: plan.nets.D.slots }, states: [{ name: 'fisher.lambda', size: 1 }] };
    const bytes = encodeCheckpoint({ iteration: 3, G: net('G'), D: net('D'), states: { 'fisher.lambda': zeros(1) } }, info);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(Object.keys(tensors)).to.include.members([names.param('G'), names.param('D'), ...slots.map((s) => names.slot('D', s)), names.state('fisher.lambda')]);
    expect(metadata).to.include.keys(names.counter('G'), names.lr('D'));
  });
});
