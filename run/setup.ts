// A run's config resolved into what trains: the pair of networks (built or imported), the critic schedule
// and the identity its checkpoints carry.
import { lossEntry } from '../losses/index.ts';
import { spectralNorm } from '../models/spectral.ts';
import { readFileSync } from 'node:fs';
import { importedModel, importWarnings, type ImportFacts, type Role } from '../models/imported.ts';
import type { CheckpointInfo } from '../training/checkpoint.ts';
import type { GanSetup } from '../training/step.ts';
import { criticSchedule, type CriticSchedule } from '../training/trainer.ts';
import { flagOf, modelIdentity, type Config } from './config.ts';
import { dcganGan, mlpGan, pacganGan, resnetGan } from '../training/gan-pairs.ts';
import { type Data, isImage, loadData } from '../data/load.ts';
import { DATASETS } from '../data/mixtures.ts';
import { imageCache } from './image-cache.ts';
import { type StepShape } from '../training/step.ts';

export interface ResolvedSetup {
  setup: GanSetup & { warnings: string[] };
  schedule: CriticSchedule;
  nCritic: (it: number) => number;
}

export interface DataHooks {
  /** Images decoded so far while a folder is prepared (not called when the cache has it). */
  onProgress?: (done: number, total: number) => void;
  /** Things to tell the user once (alpha composited, files skipped, cache not written). */
  onNote?: (text: string) => void;
}

const IMAGE_KEYS = ['imageSize', 'resize', 'channels', 'flip', 'strict'] as const;

/** A run's data as its config describes it: image folders prepared through the on-disk cache. */
export async function runData(cfg: Config, hooks: DataHooks = {}): Promise<Data> {
  const given = IMAGE_KEYS.find((k) => cfg[k] !== undefined);
  if (given && Object.hasOwn(DATASETS, cfg.data)) throw new Error(`${flagOf(given)}: applies to image data, not to the 2-D mixture '${cfg.data}'`);
  if (cfg.resize && !cfg.imageSize) throw new Error(`--resize ${cfg.resize}: says how to reach --image-size, which is not given`);
  return loadData(cfg.data, {
    dataSize: cfg.dataSize,
    seed: cfg.seed,
    imageSize: cfg.imageSize,
    resize: cfg.resize,
    channels: cfg.channels as 1 | 3 | undefined,
    flip: cfg.flip,
    strict: cfg.strict,
    cache: imageCache(undefined, hooks.onNote),
    ...hooks,
  });
}

/** A batch draws that many samples (times the packing degree) from the set: more than it holds is a mistake. */
export function checkBatch(cfg: Config, data: Data, batch: number): void {
  const size = isImage(data) ? data.count : cfg.dataSize;
  const drawn = batch * (cfg.pack ?? 1);
  if (size !== undefined && drawn > size) throw new Error(`--batch ${batch}${(cfg.pack ?? 1) > 1 ? ` x --pack ${cfg.pack}` : ''}: more samples per step than the data set '${cfg.data}' holds (${size} ${isImage(data) ? 'images' : 'points'})`);
}

export function resolveSetup(cfg: Config, data: Data): ResolvedSetup {
  const entry = lossEntry(cfg.loss);
  const toy = data.shape.length === 1 && data.shape[0] === 2 ? entry.toy2d : undefined;
  const settings = { ...cfg, lambda: cfg.lambda ?? toy?.lambda };
  // Both networks imported: any image size goes, so the built-in models (DCGAN's sizes) are not built;
  // mlpGan only supplies the loss and optimizers then, with the image batch default.
  const bothImported = !!(cfg.generator && cfg.critic);
  const imageArch = cfg.arch === 'dcgan' || cfg.arch === 'resnet';
  if (cfg.arch && imageArch !== isImage(data)) throw new Error(`--arch ${cfg.arch}: the data set '${cfg.data}' is ${isImage(data) ? 'images (use dcgan or resnet)' : '2-D points (use mlp or pacgan)'}`);
  const classes = cfg.conditional ? conditionalClasses(cfg, data) : undefined;
  if (classes && (cfg.pack ?? 1) > 1) throw new Error(`--pack ${cfg.pack}: a class-conditional critic judges one sample with its class; packing is for unconditional runs`);
  const setup = isImage(data) && !bothImported
    ? (cfg.arch === 'resnet' ? resnetGan : dcganGan)({ ...settings, image: data.shape, classes, conditioning: cfg.conditional })
    : (cfg.arch === 'pacgan' ? pacganGan : mlpGan)({ ...settings, batch: settings.batch ?? (isImage(data) ? 64 : undefined), sampleDims: isImage(data) ? 1 : data.shape[0] });
  let freeze: RegExp | undefined;
  try {
    freeze = cfg.freeze ? new RegExp(cfg.freeze) : undefined;
  } catch {
    throw new Error(`--freeze: '${cfg.freeze}' is not a regular expression`);
  }
  const load = (path: string, role: Role, prefix: string) => {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new Error(`--${role}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return importedModel(bytes, role, { prefix, freeze, source: path });
  };
  const facts: { generator?: ImportFacts; critic?: ImportFacts } = {};
  if (cfg.generator) {
    const m = load(cfg.generator, 'generator', 'G');
    setup.generator = m;
    facts.generator = m.facts;
  }
  if (cfg.critic) {
    const m = load(cfg.critic, 'critic', 'D');
    setup.critic = setup.spectralNorm ? spectralNorm(m) : m;
    facts.critic = m.facts;
  }
  setup.warnings.push(...importWarnings(facts, cfg.loss, setup.penalties[0]?.name ?? null));
  if (cfg.emaStart !== undefined && cfg.ema === undefined) throw new Error(`--ema-start ${cfg.emaStart}: starts an average that --ema DECAY does not ask for`);
  if (cfg.ema !== undefined) setup.ema = { decay: cfg.ema, start: cfg.emaStart ?? 0 };
  for (const k of ['augmentP', 'augmentTarget'] as const) if (cfg[k] !== undefined && !cfg.augment) throw new Error(`${flagOf(k)} ${cfg[k]}: applies with --augment, which is not given`);
  if (cfg.augmentTarget !== undefined && cfg.augmentP !== 'auto') throw new Error(`--augment-target ${cfg.augmentTarget}: the target of the adaptive probability (--augment-p auto)`);
  if (cfg.augment && !isImage(data)) throw new Error(`--augment ${cfg.augment.join(',')}: augmentation transforms images; the data set '${cfg.data}' is 2-D points`);
  if (cfg.augment) setup.augment = { kinds: cfg.augment, p: cfg.augmentP ?? 1, target: cfg.augmentTarget ?? 0.6 };
  if (cfg.penaltyEvery !== undefined && cfg.penaltyEvery > 1) {
    if (!setup.penalties.some((p) => !p.states)) throw new Error(`--penalty-every ${cfg.penaltyEvery}: the loss '${cfg.loss}' has no gradient penalty to apply lazily (give one with --penalty r1|r2|gp|lp|dragan)`);
    if (cfg.shards > 1) throw new Error(`--penalty-every ${cfg.penaltyEvery}: data-parallel shards (--shards ${cfg.shards}) run the penalty on every critic step; lazy regularization runs in one process`);
    setup.penaltyEvery = cfg.penaltyEvery;
  }
  const schedule = { base: cfg.nCritic ?? entry.defaults.nCritic, wgan: cfg.wganSchedule };
  return { setup, schedule, nCritic: criticSchedule(schedule) };
}

/** The class count of a conditional run, after checking that its data and models can be conditional. */
function conditionalClasses(cfg: Config, data: Data): number {
  const flag = `--conditional ${cfg.conditional}`;
  if (!isImage(data)) throw new Error(`${flag}: the data set '${cfg.data}' is not images; class-conditional models are image models`);
  if (cfg.generator || cfg.critic) throw new Error(`${flag}: imported models (--generator, --critic) cannot be made class-conditional`);
  if (!data.classes) throw new Error(`${flag}: the data set '${cfg.data}' has no labels (an IDX file needs its *-labels-idx1-ubyte[.gz] beside it, a PNG folder one subfolder per class)`);
  if (data.classes.length < 2) throw new Error(`${flag}: the data set '${cfg.data}' has ${data.classes.length} class; conditioning needs at least 2`);
  return data.classes.length;
}

/** What identifies a run's checkpoints: its settings, optimizer slots and carried states. */
export function checkpointInfo(cfg: Config, plan: StepShape): CheckpointInfo {
  return {
    config: modelIdentity(cfg),
    slots: { G: plan.nets.G.slots, D: plan.nets.D.slots },
    states: plan.states.map((s) => ({ name: s.name, size: s.shape.reduce((a, b) => a * b, 1) })),
  };
}


