// LeCam regularization (Tseng et al. 2021, google/lecam-gan): the critic's scores on real data are pulled
// toward a running mean of its scores on generated data and vice versa, which bounds the critic's outputs
// when data are few:
//   R = E[relu(D(x) - a_F)^2] + E[relu(a_R - D(G(z)))^2],  a_R, a_F moving averages (decay 0.99) of E[D(x)], E[D(G(z))]
// The averages are carried state, updated after each critic step from that step's scores.
import { add, mean, mul, relu, square, sub } from '../graph/ops.ts';
import type { Penalty, StateDecl } from './loss.ts';

const ANCHOR_REAL = 'lecam.real';
const ANCHOR_FAKE = 'lecam.fake';

export const lecam = (weight: number, decay = 0.99): Penalty & { states: StateDecl[] } => ({
  name: 'lecam',
  states: [ANCHOR_REAL, ANCHOR_FAKE].map((name) => ({ name, shape: [], init: (out: Float32Array) => out.fill(0) })),
  build: (ctx) => {
    const [real, fake] = [ctx.state(ANCHOR_REAL), ctx.state(ANCHOR_FAKE)];
    const reg = add(mean(square(relu(sub(ctx.dReal, fake)))), mean(square(relu(sub(real, ctx.dFake)))));
    const track = (anchor: string, now: typeof real, scores: typeof real) => ctx.setState(anchor, add(now, mul(sub(mean(scores), now), 1 - decay)));
    track(ANCHOR_REAL, real, ctx.dReal);
    track(ANCHOR_FAKE, fake, ctx.dFake);
    return mul(weight, reg);
  },
});
