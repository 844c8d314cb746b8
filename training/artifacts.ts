// Training artifacts: one directory that Node and a browser tab both load to keep training. The step
// programs are plain .onnx files, the state is a checkpoint, and artifacts.json holds each program's
// signature as the compiler wrote it, the critic schedule and the data set. Pure code over bytes: the
// caller supplies a reader (fs or fetch).
import { z } from 'zod';
import { fromBytes } from '../graph/serialize.ts';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointInfo } from './checkpoint.ts';
import type { Signature } from './signature.ts';
import type { StepPlan } from './step.ts';
import type { CriticSchedule, TrainState } from './trainer.ts';
import { SignatureSchema } from './signature.ts';

export const ARTIFACTS_FORMAT = 'onnx-gan-artifacts/2';

export const ARTIFACT_FILES = {
  manifest: 'artifacts.json',
  critic: 'critic_step.onnx',
  /** With lazy regularization only: the critic step without its gradient penalties. */
  criticLazy: 'critic_step_lazy.onnx',
  generator: 'generator_step.onnx',
  sampler: 'sampler.onnx',
  checkpoint: 'checkpoint.safetensors',
  config: 'config.json',
} as const;

export class ArtifactsError extends Error {}

const dims = z.array(z.number().int().nonnegative());
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
  /** A class-conditional generator's class names, in label order; empty if unconditional. */
  classes: z.array(z.string()),
  nets: z.object({ G: net, D: net }),
  states: z.array(z.object({ name: z.string(), shape: dims })),
  programs: z.object({ critic: SignatureSchema, generator: SignatureSchema, sampler: SignatureSchema }),
  /** Lazy regularization: the penalties on every `every`-th critic update, critic_step_lazy.onnx between. */
  lazy: z.object({ every: z.number().int().min(2), critic: SignatureSchema }).optional(),
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
  /** Class names of a conditional run's data set (label order). */
  classes?: string[];
}

/** The names of a plan's classes: the data set's, or the label numbers. */
export function classNames(count: number, names?: string[]): string[] {
  if (names && names.length !== count) throw new Error(`the generator is conditional on ${count} classes, the data set names ${names.length}`);
  return names ?? Array.from({ length: count }, (_, i) => String(i));
}

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
    classes: classNames(plan.classes, run.classes),
    nets: plan.nets,
    states: plan.states,
    programs: { critic: plan.critic.signature, generator: plan.generator.signature, sampler: plan.sampler.signature },
    ...(plan.lazy ? { lazy: { every: plan.lazy.every, critic: plan.lazy.critic.signature } } : {}),
    checkpoint: ckpt,
  };
  const text = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');
  return {
    [ARTIFACT_FILES.manifest]: text(manifest),
    [ARTIFACT_FILES.critic]: plan.critic.model,
    ...(plan.lazy ? { [ARTIFACT_FILES.criticLazy]: plan.lazy.critic.model } : {}),
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
  const format = (raw as { format?: unknown })?.format;
  if (typeof format === 'string' && format.startsWith('onnx-gan-artifacts/') && format !== ARTIFACTS_FORMAT)
    throw new ArtifactsError(`${where}/${ARTIFACT_FILES.manifest}: format '${format}' is not this version's '${ARTIFACTS_FORMAT}'; export the run again with onnx-gan export <run> (its checkpoints load as they are)`);
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ArtifactsError(`${where}/${ARTIFACT_FILES.manifest}: ${issue.path.length ? `'${issue.path.join('.')}': ` : ''}${issue.message}`);
  }
  const manifest = parsed.data;
  const [critic, generator, sampler, ckpt, cfg] = await Promise.all(
    [ARTIFACT_FILES.critic, ARTIFACT_FILES.generator, ARTIFACT_FILES.sampler, ARTIFACT_FILES.checkpoint, ARTIFACT_FILES.config].map(get),
  );
  const lazy = manifest.lazy ? await get(ARTIFACT_FILES.criticLazy) : null;
  const checks: [Uint8Array, Signature, string][] = [
    [critic, manifest.programs.critic, ARTIFACT_FILES.critic],
    [generator, manifest.programs.generator, ARTIFACT_FILES.generator],
    [sampler, manifest.programs.sampler, ARTIFACT_FILES.sampler],
    ...(lazy && manifest.lazy ? [[lazy, manifest.lazy.critic, ARTIFACT_FILES.criticLazy] as [Uint8Array, Signature, string]] : []),
  ];
  for (const [bytes, sig, file] of checks) {
    let graph;
    try {
      graph = fromBytes(bytes).graph;
    } catch (e) {
      throw new ArtifactsError(`${where}/${file}: ${(e as Error).message}`);
    }
    // The graph and its signature must describe the same program: every input and output, by name and shape.
    const problem = signatureMismatch(sig, graph);
    if (problem) throw new ArtifactsError(`${where}/${file}: ${problem} (${ARTIFACT_FILES.manifest} describes another program)`);
    for (const spec of sig.inputs) {
      const net = spec.role === 'param' ? manifest.nets[spec.net as 'G' | 'D'] : undefined;
      if (spec.role === 'param' && net?.size !== spec.shape[0]) throw new ArtifactsError(`${where}/${ARTIFACT_FILES.manifest}: nets.${spec.net}.size is ${net?.size}, ${file} takes ${spec.name} of ${spec.shape[0]}`);
    }
  }
  let state: TrainState;
  try {
    state = decodeCheckpoint(ckpt, manifest.checkpoint, `${where}/${ARTIFACT_FILES.checkpoint}`);
  } catch (e) {
    throw new ArtifactsError((e as Error).message);
  }
  for (const n of ['G', 'D'] as const)
    if (state[n].params.length !== manifest.nets[n].size) throw new ArtifactsError(`${where}/${ARTIFACT_FILES.checkpoint}: ${n}.params has ${state[n].params.length} values, ${ARTIFACT_FILES.manifest} says ${manifest.nets[n].size}`);
  const config = json(ARTIFACT_FILES.config, cfg);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ArtifactsError(`${where}/${ARTIFACT_FILES.config} is not a JSON object`);
  const plan: StepPlan = {
    batch: manifest.batch,
    latent: manifest.latent,
    sampleShape: manifest.sampleShape,
    classes: manifest.classes.length,
    nets: manifest.nets,
    states: manifest.states,
    critic: { model: critic, signature: manifest.programs.critic },
    generator: { model: generator, signature: manifest.programs.generator },
    sampler: { model: sampler, signature: manifest.programs.sampler },
    ...(lazy && manifest.lazy ? { lazy: { every: manifest.lazy.every, critic: { model: lazy, signature: manifest.lazy.critic } } } : {}),
  };
  return { manifest, plan, state, config: config as Record<string, unknown> };
}

/** Where a graph's inputs or outputs differ from its signature's, or null when they agree. */
function signatureMismatch(sig: Signature, graph: { inputs: { name: string; shape: (number | string | null)[] | null }[]; outputs: { name: string; shape: (number | string | null)[] | null }[] }): string | null {
  for (const side of ['inputs', 'outputs'] as const) {
    const have = new Map(graph[side].map((v) => [v.name, v]));
    if (have.size !== sig[side].length) return `${side === 'inputs' ? 'takes' : 'returns'} ${have.size} values, the signature lists ${sig[side].length}`;
    for (const spec of sig[side]) {
      const v = have.get(spec.name);
      if (!v) return `has no ${side === 'inputs' ? 'input' : 'output'} '${spec.name}'`;
      const fixed = (d: number | string | null | undefined) => (typeof d === 'number' ? d : '?');
      const a = (v.shape ?? []).map(fixed).join(',');
      const b = spec.shape.map(fixed).join(',');
      if (a !== b) return `${side === 'inputs' ? 'input' : 'output'} ${spec.name} has shape [${a}], the signature says [${b}]`;
    }
  }
  return null;
}
