// `onnx-gan export <run>`: from a run's newest good checkpoint, into <run>/export or --out:
//   generator.onnx, critic.onnx (inference only) and weights.safetensors, for serving and other frameworks
//   (with --uint8, generator_uint8.onnx: uint8 RGB images as torch-fidelity's ONNX wrapper scores them);
//   training/ (step graphs, sampler, checkpoint, config), the artifacts Node and the browser page keep training.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inferenceModel, uint8Rgb, weightsSafetensors } from '../export/model.ts';
import { packArtifacts } from '../training/artifacts.ts';
import { StepCompiler } from '../training/step.ts';
import { parseConfigText } from './config.ts';
import { writeFileAtomic } from './files.ts';
import { checkpointInfo, isImage, loadData, loadLatest, resolveSetup } from './train.ts';

export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

export function exportRun(run: string, outDir?: string, log: (m: string) => void = () => {}, o: { uint8?: boolean } = {}): { files: string[]; iteration: number } {
  const dir = resolve(run);
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new Error(`export: ${dir} is not a run directory (no config.json)`);
  const cfg = parseConfigText(readFileSync(cfgPath, 'utf8'), cfgPath);
  const data = loadData(cfg.data);
  const { setup, schedule } = resolveSetup(cfg, data);
  const images = isImage(data);
  if (o.uint8 && !images) throw new Error(`export --uint8: run ${dir} generates 2-D points (data '${cfg.data}'), not images`);
  const compiler = new StepCompiler(setup);
  const plan = compiler.plan();
  const info = checkpointInfo(cfg, plan);
  const state = loadLatest(dir, info, log, 'export');
  if (!state) throw new Error(`export: ${dir} has no checkpoint yet`);
  const meta: Record<string, string> = {
    'onnx-gan.version': VERSION,
    latent_size: String(compiler.latent),
    latent_distribution: 'normal(0, 1), float32, shape [N, latent_size]',
    output_layout: images ? `[N, ${compiler.sampleShape.join(', ')}] float32 (NCHW)` : `[N, ${compiler.sampleShape.join(', ')}] float32`,
    output_range: images ? '[-1, 1] (tanh); pixel = (x + 1) * 127.5' : 'unbounded (2-D points)',
    loss: cfg.loss,
    data: cfg.data,
    step: String(state.iteration),
  };
  const out = resolve(outDir ?? join(dir, 'export'));
  const g = inferenceModel(setup.generator, compiler.layoutG, state.G.params, state.extra, { input: 'z', output: 'samples', doc: `onnx-gan generator: z [N, ${compiler.latent}] ~ N(0, 1) -> samples` }, { metadata: meta, producerVersion: VERSION });
  const d = inferenceModel(setup.critic, compiler.layoutD, state.D.params, state.extra, { input: 'x', output: 'score', doc: 'onnx-gan critic: samples [N, ...] -> critic output [N, 1]' }, { metadata: meta, producerVersion: VERSION });
  const w = weightsSafetensors(state, { G: compiler.layoutG, D: compiler.layoutD }, info.slots, { ...meta, config: JSON.stringify(cfg) });
  const training = packArtifacts(plan, state, info, { producer: `onnx-gan ${VERSION}`, data: cfg.data, seed: cfg.seed, schedule, config: cfg });
  const files: [string, Uint8Array][] = [['generator.onnx', g], ['critic.onnx', d], ['weights.safetensors', w], ...Object.entries(training).map(([n, b]): [string, Uint8Array] => [join('training', n), b])];
  if (o.uint8) {
    const [, h, wd] = compiler.sampleShape;
    const u8Meta = { ...meta, output_layout: `[N, 3, ${h}, ${wd}] uint8 (NCHW, grey repeated to RGB)`, output_range: '[0, 255]' };
    const doc = `onnx-gan generator for torch-fidelity: z [N, ${compiler.latent}] ~ N(0, 1) -> uint8 images [N, 3, ${h}, ${wd}]`;
    files.splice(1, 0, ['generator_uint8.onnx', inferenceModel(setup.generator, compiler.layoutG, state.G.params, state.extra, { input: 'z', output: 'images', doc, post: uint8Rgb }, { metadata: u8Meta, producerVersion: VERSION })]);
  }
  for (const [name, bytes] of files) writeFileAtomic(join(out, name), bytes);
  return { files: files.map(([n]) => join(out, n)), iteration: state.iteration };
}
