// Data parallel over processes: each step's draws split row-wise into S shards, each shard's gradient
// computed by a gradient program in a process of its own (Runtime.fork), the mean of the shards' gradients
// applied here by the network's update program. The draws are the one-process step's draws, so a shard
// sees exactly the samples it would there; losses are batch means, so the mean gradient is the batch's.
// What differs: batch norm normalizes each shard's rows (as PyTorch's DistributedDataParallel without
// SyncBatchNorm), and states and logs are the shards' means.
import { names } from './tensor-names.ts';
import type { ForkedRuntime, Runtime, Session } from '../runtime/runtime.ts';
import { absorb, feedsOf, type Absorbed, type ProgramState, type Signature, type TensorSpec } from './signature.ts';
import { StepCompiler, type Net, type StepProgram } from './step.ts';
import type { StepKey, StepRunner } from './step-runner.ts';

const NETS: Net[] = ['D', 'G'];

export class Shards implements StepRunner {
  readonly fusable = false;

  private constructor(
    readonly count: number,
    private readonly grad: Record<Net, StepProgram>,
    private readonly apply: Record<Net, { program: StepProgram; session: Session }>,
    /** sessions[n][s]: shard s's gradient program of network n, in fork s. */
    private readonly sessions: Record<Net, Session[]>,
    private readonly forks: ForkedRuntime[],
  ) {}

  /** Compile the shard and update programs of `compiler`'s setup and open them: S forks, one apply each here. */
  static async open(compiler: StepCompiler, steps: Record<Net, Signature>, count: number, runtime: Runtime, threads?: number): Promise<Shards> {
    if (!Number.isInteger(count) || count < 1) throw new Error(`shards must be a positive integer, got ${count}`);
    if (!runtime.fork) throw new Error(`shards ${count}: the ${runtime.name} runtime cannot run shards in other processes (data parallel runs on Node's CPU runtime)`);
    const batch = compiler.setup.batch;
    if (batch % count) throw new Error(`shards ${count}: the batch (${batch}) must split into equal shards`);
    const shard = new StepCompiler({ ...compiler.setup, batch: batch / count }, compiler.options);
    const grad = { D: shard.gradProgram('D'), G: shard.gradProgram('G') };
    for (const n of NETS) checkSplit(steps[n], grad[n].signature, count);
    const forks: ForkedRuntime[] = [];
    try {
      for (let s = 0; s < count; s++) forks.push(await runtime.fork());
      const sessions = { D: [] as Session[], G: [] as Session[] };
      for (const n of NETS) sessions[n] = await Promise.all(forks.map((f) => f.createSession(grad[n].model, { threads })));
      const apply = {} as Record<Net, { program: StepProgram; session: Session }>;
      for (const n of NETS) {
        const program = compiler.applyProgram(n, count);
        apply[n] = { program, session: await runtime.createSession(program.model, { threads }) };
      }
      return new Shards(count, grad, apply, sessions, forks);
    } catch (e) {
      await Promise.all(forks.map((f) => f.close()));
      throw e;
    }
  }

  /** One update of network n with one step's draws (as the one-process step program takes them). */
  async step(key: StepKey, state: ProgramState, draws: Record<string, Float32Array>): Promise<Absorbed> {
    if (key === 'D.lazy') throw new Error('data-parallel shards run the penalty on every critic step (lazy regularization is one process)');
    const n: Net = key;
    const sig = this.grad[n].signature;
    const outs = await Promise.all(
      this.sessions[n].map((session, s) =>
        session.run(feedsOf(sig, state, shardOf(sig, draws, s, this.count))).catch((e: Error) => {
          throw new Error(`shard ${s + 1} of ${this.count}: ${e.message}`);
        }),
      ),
    );
    // States and logs: the shards' means here; the gradients' mean is the update program's.
    const mean = (name: string) => {
      const acc = new Float32Array(outs[0][name].data.length);
      for (const o of outs) {
        const x = o[name].data as Float32Array;
        for (let i = 0; i < acc.length; i++) acc[i] += x[i];
      }
      for (let i = 0; i < acc.length; i++) acc[i] /= outs.length;
      return acc;
    };
    const values: Record<string, number> = {};
    const grads: Record<string, Float32Array> = {};
    for (const spec of sig.outputs) {
      if (spec.role === 'grad') outs.forEach((o, s) => (grads[names.grad(n, s)] = o[spec.name].data as Float32Array));
      else if (spec.role === 'state') state.states[spec.state!] = mean(spec.name);
      else if (spec.role === 'log') values[spec.log!] = mean(spec.name)[0];
    }
    const { program, session } = this.apply[n];
    const r = absorb(program.signature, await session.run(feedsOf(program.signature, state, grads)), state);
    const ok = r.ok[0] && outs.every((o) => (o.ok.data as Uint8Array)[0] === 1);
    return { values: [values], ok: [ok], outputs: {} };
  }

  async release(): Promise<void> {
    for (const n of NETS) await this.apply[n].session.release();
    await Promise.all(this.forks.map((f) => f.close()));
  }
}

const draws = (sig: Signature) => sig.inputs.filter((s) => s.draw);

/** Every draw of the one-process step must be the shard's draw stacked `count` times along its first axis. */
function checkSplit(step: Signature, shard: Signature, count: number): void {
  const [full, part] = [draws(step), draws(shard)];
  const shape = (s: TensorSpec) => `[${s.shape}]`;
  full.forEach((f, i) => {
    const p = part[i];
    const rows = p && f.shape[0] === count * (p.shape[0] as number) && f.shape.slice(1).join() === p.shape.slice(1).join();
    if (!p || p.name !== f.name || !rows) throw new Error(`shards ${count}: draw '${f.name}' ${shape(f)} of ${step.program} does not split by rows into ${count} shards${p ? ` of ${shape(p)}` : ''}`);
  });
  if (part.length !== full.length) throw new Error(`shards ${count}: ${shard.program} draws ${part.length} inputs, ${step.program} ${full.length}`);
}

/** Shard s's rows of each draw. */
function shardOf(sig: Signature, given: Record<string, Float32Array>, s: number, count: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const spec of draws(sig)) {
    const all = given[spec.name];
    const per = all.length / count;
    // A copy: a view would take its whole buffer along to the other process.
    out[spec.name] = all.slice(s * per, (s + 1) * per);
  }
  return out;
}
