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

  /** Compile only the sampler of `compiler`'s pair (its averaged generator unless `ema: false`) and open a session on it. */
  static compile(compiler: StepCompiler, runtime: Runtime, threads?: number, o: { ema?: boolean } = {}): Sampler {
    const sampler: StepProgram = compiler.sampler(o);
    return new Sampler({ latent: compiler.latent, classes: compiler.classes, sampler }, runtime.createSession(sampler.model, { threads }));
  }

  /** Samples for latent vectors z ([n, latent] row-major) and, for a class-conditional generator, each one's class. */
  async generate(state: ProgramState, z: Float32Array, labels?: ArrayLike<number>): Promise<Float32Array> {
    const sig = this.plan.sampler.signature;
    const n = z.length / this.plan.latent;
    if (this.plan.classes && (!labels || labels.length !== n)) throw new Error(`generate: the generator is class-conditional; give a class for each of the ${n} latent vectors`);
    // The sampler's caller inputs, in signature order: the latent vectors, then a conditional one's classes.
    const [latent, label] = sig.inputs.filter((s) => s.role === 'input');
    const given: Record<string, Float32Array> = { [latent.name]: z };
    if (label) given[label.name] = Float32Array.from(labels!);
    const r = await this.device.run(await this.session, sig, state, given);
    return Object.values(r.outputs)[0];
  }

  async release(): Promise<void> {
    await (await this.session).release();
  }
}
