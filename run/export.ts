// `onnx-gan export <run | checkpoint file>`: from a run's newest good checkpoint (or the file named), into
// <run>/export or --out:
//   generator.onnx, critic.onnx (inference only) and weights.safetensors, for serving and other frameworks
//   (with --uint8, generator_uint8.onnx: uint8 RGB images as torch-fidelity's ONNX wrapper scores them);
//   training/ (step programs, sampler, checkpoint, config), the artifacts Node and the browser page keep training.
// An export is never replaced by an older iteration, and files whose bytes would not change are not rewritten.
import { packageFile } from '../runtime/package-files.ts';
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Evaluate } from '../export/fold.ts';
import { CLASS_INPUT, inferenceModel, uint8Rgb, weightsSafetensors } from '../export/model.ts';
import { pytorchModule } from '../export/pytorch.ts';
import { nodeRuntime } from '../runtime/node.ts';
import { ARTIFACT_FILES, classNames, packArtifacts } from '../training/artifacts.ts';
import { decodeCheckpoint, peekCheckpoint, type CheckpointInfo } from '../training/checkpoint.ts';
import { StepCompiler } from '../training/step.ts';
import type { TrainState } from '../training/trainer.ts';
import { identityDiff, parseConfig, type Config } from './config.ts';
import { ownDir, writeFileAtomic } from './files.ts';
import { withLock } from './lock.ts';
import { EXPORT_DIR, iterationOf, runOf } from './run-dir.ts';
import { checkpointInfo, resolveSetup, runData } from './setup.ts';
import { isImage } from '../data/load.ts';
import { isRun, openRun } from './open.ts';

export const VERSION: string = JSON.parse(readFileSync(packageFile('package.json'), 'utf8')).version;

export interface ExportResult {
  out: string;
  iteration: number;
  /** Every file of the export, written now or already equal. */
  files: string[];
  /** Those that already held these bytes (an export of the same iteration). */
  unchanged: string[];
  /** What a consumer cannot load, one line each (OpenCV's DNN importer). */
  notes: string[];
}

/**
 * What an export starts from: a run's settings, where the export goes by default, and how to read the
 * state once the model (which the checkpoint must match) is compiled.
 */
interface Source {
  cfg: Config;
  defaultOut: string;
  load(info: CheckpointInfo): { state: TrainState; from: string };
}

function source(target: string, log: (m: string) => void): Source {
  const path = resolve(target);
  if (!existsSync(path)) throw new Error(`export: ${path} does not exist`);
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, ARTIFACT_FILES.manifest))) return source(join(path, ARTIFACT_FILES.checkpoint), log);
    if (!isRun(path)) throw new Error(`export: ${path} is not a run directory (no config.json), training artifacts or a checkpoint file`);
    const run = openRun(path, 'export');
    return {
      cfg: run.config,
      defaultOut: run.exports,
      load(info) {
        const latest = run.latest(info, log, 'export');
        if (!latest) throw new Error(`export: ${path} has no checkpoint yet`);
        return { state: latest.state, from: latest.file };
      },
    };
  }
  // A checkpoint file: its own metadata says which run settings made it; a run it sits in may say more.
  const bytes = readFileSync(path);
  const peek = peekCheckpoint(bytes, path);
  let cfg: Config;
  try {
    cfg = parseConfig(JSON.parse(peek.config), `${path} (its run settings)`);
  } catch (e) {
    throw new Error(`export: ${(e as Error).message}`);
  }
  const owner = runOf(path);
  const run = owner ? openRun(owner, 'export') : null;
  if (run && !identityDiff(run.config, cfg)) cfg = run.config;
  return { cfg, defaultOut: run ? run.exports : join(dirname(path), EXPORT_DIR), load: (info) => ({ state: decodeCheckpoint(bytes, info, path), from: path }) };
}

/**
 * The evaluator constant folding runs on: onnxruntime-node's CPU provider, unoptimized (the graph runs once;
 * optimizing it only printed UnsqueezeElimination warnings about the imported models' shared constants).
 */
const evaluate: Evaluate = async (model) => {
  const s = await nodeRuntime('cpu').createSession(model, { threads: 1, optimize: false });
  try {
    return await s.run({});
  } finally {
    await s.release();
  }
};

export async function exportRun(target: string, o: { out?: string; uint8?: boolean; ema?: boolean; log?: (m: string) => void } = {}): Promise<ExportResult> {
  const log = o.log ?? (() => {});
  const src = source(target, log);
  const cfg = src.cfg;
  const data = await runData(cfg, { onNote: log });
  const { setup, schedule } = resolveSetup(cfg, data);
  const images = isImage(data);
  if (o.uint8 && !images) throw new Error(`export --uint8: the run generates 2-D points (data '${cfg.data}'), not images`);
  const compiler = new StepCompiler(setup);
  const plan = compiler.plan();
  const info = checkpointInfo(cfg, plan);
  const { state, from } = src.load(info);
  const out = resolve(o.out ?? src.defaultOut);
  // Never replace an export with an older iteration.
  const held = iterationOf(join(out, 'training', ARTIFACT_FILES.checkpoint));
  if (held !== null && held > state.iteration)
    throw new Error(`export: ${out} holds iteration ${held}, newer than iteration ${state.iteration} of ${from}; export that (onnx-gan export ${join(out, 'training', ARTIFACT_FILES.checkpoint)}) or pass --out to write elsewhere`);

  const shape = compiler.sampleShape;
  const pack = compiler.pack;
  const dIn = setup.critic.inputShape;
  const classes = plan.classes ? classNames(plan.classes, data.classes) : undefined;
  const common: Record<string, string> = { 'onnx-gan.version': VERSION, loss: cfg.loss, data: cfg.data, step: String(state.iteration) };
  const gen = compiler.generatorWeights(state, { ema: o.ema });
  if (classes) Object.assign(common, { classes: JSON.stringify(classes), conditioning: cfg.conditional!, label_input: `${CLASS_INPUT}: int64 [N], each sample's class, an index into classes` });
  const aux = setup.critic.auxClasses ?? 0;
  const conditionalDoc = classes ? ` and ${CLASS_INPUT} [N] int64 in 0..${classes.length - 1}` : '';
  const gMeta = {
    ...common,
    role: 'generator',
    latent_size: String(compiler.latent),
    latent_distribution: 'normal(0, 1), float32, shape [N, latent_size]',
    output_layout: images ? `[N, ${shape.join(', ')}] float32 (NCHW)` : `[N, ${shape.join(', ')}] float32`,
    output_range: images ? '[-1, 1] (tanh); pixel = (x + 1) * 127.5' : 'unbounded (2-D points)',
    weights: o.ema ?? compiler.averaged ? `the exponential moving average of the generator's weights (decay ${cfg.ema})` : "the generator's trained weights",
  };
  const dMeta = {
    ...common,
    role: 'critic',
    input_layout: (images ? `[N, ${dIn.join(', ')}] float32 (NCHW), pixels scaled to [-1, 1]` : `[N, ${dIn.join(', ')}] float32`) + (pack > 1 ? `: ${pack} samples side by side on axis 1 (PacGAN packing)` : ''),
    output_layout: aux ? `[N, ${1 + aux}] float32: the score, then the auxiliary classifier's ${aux} class logits` : '[N, 1] float32',
    output_meaning: `the critic's score under the '${cfg.loss}' loss (a logit for ns/minimax/dragan/r1/r2, unbounded for Wasserstein and hinge critics); higher means more real`,
  };
  const version = { producerVersion: VERSION };
  const g = await inferenceModel(setup.generator, compiler.layoutG, gen.params, gen.states, { input: 'z', output: 'samples', doc: `onnx-gan generator: z [N, ${compiler.latent}] ~ N(0, 1)${conditionalDoc} -> samples` }, { metadata: gMeta, ...version }, evaluate);
  const d = await inferenceModel(setup.critic, compiler.layoutD, state.D.params, state.states, { input: 'x', output: 'score', doc: `onnx-gan critic: samples [N, ${dIn.join(', ')}]${setup.critic.classes ? conditionalDoc : ''} -> score [N, ${1 + aux}]` }, { metadata: dMeta, ...version }, evaluate);
  const w = weightsSafetensors(state, { G: compiler.layoutG, D: compiler.layoutD }, info.slots, { ...common, config: JSON.stringify(cfg) });
  const training = packArtifacts({ ...plan, sampler: compiler.sampler({ ema: o.ema }) }, state, info, { producer: `onnx-gan ${VERSION}`, data: cfg.data, seed: cfg.seed, schedule, config: cfg, classes });
  const files: [string, Uint8Array][] = [['generator.onnx', g.bytes], ['critic.onnx', d.bytes], ['weights.safetensors', w], ...Object.entries(training).map(([n, b]): [string, Uint8Array] => [join('training', n), b])];
  const py = pytorchModule(setup.generator, setup.critic, classes);
  if (py) files.splice(3, 0, ['model.py', new TextEncoder().encode(py)]);
  if (o.uint8) {
    const [, h, wd] = shape;
    const u8Meta = { ...gMeta, output_layout: `[N, 3, ${h}, ${wd}] uint8 (NCHW, grey repeated to RGB)`, output_range: '[0, 255]' };
    const doc = `onnx-gan generator for torch-fidelity: z [N, ${compiler.latent}] ~ N(0, 1)${conditionalDoc} -> uint8 images [N, 3, ${h}, ${wd}]`;
    files.splice(1, 0, ['generator_uint8.onnx', (await inferenceModel(setup.generator, compiler.layoutG, gen.params, gen.states, { input: 'z', output: 'images', doc, post: uint8Rgb }, { metadata: u8Meta, ...version }, evaluate)).bytes]);
  }
  // What OpenCV's DNN importer cannot load, said once per file (every other consumer loads them).
  const notes = ([['generator.onnx', g], ['critic.onnx', d]] as const).filter(([, m]) => m.openCv).map(([name, m]) => `${name}: OpenCV's DNN importer (4.6) cannot load it: ${m.openCv}; onnxruntime, model.py and other ONNX consumers can`);
  for (const n of notes) log(`note: ${n}`);
  const unchanged: string[] = [];
  await withLock(out, 'onnx-gan export', 'export directory', log, () => {
    // Our own folder, not a link someone put in its place.
    ownDir(join(out, 'training'));
    for (const [name, bytes] of files) {
      const file = join(out, name);
      if (existsSync(file) && !lstatSync(file).isSymbolicLink() && Buffer.compare(readFileSync(file), bytes) === 0) unchanged.push(file);
      else writeFileAtomic(file, bytes);
    }
  });
  return { out, iteration: state.iteration, files: files.map(([n]) => join(out, n)), unchanged, notes };
}
