// Fisher GAN (losses/fisher.ts) against Mroueh & Sercu 2017 in JS: the critic's augmented-Lagrangian
// objective and the multiplier's update, lambda <- lambda - rho * constraint, written as carried state.
import { expect } from 'chai';
import { Graph } from '../../graph/ir.ts';
import { fisher } from '../../losses/fisher.ts';
import { fixedContext, run } from '../helpers.ts';

describe('losses/fisher', () => {
  it('the critic loss is minus the augmented Lagrangian, and lambda steps by -rho * constraint', async () => {
    const R = [0.9, 1.4, -0.2];
    const F = [-0.5, 0.3, -1.1];
    const lambda = 0.7;
    const rho = 0.25;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const constraint = 1 - (mean(R.map((x) => x * x)) + mean(F.map((x) => x * x))) / 2;
    const objective = mean(R) - mean(F) + lambda * constraint - (rho / 2) * constraint ** 2;

    const g = new Graph('fisher');
    const real = g.input('r', 'float32', [3, 1]);
    const fake = g.input('f', 'float32', [3, 1]);
    const ctx = fixedContext((x) => x, real, fake, 3, { 'fisher.lambda': { data: [lambda], shape: [] } });
    const loss = fisher(rho);
    const c = loss.critic(ctx);
    g.output(c.loss, 'loss');
    g.output(ctx.writes.get('fisher.lambda')!, 'lambda');
    g.output(loss.generator(ctx).loss, 'generator');
    const feed = (xs: number[]) => ({ dtype: 'float32' as const, dims: [3, 1], data: Float32Array.from(xs) });
    const out = await run(g, { r: feed(R), f: feed(F) });
    expect((out.loss.data as Float32Array)[0]).to.be.closeTo(-objective, 1e-5);
    expect((out.lambda.data as Float32Array)[0]).to.be.closeTo(lambda - rho * constraint, 1e-6);
    expect((out.generator.data as Float32Array)[0]).to.be.closeTo(-mean(F), 1e-6);
    expect(loss.states?.map((s) => s.name)).to.deep.equal(['fisher.lambda']);
  });
});
