// A loss on its own, for any ONNX consumer: inputs are the critic's outputs on a real and a fake batch
// (and, for a penalty, the critic's input-gradient at the penalty's points; for stateful losses, the state);
// outputs are the critic's and the generator's losses, their gradients w.r.t. the critic outputs, logged
// terms and the next state. The penalty code is the training code itself: it sees a linear surrogate critic
// D(x) = <x, critic_grad>, whose input-gradient is exactly the tensor given.
import { grad } from '../graph/autodiff.ts';
import { Graph, type Value } from '../graph/ir.ts';
import { add, mul, reduceSum, stopGradient } from '../graph/ops.ts';
import { toBytes } from '../graph/serialize.ts';
import { buildLoss, lossEntry, type LossContext, type LossSettings } from '../losses/index.ts';

export interface ExportLossOptions extends LossSettings {
  /** Per-sample shape of the critic's input (for the penalty's gradient input). */
  sampleShape?: number[];
  producerVersion?: string;
}

export function exportLoss(name: string, o: ExportLossOptions = {}): Uint8Array {
  const built = buildLoss(name, o);
  const g = new Graph(`loss_${name}`);
  const N = 'N';
  const sample = o.sampleShape ?? [2];
  const dReal = g.input('d_real', 'float32', [N, 1]);
  const dFake = g.input('d_fake', 'float32', [N, 1]);
  const critGrad = built.penalties.length ? g.input('critic_grad', 'float32', [N, ...sample]) : null;
  const states = new Map<string, Value>();
  const writes = new Map<string, Value>();
  // The penalties' sample-shaped values only feed the surrogate, whose gradient does not depend on their
  // values; they need the batch's shape, so that each sample's gradient stays its own.
  const placeholder = critGrad ? stopGradient(mul(critGrad, 0)) : dReal;
  const ctx = (): LossContext => ({
    D: (x) => reduceSum(mul(x, stopGradient(critGrad!)), [...Array(sample.length).keys()].map((i) => i + 1), true),
    real: placeholder,
    fake: placeholder,
    dReal,
    dFake,
    batch: 1,
    random: (_n, _d, shape) => g.constant({ dtype: 'float32', dims: [1, ...shape.slice(1)], data: new Float32Array(shape.slice(1).reduce((a, b) => a * b, 1)).fill(0.5) }),
    state: (n) => {
      const decl = built.loss.states?.find((s) => s.name === n);
      if (!decl) throw new Error(`loss '${name}' reads state '${n}' it does not declare`);
      let v = states.get(n);
      if (!v) states.set(n, (v = g.input(`state.${n}`, 'float32', decl.shape)));
      return v;
    },
    setState: (n, v) => void writes.set(n, v),
  });
  const critic = built.loss.critic(ctx());
  const pens = built.penalties.map((p) => p.build(ctx()));
  const lossD = pens.length ? add(critic.loss, pens[0]) : critic.loss;
  const lossG = built.loss.generator(ctx()).loss;
  const [dR, dF] = grad(lossD, [dReal, dFake]);
  const [gR, gF] = grad(lossG, [dReal, dFake]);
  g.output(lossD, 'loss_d');
  g.output(lossG, 'loss_g');
  g.output(dR, 'grad_d_real');
  g.output(dF, 'grad_d_fake');
  g.output(gR, 'grad_g_real');
  g.output(gF, 'grad_g_fake');
  if (pens.length) g.output(pens[0], 'penalty');
  for (const [k, v] of Object.entries(critic.terms ?? {})) g.output(v, `term.${k}`);
  for (const [n, v] of writes) g.output(v, `state.${n}:new`);
  const e = lossEntry(name);
  return toBytes(g, {
    producerVersion: o.producerVersion,
    docString: `onnx-gan loss '${name}': ${e.describe}`,
    metadata: { loss: name, settings: JSON.stringify(o), inputs: 'd_real, d_fake: critic outputs [N,1]; critic_grad: dD/dx at the penalty points' },
  });
}
