// TensorBoard event files (`tensorboard --logdir runs/` reads a run's): scalars, PNG images and text, each
// an Event protobuf (tensorflow/core/util/event.proto, framework/summary.proto: only the fields written
// here) in a TFRecord: length (uint64 LE), its masked CRC-32C, the bytes, their masked CRC-32C. A resumed
// run appends a new file that starts with SessionLog START at the resumed step, which makes TensorBoard
// drop what the earlier file logged past it: the curves read as one run, as metrics.jsonl does.
import { crc32c } from '@aws-crypto/crc32c';
import { hostname } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { appendFile } from './files.ts';

const ROOT = protobuf.Root.fromJSON({
  nested: {
    Event: {
      fields: {
        wallTime: { type: 'double', id: 1 },
        step: { type: 'int64', id: 2 },
        fileVersion: { type: 'string', id: 3 },
        summary: { type: 'Summary', id: 5 },
        sessionLog: { type: 'SessionLog', id: 6 },
      },
    },
    SessionLog: { fields: { status: { type: 'int32', id: 1 }, msg: { type: 'string', id: 3 } } },
    Summary: {
      fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
      nested: {
        Image: { fields: { height: { type: 'int32', id: 1 }, width: { type: 'int32', id: 2 }, colorspace: { type: 'int32', id: 3 }, encodedImageString: { type: 'bytes', id: 4 } } },
        Value: {
          fields: {
            tag: { type: 'string', id: 1 },
            simpleValue: { type: 'float', id: 2 },
            image: { type: 'Image', id: 4 },
            tensor: { type: 'TensorProto', id: 8 },
            metadata: { type: 'SummaryMetadata', id: 9 },
          },
        },
      },
    },
    SummaryMetadata: { fields: { pluginData: { type: 'PluginData', id: 1 } }, nested: { PluginData: { fields: { pluginName: { type: 'string', id: 1 } } } } },
    TensorProto: { fields: { dtype: { type: 'int32', id: 1 }, tensorShape: { type: 'TensorShapeProto', id: 2 }, stringVal: { rule: 'repeated', type: 'bytes', id: 8 } } },
    TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dim', id: 2 } }, nested: { Dim: { fields: { size: { type: 'int64', id: 1 } } } } },
  },
});
const Event = ROOT.lookupType('Event');

/** TFRecord's checksum: CRC-32C rotated right by 15 and offset, so a CRC of CRCs is not itself a CRC. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

/** One record: length, its masked CRC, the bytes, theirs. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** A PNG's size and TensorBoard colorspace (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) from its IHDR chunk. */
export function pngHeader(png: Uint8Array): { width: number; height: number; colorspace: number } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (png.length < 26 || view.getUint32(12) !== 0x49484452) throw new Error('event image: not a PNG (no IHDR chunk)');
  const colorspace = { 0: 1, 2: 3, 4: 2, 6: 4 }[png[25]];
  if (!colorspace) throw new Error(`event image: PNG color type ${png[25]} (palette) is not one TensorBoard shows`);
  return { width: view.getUint32(16), height: view.getUint32(20), colorspace };
}

/** SessionLog.START: TensorBoard drops what earlier files logged at or after this step. */
const START = 1;
/** TensorFlow's DT_STRING, for text summaries. */
const DT_STRING = 7;

/** How every event file's name starts (TensorFlow's naming, which TensorBoard looks for). */
export const EVENT_FILE_PREFIX = 'events.out.tfevents.';

export interface EventWriter {
  readonly file: string;
  scalars(step: number, values: Record<string, number>): void;
  /** A PNG file's bytes, shown on TensorBoard's Images tab. */
  image(step: number, tag: string, png: Uint8Array): void;
  /** Text (Markdown) on the Text tab: the run's config, for one. */
  text(step: number, tag: string, text: string): void;
  /** The run goes on from `step` again (a rollback): TensorBoard drops what was logged past it. */
  restart(step: number, why: string): void;
}

/**
 * A new event file in `dir` (events.out.tfevents.<seconds>.<host>, as TensorFlow names them); `resumedAt`
 * marks a resumed run's restart. Each event is appended whole, so a kill loses at most the last one.
 */
export function eventWriter(dir: string, o: { resumedAt?: number; clock?: () => number } = {}): EventWriter {
  const clock = o.clock ?? (() => Date.now() / 1000);
  const file = join(dir, `${EVENT_FILE_PREFIX}${Math.floor(clock())}.${hostname().replace(/[^\w.-]/g, '_')}`);
  const write = (fields: Record<string, unknown>) => appendFile(file, tfRecord(Event.encode(Event.create({ wallTime: clock(), ...fields })).finish()));
  const restart = (step: number, msg: string) => write({ step, sessionLog: { status: START, msg } });
  write({ fileVersion: 'brain.Event:2' });
  if (o.resumedAt !== undefined) restart(o.resumedAt, `resumed at step ${o.resumedAt}`);
  return {
    file,
    restart,
    scalars(step, values) {
      const value = Object.entries(values).filter(([, v]) => Number.isFinite(v)).map(([tag, simpleValue]) => ({ tag, simpleValue }));
      if (value.length) write({ step, summary: { value } });
    },
    image(step, tag, png) {
      write({ step, summary: { value: [{ tag, image: { ...pngHeader(png), encodedImageString: png } }] } });
    },
    text(step, tag, text) {
      const tensor = { dtype: DT_STRING, tensorShape: { dim: [{ size: 1 }] }, stringVal: [new TextEncoder().encode(text)] };
      write({ step, summary: { value: [{ tag, tensor, metadata: { pluginData: { pluginName: 'text' } } }] } });
    },
  };
}
