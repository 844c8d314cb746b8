// The name of every tensor a step program takes or gives, a checkpoint holds and device memory keeps: one
// table, so a program, a checkpoint and a runner always agree on what "the critic's Adam m" is called.
export const names = {
  /** Carried state not trained (a loss's multiplier, running statistics), by its declared name. */
  param: (net: string) => `${net}.params`,
  slot: (net: string, slot: string) => `${net}.opt.${slot}`,
  counter: (net: string) => `${net}.step`,
  lr: (net: string) => `${net}.lr`,
  /** A network's gradient; a data-parallel update takes one per shard. */
  grad: (net: string, shard?: number) => (shard === undefined ? `${net}.grad` : `${net}.grad.${shard}`),
  state: (name: string) => `state.${name}`,
  next: (name: string) => `${name}:new`,
  /** The exponential average of a network's parameters or of a carried state (a state itself). */
  ema: (name: string) => `${name}.ema`,
};
