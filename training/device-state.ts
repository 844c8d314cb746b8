// Training state that stays in device memory between runs (WebGPU). A run's updated parameters,
// optimizer slots and carried states are kept where they were computed and fed to the next run as they
// are; the host's TrainState holds an empty stand-in for each until pull() downloads it, which the run
// loop does only to checkpoint and at its end. A host array that replaced a stand-in (a rollback, a
// loaded checkpoint) is uploaded by the next run and its device copy dropped.
import { onDevice, type DeviceTensor, type Feeds, type Tensor, type Session } from '../runtime/runtime.ts';
import { names } from './tensor-names.ts';
import { stateArray, type ProgramState, type Signature, type TensorSpec, type Absorbed, absorb, feedsOf } from './signature.ts';

const CARRIED = new Set(['param', 'slot', 'state']);

/** One name for a state's input and its updated output. */
const keyOf = (s: TensorSpec) => (s.role === 'param' ? names.param(s.net!) : s.role === 'slot' ? names.slot(s.net!, s.slot!) : names.state(s.state!));

/** The outputs a program should leave on the device: everything it carries to the next run. */
export const carriedOutputs = (sig: Signature): string[] => sig.outputs.filter((s) => CARRIED.has(s.role)).map((s) => s.name);

interface Kept {
  tensor: DeviceTensor;
  /** The array standing for it in the host state (empty, or its downloaded copy). */
  stand: Float32Array;
  at: ReturnType<typeof stateArray>;
}

export class DeviceState {
  private readonly kept = new Map<string, Kept>();

  /** One run of a program over `state`: feeds from it (device copies where they are current), results into it. */
  async run(session: Session, sig: Signature, state: ProgramState, given: Record<string, Float32Array>): Promise<Absorbed> {
    const out = await session.runKeeping(this.feeds(sig, feedsOf(sig, state, given)));
    return absorb(sig, this.keep(sig, out), state);
  }

  /** A run's feeds with every input whose host array still stands for a device copy replaced by that copy. */
  feeds(sig: Signature, host: Feeds): Record<string, Tensor> {
    const out: Record<string, Tensor> = { ...host };
    for (const spec of sig.inputs) {
      if (!CARRIED.has(spec.role)) continue;
      const k = this.kept.get(keyOf(spec));
      if (!k) continue;
      if (host[spec.name].data === k.stand) out[spec.name] = k.tensor;
      else this.drop(keyOf(spec));
    }
    return out;
  }

  /** Keep a run's device outputs; returns host feeds where each kept output is its stand-in, for absorb(). */
  keep(sig: Signature, out: Record<string, Tensor>): Feeds {
    const host: Feeds = {};
    for (const spec of sig.outputs) {
      const t = out[spec.name];
      if (!t || !onDevice(t)) {
        if (t) host[spec.name] = t;
        continue;
      }
      if (!CARRIED.has(spec.role)) throw new Error(`${sig.program}: output '${spec.name}' (${spec.role}) came back on the device`);
      const key = keyOf(spec);
      this.drop(key);
      const stand = new Float32Array(0);
      this.kept.set(key, { tensor: t, stand, at: stateArray(sig, spec) });
      host[spec.name] = { dtype: t.dtype, dims: t.dims.slice(), data: stand };
    }
    return host;
  }

  /** Download every kept tensor whose stand-in is still in `state`, and put the data in its place. */
  async pull(state: ProgramState): Promise<void> {
    for (const k of this.kept.values()) {
      if (k.at.get(state) !== k.stand || k.stand.length) continue;
      const data = (await k.tensor.download()).data as Float32Array;
      k.at.set(state, data);
      // The device copy still holds the same values: later runs go on feeding it.
      k.stand = data;
    }
  }

  private drop(key: string): void {
    this.kept.get(key)?.tensor.dispose();
    this.kept.delete(key);
  }

  release(): void {
    for (const key of [...this.kept.keys()]) this.drop(key);
  }
}
