// The host loop: draw this iteration's randomness, run the step graphs, keep the returned state.
// Everything random is a pure function of (seed, iteration), so a resumed run repeats an uninterrupted
// one exactly. No Node-only import here: a browser page runs the same trainer.
import { Graph, type TensorData } from '../graph/ir.ts';
import { toBytes } from '../graph/serialize.ts';
import { initParams } from '../models/model.ts';
import { Rng } from '../models/random.ts';
import type { Feeds, Runtime, Session } from './runtime.ts';
import { io, StepCompiler, unpackParams, type GanSetup, type Net, type RandomInput, type StepProgram } from './step.ts';

/** Where real samples come from. */
export interface DataSource {
  readonly name: string;
  /** Per-sample shape, as the critic takes it. */
  readonly shape: number[];
  /** n samples drawn with rng, flattened row-major. */
  sample(rng: Rng, n: number): Float32Array;
}

export interface NetState {
  params: Float32Array;
  slots: Float32Array[];
  /** Updates applied so far. */
  step: number;
  lr: number;
}

export interface TrainState {
  /** Generator iterations completed. */
  iteration: number;
  G: NetState;
  D: NetState;
  /** Carried state that is not trained (a loss's multiplier, spectral norm's vectors), by name. */
  extra: Record<string, Float32Array>;
}

export interface IterationLog {
  iteration: number;
  /** Last value of each logged scalar in this iteration. */
  values: Record<string, number>;
  ok: boolean;
}

export interface TrainerOptions {
  setup: GanSetup;
  runtime: Runtime;
  data: DataSource;
  seed: number;
  /** Critic steps before generator iteration `it` (0-based). */
  nCritic: (it: number) => number;
  threads?: number;
  /** Run K iterations per session call in one ONNX Loop (for GPUs, where every call copies all I/O). */
  fuse?: number;
}

const f32 = (dims: number[], data: Float32Array): TensorData => ({ dtype: 'float32', dims, data });
const scalarF = (x: number): TensorData => f32([], new Float32Array([x]));

export class Trainer {
  private fused = new Map<number, { program: StepProgram; session: Session }>();

  private constructor(
    readonly opts: TrainerOptions,
    readonly compiler: StepCompiler,
    readonly critic: StepProgram,
    readonly generator: StepProgram,
    private readonly criticSession: Session,
    private readonly generatorSession: Session,
  ) {}

  static async create(opts: TrainerOptions): Promise<Trainer> {
    const compiler = new StepCompiler(opts.setup);
    const dataShape = opts.data.shape.join('x');
    if (dataShape !== compiler.sampleShape.join('x'))
      throw new Error(`data set '${opts.data.name}' has samples of shape [${opts.data.shape}], the critic takes [${compiler.sampleShape}]`);
    const critic = compiler.criticStep();
    const generator = compiler.generatorStep();
    const so = { threads: opts.threads };
    const [cs, gs] = await Promise.all([opts.runtime.createSession(critic.model, so), opts.runtime.createSession(generator.model, so)]);
    return new Trainer(opts, compiler, critic, generator, cs, gs);
  }

  get setup(): GanSetup {
    return this.opts.setup;
  }

  initialState(): TrainState {
    const rng = Rng.stream(this.opts.seed, 'init');
    const net = (n: Net): NetState => {
      const model = n === 'G' ? this.setup.generator : this.setup.critic;
      const params = initParams(model, rng);
      return { params, slots: this.compiler.opt[n].slots.map(() => new Float32Array(params.length)), step: 0, lr: (n === 'G' ? this.setup.optG : this.setup.optD).lr };
    };
    const G = net('G');
    const D = net('D');
    const extra: Record<string, Float32Array> = {};
    for (const [name, spec] of this.compiler.states) extra[name] = spec.init(rng);
    return { iteration: 0, G, D, extra };
  }

  // ---- randomness ---------------------------------------------------------------------------------

  private draw(rng: Rng, randoms: RandomInput[]) {
    const B = this.setup.batch;
    const real = this.opts.data.sample(rng, B);
    const z = rng.fillNormal(new Float32Array(B * this.compiler.latent));
    const extra = randoms.map((r) => {
      const out = new Float32Array(r.shape.reduce((a, b) => a * b, 1));
      return r.dist === 'uniform' ? rng.fillUniform(out) : rng.fillNormal(out);
    });
    return { real, z, extra };
  }

  // ---- one iteration, step by step ----------------------------------------------------------------

  private netFeeds(n: Net, s: NetState, stepForThisUpdate: number): Feeds {
    const size = s.params.length;
    const feeds: Feeds = { [io.params(n)]: f32([size], s.params), [io.step(n)]: scalarF(stepForThisUpdate), [io.lr(n)]: scalarF(s.lr) };
    this.compiler.opt[n].slots.forEach((slot, i) => (feeds[io.slot(n, slot)] = f32([size], s.slots[i])));
    return feeds;
  }

  private absorb(n: Net, s: NetState, out: Feeds): void {
    s.params = out[io.updated(io.params(n))].data as Float32Array;
    this.compiler.opt[n].slots.forEach((slot, i) => (s.slots[i] = out[io.updated(io.slot(n, slot))].data as Float32Array));
    s.step += 1;
  }

  private stateFeeds(p: StepProgram, state: TrainState): Feeds {
    return Object.fromEntries(p.stateIn.map((n) => [io.state(n), f32(this.compiler.states.get(n)!.shape, state.extra[n])]));
  }

  private absorbState(p: StepProgram, state: TrainState, out: Feeds): void {
    for (const n of p.stateOut) state.extra[n] = out[io.updated(io.state(n))].data as Float32Array;
  }

  private randomFeeds(randoms: RandomInput[], extra: Float32Array[]): Feeds {
    return Object.fromEntries(randoms.map((r, i) => [r.name, f32(r.shape, extra[i])]));
  }

  private program(n: Net): StepProgram {
    return n === 'D' ? this.critic : this.generator;
  }

  /** Feeds for one update of network n: its state, the other network's parameters, this step's draws. */
  private stepFeeds(n: Net, state: TrainState, r: ReturnType<Trainer['draw']>): Feeds {
    const other: Net = n === 'D' ? 'G' : 'D';
    const p = this.program(n);
    return {
      ...this.netFeeds(n, state[n], state[n].step + 1),
      [io.params(other)]: f32([this.compiler.layout(other).size], state[other].params),
      [io.real]: f32([this.setup.batch, ...this.compiler.sampleShape], r.real),
      [io.z]: f32([this.setup.batch, this.compiler.latent], r.z),
      ...this.randomFeeds(p.randoms, r.extra),
      ...this.stateFeeds(p, state),
    };
  }

  /** Keep what one update of network n returned; its logged scalars go into `values`. Returns the ok flag. */
  private takeStep(n: Net, state: TrainState, out: Feeds, values: Record<string, number>): boolean {
    const p = this.program(n);
    this.absorb(n, state[n], out);
    this.absorbState(p, state, out);
    for (const k of p.logs) values[k] = (out[k].data as Float32Array)[0];
    return (out[io.ok].data as Uint8Array)[0] === 1;
  }

  /** One generator iteration with its critic steps. Mutates `state`; returns the logged scalars. */
  async iteration(state: TrainState): Promise<IterationLog> {
    const rng = Rng.stream(this.opts.seed, 'iteration', state.iteration);
    const values: Record<string, number> = {};
    let ok = true;
    const nC = this.opts.nCritic(state.iteration);
    // Each step's draws are made while the previous step runs (run() is asynchronous): same order, no wait.
    let draws = this.draw(rng, nC > 0 ? this.critic.randoms : this.generator.randoms);
    for (let c = 0; c < nC; c++) {
      const pending = this.criticSession.run(this.stepFeeds('D', state, draws));
      draws = this.draw(rng, c + 1 < nC ? this.critic.randoms : this.generator.randoms);
      ok = this.takeStep('D', state, await pending, values) && ok;
    }
    ok = this.takeStep('G', state, await this.generatorSession.run(this.stepFeeds('G', state, draws)), values) && ok;
    state.iteration += 1;
    return { iteration: state.iteration, values, ok };
  }

  // ---- K iterations in one Loop -------------------------------------------------------------------

  /**
   * K iterations in one session call; the same draws in the same order as K calls of iteration(), so the
   * parameters agree up to float rounding. Needs a constant n_critic over the K iterations.
   */
  async fusedIterations(state: TrainState, k: number): Promise<IterationLog[]> {
    const nC = this.opts.nCritic(state.iteration);
    for (let j = 1; j < k; j++)
      if (this.opts.nCritic(state.iteration + j) !== nC) throw new Error('fused iterations need a constant n_critic over the block');
    const { program, session } = await this.fusedFor(k, nC);
    const start = state.iteration;
    const hit = this.prefetched;
    const draws = hit && hit.start === start && hit.k === k && hit.nC === nC ? hit.feeds : this.fusedDraws(start, k, nC);
    const pending = session.run({ ...this.netFeeds('G', state.G, state.G.step), ...this.netFeeds('D', state.D, state.D.step), ...this.stateFeeds(program, state), ...draws });
    // The next block's draws depend only on its iteration numbers: make them while this block runs.
    this.prefetched = { start: start + k, k, nC, feeds: this.fusedDraws(start + k, k, nC) };
    const out = await pending;
    for (const n of ['G', 'D'] as Net[]) {
      const s = state[n];
      s.params = out[io.updated(io.params(n))].data as Float32Array;
      this.compiler.opt[n].slots.forEach((slot, i) => (s.slots[i] = out[io.updated(io.slot(n, slot))].data as Float32Array));
      s.step = (out[io.updated(io.step(n))].data as Float32Array)[0];
    }
    this.absorbState(program, state, out);
    const oks = out[io.ok].data as Uint8Array;
    const logs: IterationLog[] = [];
    for (let it = 0; it < k; it++) {
      const values: Record<string, number> = {};
      for (const name of program.logs) values[name] = (out[name].data as Float32Array)[it];
      logs.push({ iteration: start + it + 1, values, ok: oks[it] === 1 });
    }
    state.iteration += k;
    return logs;
  }

  private prefetched: { start: number; k: number; nC: number; feeds: Feeds } | null = null;

  /** Every draw of iterations [start, start + k), stacked in the order iteration() makes them. */
  private fusedDraws(start: number, k: number, nC: number): Feeds {
    const B = this.setup.batch;
    const sample = this.compiler.sampleShape.reduce((a, b) => a * b, 1);
    const L = this.compiler.latent;
    const real = new Float32Array(k * (nC + 1) * B * sample);
    const z = new Float32Array(k * (nC + 1) * B * L);
    const cr = this.critic.randoms;
    const gr = this.generator.randoms;
    const size = (r: RandomInput) => r.shape.reduce((a, b) => a * b, 1);
    const critStacks = cr.map((r) => new Float32Array(k * nC * size(r)));
    const genStacks = gr.map((r) => new Float32Array(k * size(r)));
    for (let it = 0; it < k; it++) {
      const rng = Rng.stream(this.opts.seed, 'iteration', start + it);
      for (let c = 0; c <= nC; c++) {
        const d = this.draw(rng, c < nC ? cr : gr);
        const slot = it * (nC + 1) + c;
        real.set(d.real, slot * B * sample);
        z.set(d.z, slot * B * L);
        d.extra.forEach((e, i) => (c < nC ? critStacks[i].set(e, (it * nC + c) * size(cr[i])) : genStacks[i].set(e, it * size(gr[i]))));
      }
    }
    const feeds: Feeds = {
      [io.real]: f32([k, nC + 1, B, ...this.compiler.sampleShape], real),
      [io.z]: f32([k, nC + 1, B, L], z),
    };
    cr.forEach((r, i) => (feeds[`D.${r.name}`] = f32([k, nC, ...r.shape], critStacks[i])));
    gr.forEach((r, i) => (feeds[`G.${r.name}`] = f32([k, ...r.shape], genStacks[i])));
    return feeds;
  }

  private async fusedFor(k: number, nC: number) {
    const key = k * 100000 + nC;
    let hit = this.fused.get(key);
    if (!hit) {
      const program = this.compiler.fusedProgram(k, nC, this.critic.randoms, this.generator.randoms);
      hit = { program, session: await this.opts.runtime.createSession(program.model, { threads: this.opts.threads }) };
      this.fused.set(key, hit);
    }
    return hit;
  }

  // ---- sampling -----------------------------------------------------------------------------------

  private sampler: Session | null = null;

  /** Generator outputs for the given latent vectors ([n, latent] row-major). */
  async generate(params: Float32Array, z: Float32Array): Promise<Float32Array> {
    if (!this.sampler) this.sampler = await this.opts.runtime.createSession(samplerModel(this.compiler), { threads: this.opts.threads });
    const n = z.length / this.compiler.latent;
    const out = await this.sampler.run({ [io.params('G')]: f32([params.length], params), [io.z]: f32([n, this.compiler.latent], z) });
    return out.samples.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.criticSession.release();
    await this.generatorSession.release();
    if (this.sampler) await this.sampler.release();
    for (const f of this.fused.values()) await f.session.release();
  }
}

/** Generator forward with the flat parameter vector as an input and a dynamic batch. */
export function samplerModel(compiler: StepCompiler): Uint8Array {
  const g = new Graph('sampler');
  const flat = g.input(io.params('G'), 'float32', [compiler.layoutG.size]);
  const z = g.input(io.z, 'float32', ['N', compiler.latent]);
  g.output(compiler.setup.generator.forward(z, unpackParams(flat, compiler.layoutG)), 'samples');
  return toBytes(g);
}
