// The seam between the trainer and what executes its steps.
import type { Absorbed, ProgramState } from './signature.ts';
import type { Net } from './step.ts';

/**
 * What runs one network's step program over the state: sessions here, or shards in processes of their own
 * (shards.ts). The trainer drives either through this, without asking which.
 */
/** A step program: a network's, or the critic's without its gradient penalties (lazy regularization). */
export type StepKey = Net | 'D.lazy';

export interface StepRunner {
  step(key: StepKey, state: ProgramState, draws: Record<string, Float32Array>): Promise<Absorbed>;
  /** Whether K iterations may instead run as one fused program in this process. */
  readonly fusable: boolean;
  release(): Promise<void>;
}
