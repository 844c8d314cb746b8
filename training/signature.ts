// What a compiled program takes and returns, described once as plain data. The compiler writes it next to
// every graph (artifacts.json stores it as it is); every runner feeds a program and keeps its outputs
// through the two functions below, so no runner spells a graph input's name.
import { z } from 'zod';
import type { DataSource } from '../data/source.ts';
import { Rng } from '../data/random.ts';
import type { Feeds } from '../runtime/runtime.ts';

/** Every role a program's tensor can have, with what it means: the roles' one definition. */
export const ROLES = {
  param: "a network's flat parameter vector",
  slot: "an optimizer slot of a network (Adam's m and v, ...)",
  counter: "a network's update count (Adam's bias correction); the program adds one per update",
  lr: "a network's learning rate",
  grad: "a network's flat gradient: a data-parallel shard's output, the update's input",
  state: "carried, not trained: spectral norm's vectors, batch norm's running statistics, Fisher's multiplier",
  data: 'real samples drawn from the data set',
  random: "noise drawn by the host's seeded stream",
  input: "given by the caller (the sampler's latent vectors)",
  log: 'a scalar worth logging, per iteration',
  ok: 'all losses and updated parameters finite, per iteration',
  output: 'a result for the caller (samples)',
} as const;
export type Role = keyof typeof ROLES;

const shapeSchema = z.array(z.number().int().nonnegative());

/**
 * One draw for one step: from the data set or a distribution, and which steps of an iteration make it
 * (`shape`: one step's draw; for data [batch, ...sample]). 'labels': the classes of the same step's data
 * draw (as float32), for class-conditional programs.
 */
export const DrawSpecSchema = z.object({ dist: z.enum(['data', 'labels', 'normal', 'uniform']), shape: shapeSchema, steps: z.enum(['critic', 'generator', 'all']) });

export const TensorSpecSchema = z.object({
  name: z.string(),
  dtype: z.enum(['float32', 'bool']),
  shape: z.array(z.union([z.number().int().nonnegative(), z.string()])),
  role: z.enum(Object.keys(ROLES) as [Role, ...Role[]]),
  /** param, slot, counter, lr, grad: the network ('G', 'D', 'C'). */
  net: z.string().optional(),
  /** slot: the optimizer slot's name. */
  slot: z.string().optional(),
  /** state: the carried state's name. */
  state: z.string().optional(),
  /** log: the logged quantity's name ('D.loss', 'G.loss', 'D.gp'). */
  log: z.string().optional(),
  /** data and random inputs. */
  draw: DrawSpecSchema.optional(),
});

/** Fused programs also say their iterations per run (`k`) and critic steps per iteration (inputs stacked [k, steps, ...]). */
export const SignatureSchema = z.object({ program: z.string(), inputs: z.array(TensorSpecSchema), outputs: z.array(TensorSpecSchema), k: z.number().int().positive().optional(), nCritic: z.number().int().positive().optional() });

export type DrawSpec = z.infer<typeof DrawSpecSchema>;
export type TensorSpec = z.infer<typeof TensorSpecSchema>;
export type Signature = z.infer<typeof SignatureSchema>;

export interface NetState {
  params: Float32Array;
  slots: Float32Array[];
  /** Updates applied so far. */
  step: number;
  lr: number;
}

/** What programs read and write: networks by name, and the carried states. */
export interface ProgramState {
  states: Record<string, Float32Array>;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function netOf(state: ProgramState, spec: TensorSpec): NetState {
  const n = (state as unknown as Record<string, NetState | undefined>)[spec.net!];
  if (!n || !(n.params instanceof Float32Array)) throw new Error(`${spec.name}: no network '${spec.net}' in this state`);
  return n;
}

function slotIndex(sig: Signature, spec: TensorSpec): number {
  return sig.inputs.filter((s) => s.role === 'slot' && s.net === spec.net).findIndex((s) => s.slot === spec.slot);
}

const dims = (spec: TensorSpec, data: { length: number }): number[] => {
  const known = spec.shape.filter((d): d is number => typeof d === 'number');
  const free = spec.shape.length - known.length;
  if (free > 1) throw new Error(`${spec.name}: more than one free dimension`);
  return spec.shape.map((d) => (typeof d === 'number' ? d : data.length / size(known)));
};

/** Where the array a param, slot or state spec reads (or its output replaces) lives in a ProgramState. */
export function stateArray(sig: Signature, spec: TensorSpec): { get(st: ProgramState): Float32Array | undefined; set(st: ProgramState, a: Float32Array): void } {
  switch (spec.role) {
    case 'param':
      return { get: (st) => netOf(st, spec).params, set: (st, a) => void (netOf(st, spec).params = a) };
    case 'slot': {
      const i = slotIndex(sig, spec);
      return { get: (st) => netOf(st, spec).slots[i], set: (st, a) => void (netOf(st, spec).slots[i] = a) };
    }
    case 'state':
      return { get: (st) => st.states[spec.state!], set: (st, a) => void (st.states[spec.state!] = a) };
    default:
      throw new Error(`${spec.name}: a ${spec.role} is not carried state`);
  }
}

/** The feeds of one run: state by role, draws and caller inputs by name (stacked already for fused programs). */
export function feedsOf(sig: Signature, state: ProgramState, given: Record<string, Float32Array> = {}): Feeds {
  const feeds: Feeds = {};
  for (const spec of sig.inputs) {
    let data: Float32Array;
    switch (spec.role) {
      case 'param':
        data = netOf(state, spec).params;
        break;
      case 'slot':
        data = netOf(state, spec).slots[slotIndex(sig, spec)];
        break;
      case 'counter':
        data = new Float32Array([netOf(state, spec).step]);
        break;
      case 'lr':
        data = new Float32Array([netOf(state, spec).lr]);
        break;
      case 'state':
        data = state.states[spec.state!];
        if (!data) throw new Error(`${spec.name}: the state has no carried value '${spec.state}'`);
        break;
      default:
        data = given[spec.name];
        if (!data) throw new Error(`${sig.program}: nothing given for input '${spec.name}' (${spec.role})`);
    }
    feeds[spec.name] = { dtype: 'float32', dims: dims(spec, data), data };
  }
  return feeds;
}

/** What one run returns for the host: logged scalars and the ok flag per iteration, and any 'output'. */
export interface Absorbed {
  values: Record<string, number>[];
  ok: boolean[];
  outputs: Record<string, Float32Array>;
}

/** Keep a run's results: updated networks and states go into `state`; logs, flags and outputs are returned. */
export function absorb(sig: Signature, out: Feeds, state: ProgramState): Absorbed {
  const iterations = sig.k ?? 1;
  const values = Array.from({ length: iterations }, () => ({}) as Record<string, number>);
  const ok = new Array<boolean>(iterations).fill(true);
  const outputs: Record<string, Float32Array> = {};
  for (const spec of sig.outputs) {
    const t = out[spec.name];
    if (!t) throw new Error(`${sig.program}: the run returned no '${spec.name}'`);
    const data = t.data as Float32Array;
    switch (spec.role) {
      case 'param':
        netOf(state, spec).params = data;
        break;
      case 'slot':
        netOf(state, spec).slots[slotIndex(sig, spec)] = data;
        break;
      case 'counter':
        netOf(state, spec).step = data[0];
        break;
      case 'state':
        state.states[spec.state!] = data;
        break;
      case 'log':
        for (let i = 0; i < iterations; i++) values[i][spec.log!] = data[i];
        break;
      case 'ok':
        for (let i = 0; i < iterations; i++) ok[i] = (t.data as Uint8Array)[i] === 1;
        break;
      default:
        outputs[spec.name] = data;
    }
  }
  return { values, ok, outputs };
}

// ---- draws: a pure function of (seed, iteration), so a resumed run repeats an uninterrupted one ----------

const drawsOf = (sig: Signature) => sig.inputs.filter((s) => s.draw);

/**
 * One step's draws in signature order. A data draw that has a labels draw beside it takes the samples'
 * classes too (the same stream as an unlabelled draw, so conditioning changes no sample).
 */
function drawSpecs(specs: TensorSpec[], rng: Rng, data: DataSource): Float32Array[] {
  const wantLabels = specs.some((s) => s.draw!.dist === 'labels');
  let labels: Float32Array | null = null;
  return specs.map((s) => {
    const d = s.draw!;
    if (d.dist === 'data') {
      if (!wantLabels) return data.sample(rng, d.shape[0]);
      if (!data.sampleLabelled) throw new Error(`${s.name}: this program is class-conditional and data set '${data.name}' has no labels`);
      const r = data.sampleLabelled(rng, d.shape[0]);
      labels = r.labels;
      return r.samples;
    }
    if (d.dist === 'labels') {
      if (!labels) throw new Error(`${s.name}: a labels draw must follow its step's data draw`);
      return labels;
    }
    const out = new Float32Array(size(d.shape));
    return d.dist === 'uniform' ? rng.fillUniform(out) : rng.fillNormal(out);
  });
}

/** The iteration's stream; each step draws from it in turn, in signature order. */
export const iterationRng = (seed: number, iteration: number) => Rng.stream(seed, 'iteration', iteration);

/** One step's draws, for a one-step program. */
export function drawStep(sig: Signature, rng: Rng, data: DataSource): Record<string, Float32Array> {
  const specs = drawsOf(sig);
  const drawn = drawSpecs(specs, rng, data);
  return Object.fromEntries(specs.map((s, j) => [s.name, drawn[j]]));
}

/** Every draw of iterations [start, start + k) of a fused program, stacked as its inputs take them. */
export function drawBlock(sig: Signature, seed: number, start: number, data: DataSource): Record<string, Float32Array> {
  const k = sig.k!;
  const nC = sig.nCritic!;
  const specs = drawsOf(sig);
  const stacks = specs.map((s) => new Float32Array(size(s.shape as number[])));
  for (let it = 0; it < k; it++) {
    const rng = iterationRng(seed, start + it);
    for (let c = 0; c <= nC; c++) {
      const kind = c < nC ? 'critic' : 'generator';
      const mine = specs.map((s, j) => ({ s, j })).filter(({ s }) => s.draw!.steps === 'all' || s.draw!.steps === kind);
      const drawn = drawSpecs(mine.map(({ s }) => s), rng, data);
      mine.forEach(({ s, j }, m) => {
        const d = s.draw!;
        const at = d.steps === 'all' ? it * (nC + 1) + c : d.steps === 'critic' ? it * nC + c : it;
        stacks[j].set(drawn[m], at * size(d.shape));
      });
    }
  }
  return Object.fromEntries(specs.map((s, j) => [s.name, stacks[j]]));
}
