// The seam between the trainer and what executes its steps.
import type { Absorbed, ProgramState } from './signature.ts';
import type { Net } from './step.ts';

/**
 * What runs one network's step program over the state: sessions here, or shards in processes of their own
 * (shards.ts). The trainer drives either through this, without asking which.
 */
export interface StepRunner {
  step(n: Net, state: ProgramState, draws: Record<string, Float32Array>): Promise<Absorbed>;
  /** Whether K iterations may instead run as one fused program in this process. */
  readonly fusable: boolean;
  release(): Promise<void>;
}
