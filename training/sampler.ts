// Samples from a generator in inference mode: the sampler program alone (no step program compiled), fed
// and read through its signature. What `eval` and a trainer's sample grids draw with.
import type { Runtime, Session } from '../runtime/runtime.ts';
import { DeviceState } from './device-state.ts';
import type { ProgramState } from './signature.ts';
import type { StepCompiler, StepPlan, StepProgram } from './step.ts';

export class Sampler {
  /** `device`: where the state's device copies are kept (a trainer shares its own); a fresh one by default. */
  constructor(
    private readonly plan: Pick<StepPlan, 'latent' | 'classes' | 'sampler'>,
    private readonly session: Promise<Session>,
    private readonly device = new DeviceState(),
  ) {}

  /**
   * Compile only the sampler of `compiler`'s pair (its averaged generator unless `ema: false`) and open a
   * session on it; `truncateAt`: the tensor mean-latent truncation rewrites (StepCompiler.sampler).
   */
  static compile(compiler: StepCompiler, runtime: Runtime, threads?: number, o: { ema?: boolean; truncateAt?: string } = {}): Sampler {
    const sampler: StepProgram = compiler.sampler(o);
    return new Sampler({ latent: compiler.latent, classes: compiler.classes, sampler }, runtime.createSession(sampler.model, { threads }));
  }

  /**
   * Samples for latent vectors z ([n, latent] row-major) and, for a class-conditional generator, each one's
   * class; with `truncation` (a sampler compiled with truncateAt) w is pulled toward `mean` by `psi`.
   */
  async generate(state: ProgramState, z: Float32Array, labels?: ArrayLike<number>, truncation?: { psi: number; mean: Float32Array }): Promise<Float32Array> {
    return (await this.run(state, z, labels, truncation ?? { psi: 1, mean: null })).samples;
  }

  /** The mean of the truncation tensor w over latent vectors z (and their classes), 500 at a time: mean-latent truncation's centre. */
  async meanLatent(state: ProgramState, z: Float32Array, labels?: ArrayLike<number>): Promise<Float32Array> {
    const per = this.meanSize();
    if (!per) throw new Error('meanLatent: this sampler was compiled without truncateAt');
    const latent = this.plan.latent;
    const n = z.length / latent;
    const classes = labels && Float32Array.from(labels);
    const sum = new Float64Array(per);
    for (let at = 0; at < n; at += 500) {
      const m = Math.min(500, n - at);
      const { w } = await this.run(state, z.subarray(at * latent, (at + m) * latent), classes?.subarray(at, at + m), { psi: 1, mean: null });
      for (let i = 0; i < m; i++) for (let j = 0; j < per; j++) sum[j] += w![i * per + j];
    }
    return Float32Array.from(sum, (v) => v / n);
  }

  private meanSize(): number {
    const spec = this.plan.sampler.signature.inputs.find((s) => s.name === 'w_mean');
    return spec ? (spec.shape as number[]).slice(1).reduce((a, b) => a * b, 1) : 0;
  }

  private async run(state: ProgramState, z: Float32Array, labels: ArrayLike<number> | undefined, truncation: { psi: number; mean: Float32Array | null }) {
    const n = z.length / this.plan.latent;
    if (this.plan.classes && (!labels || labels.length !== n)) throw new Error(`generate: the generator is class-conditional; give a class for each of the ${n} latent vectors`);
    const given: Record<string, Float32Array> = { z };
    if (this.plan.classes) given.label = Float32Array.from(labels!);
    const per = this.meanSize();
    if (per) {
      if (truncation.mean && truncation.mean.length !== per) throw new Error(`generate: the mean latent has ${truncation.mean.length} values, the truncation tensor ${per}`);
      given.w_mean = truncation.mean ?? new Float32Array(per);
      given.psi = Float32Array.of(truncation.psi);
    } else if (truncation.mean) throw new Error('generate: mean-latent truncation needs a sampler compiled with truncateAt');
    const r = await this.device.run(await this.session, this.plan.sampler.signature, state, given);
    return { samples: r.outputs.samples, w: r.outputs.w as Float32Array | undefined };
  }

  async release(): Promise<void> {
    await (await this.session).release();
  }
}
