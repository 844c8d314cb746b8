// What a GAN loss is: a function that adds the critic's and the generator's objectives to a graph.
// Losses see only graph values; they know nothing about onnxruntime or the training loop.
import type { Value } from '../graph/ir.ts';

export type RandomDist = 'uniform' | 'normal';

export interface LossContext {
  /** Critic logits for a batch, built on the critic's current parameters. */
  D(x: Value): Value;
  real: Value;
  fake: Value;
  /** D(real) and D(fake), built once and shared by the loss and its penalties. */
  readonly dReal: Value;
  readonly dFake: Value;
  batch: number;
  /**
   * Class-conditional runs: each row's class (int64 [B]). The generated batch is made for the real batch's
   * classes, so a penalty between real and generated rows compares samples of one class.
   */
  labels?: Value;
  /** Critics with an auxiliary classifier (ACGAN): class logits [B, K] of the real and the generated batch. */
  readonly classReal?: Value;
  readonly classFake?: Value;
  /** A random tensor drawn by the host's seeded PRNG and fed to the step graph. */
  random(name: string, dist: RandomDist, shape: number[]): Value;
  /** A carried state the loss declared in `states` (Fisher GAN's multiplier), as of this step. */
  state(name: string): Value;
  /** The state's value for the next step. */
  setState(name: string, next: Value): void;
}

/** The scalar being minimised plus named terms worth logging. */
export interface Objective {
  loss: Value;
  terms?: Record<string, Value>;
}

/** State carried from step to step and not trained, declared up front as models declare theirs. */
export interface StateDecl {
  name: string;
  shape: number[];
  init(out: Float32Array): void;
}

export interface GanLoss {
  readonly name: string;
  readonly states?: StateDecl[];
  critic(ctx: LossContext): Objective;
  generator(ctx: LossContext): Objective;
}

/** A regulariser added to the critic's loss; any penalty combines with any loss. */
export interface Penalty {
  readonly name: string;
  /** State it carries from step to step (LeCam's moving averages). */
  readonly states?: StateDecl[];
  build(ctx: LossContext): Value;
}
