// An exported generator (onnx-gan export's generator.onnx, or any ONNX generator of that form: z [N, latent]
// and, class-conditional, an int64 class [N]) opened for sampling: what the page and the library's
// loadGenerator share. The class names come from the model's metadata, as export writes them.
import { roleIO } from '../models/imported.ts';
import type { Session } from '../runtime/runtime.ts';

export interface ExportedGenerator {
  readonly name: string;
  readonly latent: number;
  /** Per-sample output shape: [2] for points, [C, H, W] for images (values in [-1, 1]). */
  readonly shape: number[];
  /** A class-conditional generator's class names; empty otherwise. */
  readonly classes: string[];
  /** The model's metadata (loss, data, step, classes, ... as export writes them). */
  readonly metadata: Record<string, string>;
  /** Samples for latent vectors z ([n, latent] row-major); a conditional one takes a class per row. */
  generate(z: Float32Array, labels?: ArrayLike<number>): Promise<Float32Array>;
  release(): Promise<void>;
}

function classesOf(metadata: Record<string, string>, hasLabel: boolean, name: string): string[] {
  if (!hasLabel) return [];
  try {
    const names = JSON.parse(metadata.classes ?? 'null');
    if (Array.isArray(names) && names.length && names.every((c) => typeof c === 'string')) return names;
  } catch {
    // fall through: the metadata does not name the classes
  }
  throw new Error(`${name}: the generator takes a class input but its metadata lists no classes (export it with onnx-gan export)`);
}

/** Check the model's inputs and output, then open it with `open` (a runtime's createSession). */
export async function openGenerator(bytes: Uint8Array, name: string, open: (bytes: Uint8Array) => Promise<Session>): Promise<ExportedGenerator> {
  const io = roleIO(bytes, 'generator', name);
  if (io.outputShape.some((d) => d === null)) throw new Error(`${name}: the generator's output has computed dims [${io.outputShape.map((d) => d ?? '?')}]; export it with onnx-gan export`);
  const shape = io.outputShape as number[];
  const classes = classesOf(io.metadata, !!io.label, name);
  const latent = io.inputShape[0];
  const session = await open(bytes);
  return {
    name,
    latent,
    shape,
    classes,
    metadata: io.metadata,
    async generate(z, labels) {
      const n = z.length / latent;
      if (!Number.isInteger(n)) throw new Error(`${name}: z holds ${z.length} values, not a multiple of the latent size ${latent}`);
      const feeds: Parameters<Session['run']>[0] = { [session.inputNames[0]]: { dtype: 'float32', dims: [n, latent], data: z } };
      if (classes.length) {
        if (!labels || labels.length !== n) throw new Error(`${name}: class-conditional; give a class (0..${classes.length - 1}) for each of the ${n} latent vectors`);
        const bad = Array.from(labels).findIndex((l) => !Number.isInteger(l) || l < 0 || l >= classes.length);
        if (bad >= 0) throw new Error(`${name}: class ${labels[bad]} of row ${bad} is not one of the ${classes.length} classes`);
        feeds[session.inputNames[1]] = { dtype: 'int64', dims: [n], data: BigInt64Array.from(Array.from(labels), (l) => BigInt(l)) };
      }
      return (await session.run(feeds))[session.outputNames[0]].data as Float32Array;
    },
    release: () => session.release(),
  };
}
