// The TF.js peer of the MLP bench (bench/cases.ts 'mlp'): the same WGAN-GP training written with
// @tensorflow/tfjs-core on any of its backends: G 16-128-128-2 ReLU, D 2-128-128-1 LeakyReLU 0.2,
// batch 256, n_critic 5, lambda 10, Adam 1e-4 (0.5, 0.9) for both, ring8 data. The gradient penalty needs
// the gradient of a gradient: tf.grad nested inside the optimizer's variableGrads (TF.js records the
// inner gradient's ops on the outer tape).
import * as tf from '@tensorflow/tfjs-core';
// The gradient functions are registered apart from the ops (the tfjs umbrella package imports these).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';

const B = 256;
const LATENT = 16;
const N_CRITIC = 5;
const LAMBDA = 10;

type Layer = { w: tf.Variable; b: tf.Variable };
function dense(inp: number, out: number, name: string): Layer {
  // He-uniform weights, zero biases: the speed does not depend on the values.
  const lim = Math.sqrt(6 / inp);
  return { w: tf.variable(tf.randomUniform([inp, out], -lim, lim, 'float32', 1), true, `${name}.w`), b: tf.variable(tf.zeros([out]), true, `${name}.b`) };
}
const mlp = (widths: number[], name: string) => widths.slice(1).map((w, i) => dense(widths[i], w, `${name}${i}`));
const vars = (layers: Layer[]) => layers.flatMap((l) => [l.w, l.b]);

function forward(layers: Layer[], x: tf.Tensor2D, act: (t: tf.Tensor2D) => tf.Tensor2D): tf.Tensor2D {
  let h = x;
  layers.forEach((l, i) => {
    h = tf.add(tf.matMul(h, l.w), l.b);
    if (i < layers.length - 1) h = act(h);
  });
  return h;
}

/** ring8: eight Gaussians (std 0.02) on a circle of radius 2. */
function ring8(n: number): tf.Tensor2D {
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const a = (Math.floor(Math.random() * 8) / 8) * 2 * Math.PI;
    const g = () => Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random()) * 0.02;
    out[2 * i] = 2 * Math.cos(a) + g();
    out[2 * i + 1] = 2 * Math.sin(a) + g();
  }
  return tf.tensor2d(out, [n, 2]);
}

export interface PeerResult {
  backend: string;
  threads: number | null;
  iters: number;
  seconds: number;
  steps_per_s: number;
  /** The last critic loss, to show the training ran (finite). */
  dLoss: number;
}

/** Train `warmup` + `iters` generator iterations (each after n_critic critic steps); time the last `iters`. */
export async function trainWganGp(warmup: number, iters: number): Promise<Omit<PeerResult, 'threads'>> {
  const G = mlp([LATENT, 128, 128, 2], 'G');
  const D = mlp([2, 128, 128, 1], 'D');
  const g = (z: tf.Tensor2D) => forward(G, z, tf.relu);
  // LeakyReLU 0.2 as 0.6 t + 0.4 |t| (the same function): the gradients of tf.leakyRelu and tf.maximum use
  // Greater and Less, which have no gradient of their own, so the penalty's second order fails; Abs's uses
  // Step, whose gradient is registered (zero).
  const d = (x: tf.Tensor2D) => forward(D, x, (t) => tf.add(tf.mul(t, 0.6), tf.mul(tf.abs(t), 0.4)));
  const optD = tf.train.adam(1e-4, 0.5, 0.9);
  const optG = tf.train.adam(1e-4, 0.5, 0.9);
  let dLoss = NaN;
  const iteration = async () => {
    for (let c = 0; c < N_CRITIC; c++) {
      const real = ring8(B);
      const loss = optD.minimize(() => {
        const fake = g(tf.randomNormal([B, LATENT]));
        const eps = tf.randomUniform([B, 1]);
        const xhat = tf.add(tf.mul(eps, real), tf.mul(tf.sub(1, eps), fake)) as tf.Tensor2D;
        const dx = tf.grad((x: tf.Tensor) => tf.sum(d(x as tf.Tensor2D)))(xhat);
        const gp = tf.mean(tf.square(tf.sub(tf.sqrt(tf.add(tf.sum(tf.square(dx), 1), 1e-12)), 1)));
        return tf.add(tf.sub(tf.mean(d(fake)), tf.mean(d(real))), tf.mul(LAMBDA, gp)) as tf.Scalar;
      }, true, vars(D))!;
      real.dispose();
      if (c === N_CRITIC - 1) dLoss = (await loss.data())[0];
      loss.dispose();
    }
    optG.minimize(() => tf.neg(tf.mean(d(g(tf.randomNormal([B, LATENT]))))) as tf.Scalar, false, vars(G));
  };
  for (let i = 0; i < warmup; i++) await iteration();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) await iteration();
  const seconds = (performance.now() - t0) / 1000;
  for (const v of [...vars(G), ...vars(D)]) v.dispose();
  optD.dispose();
  optG.dispose();
  return { backend: tf.getBackend(), iters, seconds, steps_per_s: iters / seconds, dLoss };
}
