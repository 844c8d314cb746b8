// In-graph optimizers against torch.optim: three updates on fixed gradients.
import { Graph, tensor } from '../../graph/ir.ts';
import { optimizer, type OptimizerSettings } from '../../training/optim.ts';
import { arr, expectClose, fixture, session } from '../helpers.ts';

interface OptCase {
  name: string;
  settings: OptimizerSettings;
  p0: number[];
  grads: number[][];
  params: number[][];
}

describe('optimizers match torch.optim', () => {
  for (const c of fixture<{ cases: OptCase[] }>('optim.json').cases) {
    it(`${c.name}: three steps`, async () => {
      const n = c.p0.length;
      const opt = optimizer(c.settings);
      const g = new Graph(c.name);
      const p = g.input('p', 'float32', [n]);
      const gr = g.input('g', 'float32', [n]);
      const slots = opt.slots.map((s) => g.input(s, 'float32', [n]));
      const t = g.input('t', 'float32', []);
      const lr = g.input('lr', 'float32', []);
      const u = opt.update(p, gr, slots, t, lr);
      g.output(u.p, 'p:new');
      u.state.forEach((s, i) => g.output(s, `${opt.slots[i]}:new`));
      const s = await session(g);
      let params: Float32Array = Float32Array.from(c.p0);
      let state: Float32Array[] = opt.slots.map(() => new Float32Array(n));
      for (let k = 0; k < c.grads.length; k++) {
        const r = await s.run({
          p: tensor('float32', [n], params),
          g: tensor('float32', [n], c.grads[k]),
          t: tensor('float32', [], [k + 1]),
          lr: tensor('float32', [], [c.settings.lr]),
          ...Object.fromEntries(opt.slots.map((name, i) => [name, tensor('float32', [n], state[i])])),
        });
        params = r['p:new'].data as Float32Array;
        state = opt.slots.map((name) => r[`${name}:new`].data as Float32Array);
        expectClose(arr({ dtype: 'float32', dims: [n], data: params }), c.params[k], 1e-5, 1e-7, `${c.name} step ${k + 1}`);
      }
      await s.release();
    });
  }
});
