// Training artifacts: one directory that Node and a browser tab both load to keep training. The step graphs
// are plain .onnx files, the state is a checkpoint, and artifacts.json says how to feed them (names, sizes,
// random draws, the critic schedule). Pure code over bytes: the caller supplies a reader (fs or fetch).
import { z } from 'zod';
import { fromBytes } from '../graph/serialize.ts';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointInfo } from './checkpoint.ts';
import type { StepPlan, StepProgram } from './step.ts';
import type { CriticSchedule, TrainState } from './trainer.ts';

export const ARTIFACTS_FORMAT = 'onnx-gan-artifacts/1';

export const ARTIFACT_FILES = {
  manifest: 'artifacts.json',
  critic: 'critic_step.onnx',
  generator: 'generator_step.onnx',
  sampler: 'sampler.onnx',
  checkpoint: 'checkpoint.safetensors',
  config: 'config.json',
} as const;

export class ArtifactsError extends Error {}

const dims = z.array(z.number().int().nonnegative());
const program = z.object({
  role: z.enum(['critic', 'generator']),
  stateIn: z.array(z.string()),
  stateOut: z.array(z.string()),
  randoms: z.array(z.object({ name: z.string(), dist: z.enum(['normal', 'uniform']), shape: dims })),
  logs: z.array(z.string()),
});
const net = z.object({ size: z.number().int().positive(), slots: z.array(z.string()) });

const ManifestSchema = z.object({
  format: z.literal(ARTIFACTS_FORMAT),
  producer: z.string(),
  data: z.string(),
  seed: z.number().int().nonnegative(),
  schedule: z.object({ base: z.number().int().positive(), wgan: z.boolean() }),
  batch: z.number().int().positive(),
  latent: z.number().int().positive(),
  sampleShape: dims,
  nets: z.object({ G: net, D: net }),
  states: z.array(z.object({ name: z.string(), shape: dims })),
  programs: z.object({ critic: program, generator: program }),
  /** States the sampler reads (batch norm's running statistics). */
  samplerStates: z.array(z.string()),
  checkpoint: z.object({
    config: z.string(),
    slots: z.object({ G: z.array(z.string()), D: z.array(z.string()) }),
    states: z.array(z.object({ name: z.string(), size: z.number().int().nonnegative() })),
  }),
});

export type ArtifactsManifest = z.infer<typeof ManifestSchema>;

export interface RunInfo {
  producer: string;
  data: string;
  seed: number;
  schedule: CriticSchedule;
  /** The run's full configuration, written as config.json. */
  config: unknown;
}

const info = ({ role, stateIn, stateOut, randoms, logs }: StepProgram) => ({ role: role as 'critic' | 'generator', stateIn, stateOut, randoms, logs });

/** Every file of the artifacts directory, by name. */
export function packArtifacts(plan: StepPlan, state: TrainState, ckpt: CheckpointInfo, run: RunInfo): Record<string, Uint8Array> {
  const manifest: ArtifactsManifest = {
    format: ARTIFACTS_FORMAT,
    producer: run.producer,
    data: run.data,
    seed: run.seed,
    schedule: run.schedule,
    batch: plan.batch,
    latent: plan.latent,
    sampleShape: plan.sampleShape,
    nets: plan.nets,
    states: plan.states,
    programs: { critic: info(plan.critic), generator: info(plan.generator) },
    samplerStates: plan.sampler.stateIn,
    checkpoint: ckpt,
  };
  const text = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');
  return {
    [ARTIFACT_FILES.manifest]: text(manifest),
    [ARTIFACT_FILES.critic]: plan.critic.model,
    [ARTIFACT_FILES.generator]: plan.generator.model,
    [ARTIFACT_FILES.sampler]: plan.sampler.model,
    [ARTIFACT_FILES.checkpoint]: encodeCheckpoint(state, ckpt),
    [ARTIFACT_FILES.config]: text(run.config),
  };
}

export interface LoadedArtifacts {
  manifest: ArtifactsManifest;
  plan: StepPlan;
  state: TrainState;
  config: Record<string, unknown>;
}

/** Read and check a whole artifacts directory; every problem is one line naming the file at fault. */
export async function loadArtifacts(read: (file: string) => Promise<Uint8Array>, where = 'artifacts'): Promise<LoadedArtifacts> {
  const get = async (file: string) => {
    try {
      return await read(file);
    } catch (e) {
      throw new ArtifactsError(`${where}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]}`);
    }
  };
  const json = (file: string, bytes: Uint8Array): unknown => {
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new ArtifactsError(`${where}/${file} is not JSON: ${(e as Error).message.split('\n')[0]}`);
    }
  };
  const raw = json(ARTIFACT_FILES.manifest, await get(ARTIFACT_FILES.manifest));
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ArtifactsError(`${where}/${ARTIFACT_FILES.manifest}: ${issue.path.length ? `'${issue.path.join('.')}': ` : ''}${issue.message}`);
  }
  const manifest = parsed.data;
  const [critic, generator, sampler, ckpt, cfg] = await Promise.all(
    [ARTIFACT_FILES.critic, ARTIFACT_FILES.generator, ARTIFACT_FILES.sampler, ARTIFACT_FILES.checkpoint, ARTIFACT_FILES.config].map(get),
  );
  const sizes: Record<string, number> = { 'G.params': manifest.nets.G.size, 'D.params': manifest.nets.D.size };
  for (const [file, bytes] of [[ARTIFACT_FILES.critic, critic], [ARTIFACT_FILES.generator, generator], [ARTIFACT_FILES.sampler, sampler]] as const) {
    let inputs;
    try {
      inputs = fromBytes(bytes).graph.inputs;
    } catch (e) {
      throw new ArtifactsError(`${where}/${file}: ${(e as Error).message}`);
    }
    // The graphs and the manifest must describe the same model: the parameter vectors' sizes say so.
    for (const v of inputs)
      if (v.name in sizes && v.shape?.[0] !== sizes[v.name])
        throw new ArtifactsError(`${where}/${file}: input ${v.name} has shape [${v.shape}], ${ARTIFACT_FILES.manifest} says [${sizes[v.name]}]`);
  }
  let state: TrainState;
  try {
    state = decodeCheckpoint(ckpt, manifest.checkpoint, `${where}/${ARTIFACT_FILES.checkpoint}`);
  } catch (e) {
    throw new ArtifactsError((e as Error).message);
  }
  const config = json(ARTIFACT_FILES.config, cfg);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ArtifactsError(`${where}/${ARTIFACT_FILES.config} is not a JSON object`);
  const plan: StepPlan = {
    batch: manifest.batch,
    latent: manifest.latent,
    sampleShape: manifest.sampleShape,
    nets: manifest.nets,
    states: manifest.states,
    critic: { ...manifest.programs.critic, model: critic },
    generator: { ...manifest.programs.generator, model: generator },
    sampler: { model: sampler, stateIn: manifest.samplerStates },
  };
  return { manifest, plan, state, config: config as Record<string, unknown> };
}
